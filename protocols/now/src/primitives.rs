//! NOW common structures: NOW_VARU32, NOW_VARSTR, NOW_VARBUF, NOW_GUID (NOW-PROTO 1.3 "Common
//! Structures"), read through [`Reader`] so every field gets a span and no read can panic.

use peercheck_wire::{DecodeError, DecodeErrorKind, EncodeError, Guid, Limit, Reader};
use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::limits::{MAX_VARBUF_LEN, MAX_VARSTR_LEN, VARU32_MAX};
use crate::profile::Layout;

/// Read a NOW_VARU32: `c` (top 2 bits of byte 0) = extra bytes, value bytes most significant first
/// (ERRATA NOW-4). Non-minimal encodings are accepted, as now-proto-pdu does.
pub fn read_varu32(r: &mut Reader<'_>, field: &str) -> Result<u32, DecodeError> {
    read_varu32_sub(r, field, "")
}

/// `field` + `suffix`, built only when a name is needed (an error or a traced span), so the hot
/// path allocates nothing.
fn sub(field: &str, suffix: &str) -> String {
    let mut name = String::with_capacity(field.len() + suffix.len());
    name.push_str(field);
    name.push_str(suffix);
    name
}

/// Rename an error's field from `<path>` to `<path><suffix>`.
fn suffixed(mut e: DecodeError, suffix: &str) -> DecodeError {
    if !suffix.is_empty() {
        e.field = std::borrow::Cow::Owned(sub(&e.field, suffix));
    }
    e
}

fn read_varu32_sub(r: &mut Reader<'_>, field: &str, suffix: &str) -> Result<u32, DecodeError> {
    let start = r.offset();
    let first = r.bytes_quiet(1, field).map_err(|e| suffixed(e, suffix))?;
    let b0 = first.first().copied().unwrap_or(0);
    let extra = usize::from(b0 >> 6);
    let mut value = u32::from(b0 & 0x3F);
    for &b in r.bytes_quiet(extra, field).map_err(|e| suffixed(e, suffix))? {
        value = (value << 8) | u32::from(b);
    }
    if r.is_traced() {
        r.note(
            start,
            &sub(field, suffix),
            format!("{value} (varu32, {} byte(s))", extra + 1),
        );
    }
    Ok(value)
}

/// Minimal NOW_VARU32 encoding; values above 0x3FFFFFFF cannot be encoded.
pub fn write_varu32(out: &mut Vec<u8>, value: u32, field: &'static str) -> Result<(), EncodeError> {
    if u64::from(value) > VARU32_MAX.max {
        return Err(EncodeError::new(
            field,
            format!("{value:#x} exceeds {} = {:#x}", VARU32_MAX.name, VARU32_MAX.max),
        ));
    }
    let be = value.to_be_bytes();
    // (byte count, the 2-bit `c`)
    let (n, c): (usize, u8) = match value {
        0..=0x3F => (1, 0),
        0x40..=0x3FFF => (2, 1),
        0x4000..=0x3F_FFFF => (3, 2),
        _ => (4, 3),
    };
    // Written straight into `out` (no temporary): the last `n` big-endian bytes, `c` in the top bits.
    let mut bytes = be;
    let first = 4 - n;
    if let Some(b0) = bytes.get_mut(first) {
        *b0 |= c << 6;
    }
    out.extend_from_slice(bytes.get(first..).unwrap_or(&[]));
    Ok(())
}

fn check_len(
    r: &Reader<'_>,
    limit: Limit,
    len: u32,
    field: &str,
    suffix: &str,
) -> Result<usize, DecodeError> {
    if u64::from(len) > limit.max {
        let kind = DecodeErrorKind::OverLimit {
            value: u64::from(len),
            max: limit.max,
            limit: limit.name,
        };
        return Err(suffixed(r.error(field, kind), suffix));
    }
    usize::try_from(len).map_err(|_| suffixed(r.invalid(field, "length does not fit in memory"), suffix))
}

