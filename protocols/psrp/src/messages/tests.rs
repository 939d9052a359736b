#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation
)]
use super::*;
use crate::header::BOM;
use serde_json::json;

fn defaults() -> EncodeDefaults {
    EncodeDefaults {
        destination: Destination::SERVER,
        rpid: Guid::from_u128(1),
        bom: true,
        protocol_version: "2.3".into(),
    }
}

#[test]
fn every_message_type_round_trips_through_its_typed_body() {
    for (t, name, ..) in MessageType::ALL {
        let enc = encode_structured(name, &json!({}), &defaults()).unwrap();
        assert_eq!(enc.message.message_type, *t);
        let (back, fields) = decode_structured(&enc.message).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(back, *name);
        // Re-encoding the decoded form gives the same bytes (data wins over typed fields).
        let again = encode_structured(name, &fields, &defaults()).unwrap();
        assert_eq!(again.message, enc.message, "{name}");
        // And the typed fields alone give the same bytes too.
        let mut typed = fields.as_object().unwrap().clone();
        typed.remove("data");
        let typed_again = encode_structured(name, &serde_json::Value::Object(typed), &defaults()).unwrap();
        assert_eq!(typed_again.message.data, enc.message.data, "{name} typed");
    }
}

#[test]
fn typed_fields_reach_the_wire() {
    let enc = encode_structured(
        "create-pipeline",
        &json!({ "noInput": false, "commands": [ { "cmd": "Get-Item", "args": [ { "name": "Path", "value": { "S": "C:\\" } } ] } ] }),
        &defaults(),
    )
    .unwrap();
    let (_, f) = decode_structured(&enc.message).unwrap();
    assert_eq!(f["noInput"], json!(false));
    assert_eq!(f["commands"][0]["cmd"], json!("Get-Item"));
    assert_eq!(f["commands"][0]["args"][0]["name"], json!("Path"));
    assert_eq!(f["commands"][0]["args"][0]["value"], json!({ "S": "C:\\" }));

    let enc = encode_structured(
        "pipeline-host-call",
        &json!({ "ci": 3, "methodId": 11 }),
        &defaults(),
    )
    .unwrap();
    let (_, f) = decode_structured(&enc.message).unwrap();
    assert_eq!(f["methodName"], json!("ReadLine"));
    assert_eq!(f["ci"], json!(3));
}

#[test]
fn session_capability_takes_the_profile_version_and_requires_members() {
    let mut d = defaults();
    d.protocol_version = "2.4".into();
    let enc = encode_structured("session-capability", &json!({}), &d).unwrap();
    let text = String::from_utf8(enc.message.data.clone()).unwrap();
    assert!(text.starts_with('\u{feff}'));
    assert!(
        text.contains("<Version N=\"protocolversion\">2.4</Version>"),
        "{text}"
    );
    let bad = encode_structured(
        "session-capability",
        &json!({ "clixml": "<Obj RefId=\"0\"><MS /></Obj>" }),
        &d,
    )
    .unwrap();
    let e = decode_structured(&bad.message).unwrap_err();
    assert!(e.reason.contains("protocolversion"), "{e:?}");
}

#[test]
fn unknown_fields_and_names_are_encode_errors() {
    assert!(encode_structured("pipeline-state", &json!({ "bogus": 1 }), &defaults()).is_err());
    assert!(encode_structured("no-such-message", &json!({}), &defaults()).is_err());
}

#[test]
fn unknown_types_keep_their_number_and_data() {
    let enc = encode_structured(
        "unknown",
        &json!({ "messageType": 0x1234, "clixml": "<S>x</S>" }),
        &defaults(),
    )
    .unwrap();
    let (name, f) = decode_structured(&enc.message).unwrap();
    assert_eq!(name, "unknown");
    assert_eq!(f["messageType"], json!(0x1234));
    assert_eq!(f["data"], json!({ "S": "x" }));
    let enc = encode_structured(
        "unknown",
        &json!({ "messageType": 7, "raw": "00ff" }),
        &defaults(),
    )
    .unwrap();
    let (_, f) = decode_structured(&enc.message).unwrap();
    assert_eq!(f["raw"], json!("00ff"));
}

#[test]
fn schema_has_a_variant_per_message() {
    let s = schema();
    let n = s["oneOf"].as_array().unwrap().len();
    assert_eq!(n, MessageType::ALL.len() + 1 + 7);
    // Each message's fields are one closed object: envelope and typed fields side by side.
    let cap = &s["oneOf"][0]["properties"]["session-capability"];
    assert_eq!(cap["additionalProperties"], json!(false));
    for key in ["rpid", "pid", "objectId", "data", "protocolVersion", "psVersion"] {
        assert!(cap["properties"].get(key).is_some(), "no {key}");
    }
    // Every $ref resolves to a definition.
    let text = s.to_string();
    for part in text.split("\"$ref\":\"#/definitions/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(s["definitions"].get(name).is_some(), "dangling $ref {name}");
    }
}

