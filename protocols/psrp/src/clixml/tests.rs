#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation
)]
use super::*;
use crate::limits::MAX_CLIXML_DEPTH;

fn round_trip(v: &ClixmlValue) -> ClixmlValue {
    parse(&to_string(v)).unwrap().unwrap()
}

#[rstest::rstest]
#[case(ClixmlValue::Nil, "<Nil />")]
#[case(ClixmlValue::S("a<b>&\n".into()), "<S>a&lt;b&gt;&amp;_x000A_</S>")]
#[case(ClixmlValue::S(String::new()), "<S />")]
#[case(ClixmlValue::C(97), "<C>97</C>")]
#[case(ClixmlValue::B(true), "<B>true</B>")]
#[case(ClixmlValue::DT("2018-06-13T23:46:28.00516+00:00".into()), "<DT>2018-06-13T23:46:28.00516+00:00</DT>")]
#[case(ClixmlValue::TS("PT9.0269026S".into()), "<TS>PT9.0269026S</TS>")]
#[case(ClixmlValue::By(255), "<By>255</By>")]
#[case(ClixmlValue::SB(-1), "<SB>-1</SB>")]
#[case(ClixmlValue::U16(65535), "<U16>65535</U16>")]
#[case(ClixmlValue::I16(-2), "<I16>-2</I16>")]
#[case(ClixmlValue::U32(7), "<U32>7</U32>")]
#[case(ClixmlValue::I32(-100), "<I32>-100</I32>")]
#[case(ClixmlValue::U64(u64::MAX), "<U64>18446744073709551615</U64>")]
#[case(ClixmlValue::I64(i64::MIN), "<I64>-9223372036854775808</I64>")]
#[case(ClixmlValue::Sg("1.5".into()), "<Sg>1.5</Sg>")]
#[case(ClixmlValue::Db("1E+300".into()), "<Db>1E+300</Db>")]
#[case(ClixmlValue::D("1.00".into()), "<D>1.00</D>")]
#[case(ClixmlValue::BA(vec![1, 2, 3]), "<BA>AQID</BA>")]
#[case(ClixmlValue::G("792e5b37-4505-47ef-b7d2-8711bb7affa8".into()), "<G>792e5b37-4505-47ef-b7d2-8711bb7affa8</G>")]
#[case(ClixmlValue::URI("http://x/".into()), "<URI>http://x/</URI>")]
#[case(ClixmlValue::Version("2.3".into()), "<Version>2.3</Version>")]
#[case(ClixmlValue::XD("&lt;a/&gt;".into()), "<XD>&amp;lt;a/&amp;gt;</XD>")]
#[case(ClixmlValue::SBK("Get-Date".into()), "<SBK>Get-Date</SBK>")]
#[case(ClixmlValue::SS("AAAA".into()), "<SS>AAAA</SS>")]
#[case(ClixmlValue::Ref("3".into()), "<Ref RefId=\"3\" />")]
#[case(ClixmlValue::SemanticVersion("7.4.0".into()), "<SemanticVersion>7.4.0</SemanticVersion>")]
#[case(ClixmlValue::PR(vec![
    PrField { tag: "AV".into(), text: Some("act".into()) },
    PrField { tag: "AI".into(), text: Some("0".into()) },
    PrField { tag: "Nil".into(), text: None },
]), "<PR><AV>act</AV><AI>0</AI><Nil /></PR>")]
fn every_primitive_writes_and_reads_back(#[case] v: ClixmlValue, #[case] xml: &str) {
    assert_eq!(to_string(&v), xml);
    assert_eq!(parse(xml).unwrap().unwrap(), v);
}