/// Read a NOW_VARSTR: `len` (VARU32, NUL not counted), UTF-8 bytes, then a NUL when the layout has
/// one (ERRATA NOW-5). Spans: `<field>.len`, `<field>`, `<field>.nul`.
pub fn read_varstr(r: &mut Reader<'_>, field: &str, layout: &Layout) -> Result<String, DecodeError> {
    let len = read_varu32_sub(r, field, ".len")?;
    let len = check_len(r, MAX_VARSTR_LEN, len, field, ".len")?;
    let start = r.offset();
    let raw = r.bytes_quiet(len, field)?;
    let text = std::str::from_utf8(raw)
        .map_err(|e| r.invalid_at(start, field, format!("NOW_VARSTR is not UTF-8: {e}")))?
        .to_owned();
    if r.is_traced() {
        r.note(start, field, format!("{text:?}"));
    }
    if layout.varstr_nul {
        let nul_at = r.offset();
        let nul = r
            .bytes_quiet(1, field)
            .map_err(|e| suffixed(e, ".nul"))?
            .first()
            .copied()
            .unwrap_or(0);
        if r.is_traced() {
            r.note(nul_at, &sub(field, ".nul"), format!("{nul:#04x}"));
        }
        if nul != 0 {
            return Err(suffixed(
                r.invalid_at(
                    nul_at,
                    field,
                    format!("NOW_VARSTR terminator must be 0x00, found {nul:#04x} (ERRATA NOW-5)"),
                ),
                ".nul",
            ));
        }
    }
    Ok(text)
}

pub fn write_varstr(
    out: &mut Vec<u8>,
    s: &str,
    field: &'static str,
    layout: &Layout,
) -> Result<(), EncodeError> {
    let len = u32::try_from(s.len()).map_err(|_| EncodeError::new(field, "string longer than 4 GiB"))?;
    // One growth for the whole field: VARU32 (≤ 4) + text + NUL.
    out.reserve(s.len() + 5);
    write_varu32(out, len, field)?;
    out.extend_from_slice(s.as_bytes());
    if layout.varstr_nul {
        out.push(0);
    }
    Ok(())
}

/// Read a NOW_VARBUF: `size` (VARU32) then that many bytes, no terminator (ERRATA NOW-5).
pub fn read_varbuf(r: &mut Reader<'_>, field: &str) -> Result<Vec<u8>, DecodeError> {
    let len = read_varu32_sub(r, field, ".size")?;
    let len = check_len(r, MAX_VARBUF_LEN, len, field, ".size")?;
    Ok(r.bytes(len, field)?.to_vec())
}

pub fn write_varbuf(out: &mut Vec<u8>, data: &[u8], field: &'static str) -> Result<(), EncodeError> {
    let len = u32::try_from(data.len()).map_err(|_| EncodeError::new(field, "buffer longer than 4 GiB"))?;
    out.reserve(data.len() + 4);
    write_varu32(out, len, field)?;
    out.extend_from_slice(data);
    Ok(())
}

/// Read a NOW_GUID: a NOW_VARSTR holding 36 lower-case characters (NOW-PROTO 1.3 NOW_GUID: "refer to
/// the NOW_GUID definition for validation"). Anything else is refused so that it re-encodes identically.
pub fn read_guid(r: &mut Reader<'_>, field: &str, layout: &Layout) -> Result<Guid, DecodeError> {
    let start = r.offset();
    let text = read_varstr(r, field, layout)?;
    let guid = Guid::parse(&text).map_err(|e| r.invalid_at(start, field, format!("NOW_GUID: {e}")))?;
    if text.len() != 36 || guid.to_string() != text {
        return Err(r.invalid_at(
            start,
            field,
            "NOW_GUID must be 36 lower-case characters (xxxxxxxx-xxxx-…)",
        ));
    }
    Ok(guid)
}

pub fn write_guid(
    out: &mut Vec<u8>,
    g: &Guid,
    field: &'static str,
    layout: &Layout,
) -> Result<(), EncodeError> {
    write_varstr(out, &g.to_string(), field, layout)
}

/// Bytes in the structured form: a hex string (spaces, `_` and `#` comments allowed on input).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HexBytes(pub Vec<u8>);

impl Serialize for HexBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Number(serde_json::Number),
        }
        match Repr::deserialize(d)? {
            Repr::Text(s) => peercheck_wire::hexparse::parse_hex(&s)
                .map(HexBytes)
                .map_err(serde::de::Error::custom),
            // YAML reads `data: 1234` as a number; leading zeros would already be lost, so refuse it.
            Repr::Number(n) => Err(serde::de::Error::custom(format!(
                "bytes must be a quoted hex string (got the number {n}; write \"{n}\")"
            ))),
        }
    }
}

impl schemars::JsonSchema for HexBytes {
    fn schema_name() -> String {
        "HexBytes".to_owned()
    }
    fn json_schema(_gen: &mut SchemaGenerator) -> Schema {
        let mut o = SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            ..Default::default()
        };
        o.metadata().description = Some("bytes as hex text".into());
        Schema::Object(o)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::profile::Profile;
    use rstest::rstest;