/// Fuzz finding F1 (docs/fuzzing.md): a known message that arrives with an empty Data, or with a
/// BOM and nothing else, decodes to a form that encodes back to exactly those bytes.
#[test]
fn empty_data_round_trips_through_the_structured_form() {
    for raw in ["", "efbbbf"] {
        for (t, name, ..) in MessageType::ALL {
            let enc = encode_structured(name, &json!({ "raw": raw }), &defaults()).unwrap();
            assert_eq!(enc.message.message_type, *t);
            assert_eq!(hex::encode(&enc.message.data), raw, "{name}");
            let Ok((back, fields)) = decode_structured(&enc.message) else {
                continue; // a type whose body cannot be empty is rejected: nothing to round-trip
            };
            assert_eq!(back, *name);
            let again = encode_structured(name, &fields, &defaults()).unwrap();
            assert_eq!(again.message, enc.message, "{name} from {raw:?}: {fields}");
        }
    }
    // END_OF_PIPELINE_INPUT is empty by the spec: its decoded form needs no `raw`.
    let enc = encode_structured("end-of-pipeline-input", &json!({}), &defaults()).unwrap();
    let (_, fields) = decode_structured(&enc.message).unwrap();
    assert!(fields.get("raw").is_none(), "{fields}");
}

/// The decode path before the copy-free rewrite: Data parsed, the typed view through
/// `decode_body`, `data` through `serde_json::to_value`. The structured form must not change.
fn reference_decode(m: &Message) -> (String, Value) {
    let (bytes, bom) = m.data_without_bom();
    let value = clixml::parse(std::str::from_utf8(bytes).unwrap()).unwrap();
    let body = decode_body(m.message_type, value.as_ref()).unwrap();
    let mut fields = Map::new();
    put_header(&mut fields, &m.view(), bom);
    if let Some(Value::Object(b)) = body {
        if value.is_none() && !(m.data.is_empty() && body_encodes_empty(m.message_type, &b)) {
            fields.insert("raw".into(), Value::String(hex::encode(&m.data)));
        }
        fields.extend(b);
    }
    if let Some(v) = &value {
        fields.insert("data".into(), serde_json::to_value(v).unwrap());
    }
    (m.message_type.name().unwrap().to_owned(), Value::Object(fields))
}

fn same_form(m: &Message) {
    let (name, fields) = decode_structured(m).unwrap();
    let (want_name, want) = reference_decode(m);
    assert_eq!(name, want_name);
    // As text: key order is part of the form (reports and snapshots print it).
    assert_eq!(
        serde_json::to_string(&fields).unwrap(),
        serde_json::to_string(&want).unwrap()
    );
}

#[test]
fn decoding_gives_the_same_form_as_the_reference_path() {
    for (_, name, ..) in MessageType::ALL {
        let enc = encode_structured(name, &json!({}), &defaults()).unwrap();
        same_form(&enc.message);
    }
    let big = "x_y\u{1}é".repeat(1000);
    for name in ["pipeline-output", "pipeline-input"] {
        for value in [
            json!({ "S": big }),
            json!("Nil"),
            json!({ "Obj": { "typeNames": ["T"], "ms": [{ "name": "a", "value": { "I32": 1 } }] } }),
        ] {
            let enc = encode_structured(name, &json!({ "value": value }), &defaults()).unwrap();
            same_form(&enc.message);
        }
        for raw in ["", "efbbbf"] {
            let enc = encode_structured(name, &json!({ "raw": raw }), &defaults()).unwrap();
            same_form(&enc.message);
        }
    }
}

/// Encoding from owned fields gives the message of the borrowed path, and Data is the BOM (when
/// asked for and the text is not empty) followed by the CLIXML text.
#[test]
fn owned_encoding_and_the_bom_rule() {
    let v = json!({ "S": "a<b" });
    let text = clixml::to_string(&serde_json::from_value::<ClixmlValue>(v.clone()).unwrap());
    let cases = [
        (json!({ "value": v }), true),
        (json!({ "data": v }), true),
        (json!({ "data": v, "bom": false }), false),
        (json!({ "clixml": text }), true),
        (json!({ "clixml": text, "bom": false }), false),
    ];
    for (fields, bom) in cases {
        let enc = encode_structured("pipeline-output", &fields, &defaults()).unwrap();
        let owned = encode_structured_owned("pipeline-output", fields.clone(), &defaults()).unwrap();
        assert_eq!(owned.message, enc.message, "{fields}");
        let want = [if bom { &BOM[..] } else { &[][..] }, text.as_bytes()].concat();
        assert_eq!(enc.message.data, want, "{fields}");
    }
    for fields in [json!({ "clixml": "" }), json!({ "clixml": "", "bom": true })] {
        let enc = encode_structured_owned("pipeline-output", fields, &defaults()).unwrap();
        assert!(enc.message.data.is_empty());
    }
    let e = encode_structured_owned("pipeline-output", json!([1]), &defaults()).unwrap_err();
    assert_eq!(
        e.to_string(),
        encode_structured("pipeline-output", &json!([1]), &defaults())
            .unwrap_err()
            .to_string()
    );
}

/// The value-body Data written from a reference (into a reused buffer) is the structured path's.
#[test]
fn value_data_from_a_reference_is_the_structured_data() {
    let mut buf = b"left over".to_vec();
    for value in [
        json!({ "S": "a<b_x\u{1}" }),
        json!("Nil"),
        json!({ "Obj": { "typeNames": ["T"], "ms": [{ "name": "a", "value": { "I32": 1 } }] } }),
    ] {
        let v: ClixmlValue = serde_json::from_value(value.clone()).unwrap();
        for bom in [true, false] {
            for name in ["pipeline-output", "pipeline-input"] {
                let enc =
                    encode_structured(name, &json!({ "value": value, "bom": bom }), &defaults()).unwrap();
                buf = encode_value_data(&v, bom, buf);
                assert_eq!(buf, enc.message.data, "{name} {value} bom {bom}");
            }
        }
    }
}