#[test]
fn complex_objects_round_trip_with_tnref_and_containers() {
    let inner = ClixmlObject::enum_value(&["E", "System.Enum"], "Two", 2);
    let again = ClixmlObject::enum_value(&["E", "System.Enum"], "One", 1);
    let obj = ClixmlObject {
        type_names: Some(vec!["T".into()]),
        to_string: Some("ts".into()),
        props: vec![Property::new("p", ClixmlValue::I32(1))],
        ms: vec![
            Property::new("a", ClixmlValue::obj(inner)),
            Property::new("b", ClixmlValue::obj(again)),
            Property::new(
                "d",
                ClixmlValue::obj(ClixmlObject {
                    container: Some(Container::DCT(vec![DictEntry {
                        key: ClixmlValue::S("k".into()),
                        value: ClixmlValue::Nil,
                    }])),
                    ..Default::default()
                }),
            ),
            Property::new(
                "l",
                ClixmlValue::obj(ClixmlObject::list(&["L"], vec![ClixmlValue::I32(1)])),
            ),
            Property::new(
                "q",
                ClixmlValue::obj(ClixmlObject {
                    container: Some(Container::QUE(vec![])),
                    ..Default::default()
                }),
            ),
            Property::new(
                "s",
                ClixmlValue::obj(ClixmlObject {
                    container: Some(Container::STK(vec![])),
                    ..Default::default()
                }),
            ),
            Property::new(
                "i",
                ClixmlValue::obj(ClixmlObject {
                    container: Some(Container::IE(vec![])),
                    ..Default::default()
                }),
            ),
        ],
        ..Default::default()
    };
    let xml = to_string(&ClixmlValue::obj(obj));
    assert!(xml.contains("<TNRef RefId=\"1\" />"), "{xml}");
    assert!(
        xml.starts_with("<Obj RefId=\"0\"><TN RefId=\"0\"><T>T</T></TN><ToString>ts</ToString>"),
        "{xml}"
    );
    let back = parse(&xml).unwrap().unwrap();
    assert_eq!(to_string(&back), xml);
    assert_eq!(back.prop("b").unwrap().as_i64(), Some(1));
    assert_eq!(
        back.prop("b")
            .unwrap()
            .as_object()
            .unwrap()
            .type_names
            .as_ref()
            .unwrap()[0],
        "E"
    );
    let json = serde_json::to_value(&back).unwrap();
    let from_json: ClixmlValue = serde_json::from_value(json).unwrap();
    assert_eq!(from_json, back);
}

#[test]
fn property_names_are_escaped() {
    let v = ClixmlValue::obj(ClixmlObject::with_ms(vec![Property::new(
        "a b\t\"",
        ClixmlValue::Nil,
    )]));
    let xml = to_string(&v);
    assert_eq!(
        xml,
        "<Obj RefId=\"0\"><MS><Nil N=\"a b_x0009_&quot;\" /></MS></Obj>"
    );
    assert_eq!(to_string(&round_trip(&v)), xml);
}

#[test]
fn depth_limit_at_n_and_n_plus_one() {
    let n = MAX_CLIXML_DEPTH.max as usize;
    let ok = format!("{}{}", "<Obj>".repeat(n), "</Obj>".repeat(n));
    assert!(parse(&ok).is_ok());
    let over = format!("{}{}", "<Obj>".repeat(n + 1), "</Obj>".repeat(n + 1));
    assert!(matches!(parse(&over), Err(ClixmlError::TooDeep { .. })));
}

#[rstest::rstest]
#[case("<S>unclosed", "malformed")]
#[case("<S>a</S><S>b</S>", "more than one")]
#[case("<Foo />", "unknown element")]
#[case("<I32>x</I32>", "not a valid value")]
#[case("<B>yes</B>", "not a valid value")]
#[case("<BA>!!</BA>", "not a valid value")]
#[case("<Obj><TNRef RefId=\"9\" /></Obj>", "TNRef")]
#[case("<Obj><DCT><En><S>k</S></En></DCT></Obj>", "Key or Value")]
#[case("<S>a</T>", "malformed")]
#[case("text", "outside")]
#[case("<Ref />", "RefId")]
fn bad_clixml_is_a_typed_error(#[case] xml: &str, #[case] reason: &str) {
    let e = parse(xml).unwrap_err();
    assert!(e.to_string().contains(reason), "{e}");
}

#[test]
fn empty_data_is_none_and_truncations_fail() {
    assert_eq!(parse("").unwrap(), None);
    assert_eq!(
        parse("\u{feff}<S>x</S>").unwrap(),
        Some(ClixmlValue::S("x".into()))
    );
    assert_eq!(parse("  ").unwrap(), None);
    let xml = "<Obj RefId=\"0\"><MS><I32 N=\"x\">1</I32></MS></Obj>";
    for n in 1..xml.len() {
        let r = parse(&xml[..n]);
        assert!(r.is_err() || r.unwrap().is_none(), "prefix {n}");
    }
}

#[test]
fn node_limit_at_n_and_n_plus_one() {
    let n = crate::limits::MAX_CLIXML_NODES.max as usize;
    // <Obj> + <LST> + (n - 2) × <Nil /> = n elements.
    let ok = format!("<Obj><LST>{}</LST></Obj>", "<Nil />".repeat(n - 2));
    assert!(parse(&ok).is_ok());
    let over = format!("<Obj><LST>{}</LST></Obj>", "<Nil />".repeat(n - 1));
    assert!(matches!(parse(&over), Err(ClixmlError::TooManyNodes { .. })));
}