    #[rstest]
    #[case(0, "00")]
    #[case(0x3F, "3f")]
    #[case(0x40, "4040")]
    #[case(0x14000, "814000")]
    #[case(0x3FFF_FFFF, "ffffffff")]
    // ERRATA NOW-4 / IronRDP number.rs vectors.
    fn varu32_known_encodings(#[case] value: u32, #[case] hex_text: &str) {
        let mut out = Vec::new();
        write_varu32(&mut out, value, "v").unwrap();
        assert_eq!(hex::encode(&out), hex_text);
        let bytes = hex::decode(hex_text).unwrap();
        let mut r = Reader::new(&bytes);
        assert_eq!(read_varu32(&mut r, "v").unwrap(), value);
        assert!(r.is_empty());
    }

    #[test]
    fn varu32_rejects_out_of_range_and_accepts_non_minimal() {
        assert!(write_varu32(&mut Vec::new(), 0x4000_0000, "v").is_err());
        let mut r = Reader::new(&[0x40, 0x05]);
        assert_eq!(read_varu32(&mut r, "v").unwrap(), 5);
        let mut r = Reader::new(&[0xC0, 0x00]);
        assert!(read_varu32(&mut r, "v").unwrap_err().is_truncation());
    }

    #[test]
    fn varstr_requires_the_nul_unless_switched_off() {
        let l16 = Layout::new(Profile::Now16);
        let mut l10 = Layout::new(Profile::Now10Text);
        assert!(l10.varstr_nul);
        l10.apply_param("varstr-nul", "false").unwrap();
        let mut out = Vec::new();
        write_varstr(&mut out, "hi", "s", &l16).unwrap();
        assert_eq!(out, b"\x02hi\x00");
        let mut r = Reader::new(b"\x02hiX");
        let e = read_varstr(&mut r, "s", &l16).unwrap_err();
        assert!(e.field.contains("nul"), "{e}");
        let mut r = Reader::new(b"\x02hi");
        assert!(read_varstr(&mut r, "s", &l16).unwrap_err().is_truncation());
        let mut r = Reader::new(b"\x02hi");
        assert_eq!(read_varstr(&mut r, "s", &l10).unwrap(), "hi");
        let mut r = Reader::new(b"\x02\xff\xfe\x00");
        assert!(read_varstr(&mut r, "s", &l16).is_err());
    }

    fn varu32_bytes(v: u32) -> Vec<u8> {
        let mut out = Vec::new();
        write_varu32(&mut out, v, "len").unwrap();
        out
    }

    #[test]
    fn varstr_len_limit_at_n_and_n_plus_one() {
        let l = Layout::new(Profile::Now16);
        let n = u32::try_from(MAX_VARSTR_LEN.max).unwrap();
        let mut at = varu32_bytes(n);
        at.resize(at.len() + n as usize, b'a');
        at.push(0);
        assert_eq!(
            read_varstr(&mut Reader::new(&at), "s", &l).unwrap().len(),
            n as usize
        );
        let over = varu32_bytes(n + 1);
        let e = read_varstr(&mut Reader::new(&over), "s", &l).unwrap_err();
        assert!(
            matches!(
                e.kind,
                DecodeErrorKind::OverLimit {
                    limit: "NOW_MAX_VARSTR_LEN",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn varbuf_len_limit_at_n_and_n_plus_one() {
        let n = u32::try_from(MAX_VARBUF_LEN.max).unwrap();
        let mut at = varu32_bytes(n);
        at.resize(at.len() + n as usize, 7);
        assert_eq!(read_varbuf(&mut Reader::new(&at), "d").unwrap().len(), n as usize);
        let over = varu32_bytes(n + 1);
        let e = read_varbuf(&mut Reader::new(&over), "d").unwrap_err();
        assert!(
            matches!(
                e.kind,
                DecodeErrorKind::OverLimit {
                    limit: "NOW_MAX_VARBUF_LEN",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn hex_bytes_take_text_and_refuse_numbers() {
        let b: HexBytes = serde_json::from_value(serde_json::json!("de ad_be:ef")).unwrap();
        assert_eq!(b.0, vec![0xde, 0xad, 0xbe, 0xef]);
        let e = serde_json::from_value::<HexBytes>(serde_json::json!(1234))
            .unwrap_err()
            .to_string();
        assert!(e.contains("quoted hex"), "{e}");
    }

    #[test]
    fn guid_is_strict_lower_case_text() {
        let l = Layout::new(Profile::Now16);
        let g = Guid::parse("a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90").unwrap();
        let mut out = Vec::new();
        write_guid(&mut out, &g, "g", &l).unwrap();
        assert_eq!(out.len(), 38);
        assert_eq!(read_guid(&mut Reader::new(&out), "g", &l).unwrap(), g);
        let mut upper = Vec::new();
        write_varstr(&mut upper, "A1B2C3D4-E5F6-0718-293A-4B5C6D7E8F90", "g", &l).unwrap();
        assert!(read_guid(&mut Reader::new(&upper), "g", &l).is_err());
    }
}
