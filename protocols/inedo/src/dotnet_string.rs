//! .NET `BinaryWriter` strings: a 7-bit encoded length prefix (1–5 bytes), then that many UTF-8
//! bytes (ERRATA Inedo-1).

use crate::limits::MAX_STRING_LEN;
use peercheck_wire::{DecodeError, DecodeErrorKind, Reader};

/// Read one length-prefixed string as `field` (`field.length` names the prefix).
pub fn read_string(r: &mut Reader<'_>, field: &str) -> Result<String, DecodeError> {
    let len_field = format!("{field}.length");
    let start = r.offset();
    let len = read_7bit_length(r, &len_field)?;
    r.note(start, &len_field, len.to_string());
    if len > MAX_STRING_LEN.max {
        return Err(r.error(
            &len_field,
            DecodeErrorKind::OverLimit {
                value: len,
                max: MAX_STRING_LEN.max,
                limit: MAX_STRING_LEN.name,
            },
        ));
    }
    // The limit check above bounds this conversion; a failure would be a 16-bit target.
    let n = usize::try_from(len).map_err(|_| r.invalid(&len_field, "length does not fit in memory"))?;
    let text_start = r.offset();
    let raw = r.bytes_quiet(n, field)?;
    let text = std::str::from_utf8(raw)
        .map_err(|e| r.invalid_at(text_start, field, format!("not UTF-8: {e}")))?
        .to_owned();
    r.note(text_start, field, format!("{text:?}"));
    Ok(text)
}

/// .NET `Read7BitEncodedInt`: seven bits per byte, low group first, at most five bytes; the fifth
/// may use only its low four bits, and the result is an `int32` that must not be negative for a
/// string length.
fn read_7bit_length(r: &mut Reader<'_>, field: &str) -> Result<u64, DecodeError> {
    let start = r.offset();
    let mut value: u64 = 0;
    for index in 0..5u32 {
        let [byte] =
            <[u8; 1]>::try_from(r.bytes_quiet(1, field)?).map_err(|_| r.invalid(field, "short read"))?;
        if index == 4 && byte > 0x0f {
            return Err(r.invalid_at(start, field, "bad 7-bit encoded int32: fifth byte over 0x0f"));
        }
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            if value > i32::MAX as u64 {
                return Err(r.invalid_at(
                    start,
                    field,
                    format!("negative string length (int32 0x{value:08x})"),
                ));
            }
            return Ok(value);
        }
    }
    // Unreachable: the fifth byte is at most 0x0f, so its continuation bit is clear.
    Err(r.invalid_at(start, field, "bad 7-bit encoded int32"))
}

/// The 7-bit encoded form of `len` (.NET `Write7BitEncodedInt`).
pub fn encode_7bit_length(mut len: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(5);
    while len >= 0x80 {
        let [low, ..] = (len & 0x7f).to_le_bytes();
        out.push(low | 0x80);
        len >>= 7;
    }
    let [last, ..] = len.to_le_bytes();
    out.push(last);
    out
}

/// A whole length-prefixed string.
pub fn encode_string(text: &str) -> Result<Vec<u8>, peercheck_wire::EncodeError> {
    let len = u32::try_from(text.len())
        .ok()
        .filter(|l| *l <= i32::MAX as u32)
        .ok_or_else(|| peercheck_wire::EncodeError::new("path", "string longer than an int32 length"))?;
    let mut out = encode_7bit_length(len);
    out.extend_from_slice(text.as_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::cast_possible_truncation
    )]
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(0, "00")]
    #[case(127, "7f")]
    #[case(128, "8001")]
    #[case(300, "ac02")]
    #[case(16384, "808001")]
    #[case(i32::MAX as u32, "ffffffff07")]
    fn seven_bit_lengths_match_dotnet(#[case] len: u32, #[case] hex_text: &str) {
        assert_eq!(hex::encode(encode_7bit_length(len)), hex_text);
        let bytes = hex::decode(hex_text).unwrap();
        assert_eq!(
            read_7bit_length(&mut Reader::new(&bytes), "s").unwrap(),
            u64::from(len)
        );
    }

    #[test]
    fn strings_round_trip_with_spans() {
        let bytes = encode_string("C:\\Agent").unwrap();
        let mut r = Reader::new(&bytes).traced();
        assert_eq!(read_string(&mut r, "path").unwrap(), "C:\\Agent");
        let spans = r.take_spans();
        assert_eq!(spans[0].name, "path.length");
        assert_eq!(spans[1].name, "path");
        assert!(r.is_empty());
    }

    #[test]
    fn string_length_at_limit_is_read_and_one_over_is_refused_before_reading() {
        let max = MAX_STRING_LEN.max as usize;
        let mut ok = encode_7bit_length(max as u32);
        ok.resize(ok.len() + max, b'a');
        assert_eq!(read_string(&mut Reader::new(&ok), "s").unwrap().len(), max);
        // One over: refused on the prefix alone, with no body present.
        let over = encode_7bit_length(max as u32 + 1);
        let e = read_string(&mut Reader::new(&over), "s").unwrap_err();
        assert!(
            matches!(
                e.kind,
                DecodeErrorKind::OverLimit {
                    limit: "INEDO_MAX_STRING_LEN",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[rstest]
    #[case("ffffffff0f")] // -1
    #[case("ffffffff1f")] // fifth byte over 0x0f
    #[case("8080808080")] // continuation on the fifth byte
    fn bad_prefixes_are_errors(#[case] hex_text: &str) {
        let bytes = hex::decode(hex_text).unwrap();
        assert!(read_string(&mut Reader::new(&bytes), "s").is_err());
    }

    #[test]
    fn short_prefix_and_short_body_are_truncations() {
        assert!(read_string(&mut Reader::new(&[0x80]), "s")
            .unwrap_err()
            .is_truncation());
        assert!(read_string(&mut Reader::new(&[0x03, b'a']), "s")
            .unwrap_err()
            .is_truncation());
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let e = read_string(&mut Reader::new(&[0x01, 0xff]), "s").unwrap_err();
        assert!(e.to_string().contains("UTF-8"));
    }
}