/// `into_json` is the serde form exactly, key order included (compared as JSON text, since map
/// equality ignores order).
#[test]
fn into_json_is_the_serde_form() {
    let obj = ClixmlObject {
        ref_id: Some("4".into()),
        type_names: Some(vec!["A.B".into(), "System.Object".into()]),
        tn_ref_id: Some("0".into()),
        tn_is_ref: true,
        to_string: Some("text".into()),
        value: Some(ClixmlValue::I32(-3)),
        container: Some(Container::DCT(vec![DictEntry {
            key: ClixmlValue::S("k".into()),
            value: ClixmlValue::obj(ClixmlObject::list(
                &["L"],
                vec![ClixmlValue::Nil, ClixmlValue::B(false)],
            )),
        }])),
        props: vec![Property::new("p", ClixmlValue::BA(vec![0, 255]))],
        ms: vec![Property::new(
            "m",
            ClixmlValue::PR(vec![
                PrField {
                    tag: "AV".into(),
                    text: Some("x".into()),
                },
                PrField {
                    tag: "Nil".into(),
                    text: None,
                },
            ]),
        )],
    };
    let values = vec![
        ClixmlValue::Nil,
        ClixmlValue::S("a\u{0}é".into()),
        ClixmlValue::C(97),
        ClixmlValue::B(true),
        ClixmlValue::DT("d".into()),
        ClixmlValue::TS("t".into()),
        ClixmlValue::By(255),
        ClixmlValue::SB(-128),
        ClixmlValue::U16(65535),
        ClixmlValue::I16(-2),
        ClixmlValue::U32(u32::MAX),
        ClixmlValue::I32(i32::MIN),
        ClixmlValue::U64(u64::MAX),
        ClixmlValue::I64(i64::MIN),
        ClixmlValue::I64(5),
        ClixmlValue::Sg("1.5".into()),
        ClixmlValue::Db("1E+300".into()),
        ClixmlValue::D("1.00".into()),
        ClixmlValue::BA(vec![]),
        ClixmlValue::G("g".into()),
        ClixmlValue::URI("u".into()),
        ClixmlValue::Version("2.3".into()),
        ClixmlValue::XD("x".into()),
        ClixmlValue::SBK("s".into()),
        ClixmlValue::SS("AAAA".into()),
        ClixmlValue::SemanticVersion("7.4.0".into()),
        ClixmlValue::Ref("3".into()),
        ClixmlValue::obj(ClixmlObject::default()),
        ClixmlValue::obj(obj.clone()),
        ClixmlValue::obj(ClixmlObject {
            tn_is_ref: false,
            container: Some(Container::QUE(vec![])),
            ..obj.clone()
        }),
        ClixmlValue::obj(ClixmlObject {
            container: Some(Container::IE(vec![ClixmlValue::I32(1)])),
            ..obj.clone()
        }),
        ClixmlValue::obj(ClixmlObject {
            container: Some(Container::STK(vec![ClixmlValue::obj(obj.clone())])),
            ..obj
        }),
    ];
    for v in values {
        let want = serde_json::to_string(&serde_json::to_value(&v).unwrap()).unwrap();
        assert_eq!(serde_json::to_string(&v.clone().into_json()).unwrap(), want);
    }
}

/// Fuzz finding F2 (docs/fuzzing.md): every type kept as text reads back exactly what was written,
/// whatever the text: `_x` sequences, characters outside the BMP, control characters, whitespace.
#[test]
fn text_kept_types_round_trip_any_text() {
    let texts = ["é😀\u{202e}", " 1.5 ", "_x0041_", "a\u{1}b", "\t", "<&>\"'"];
    let makers: [fn(String) -> ClixmlValue; 12] = [
        ClixmlValue::S,
        ClixmlValue::SBK,
        ClixmlValue::XD,
        ClixmlValue::DT,
        ClixmlValue::TS,
        ClixmlValue::Sg,
        ClixmlValue::Db,
        ClixmlValue::D,
        ClixmlValue::G,
        ClixmlValue::URI,
        ClixmlValue::Version,
        ClixmlValue::SemanticVersion,
    ];
    for text in texts {
        for make in makers {
            let v = make(text.to_owned());
            assert_eq!(round_trip(&v), v, "{}", to_string(&v));
        }
        let ss = ClixmlValue::SS(text.to_owned());
        assert_eq!(round_trip(&ss), ss);
        // Fuzz finding F3: attribute values (RefId) too.
        let r = ClixmlValue::Ref(text.to_owned());
        assert_eq!(round_trip(&r), r, "{}", to_string(&r));
    }
}
