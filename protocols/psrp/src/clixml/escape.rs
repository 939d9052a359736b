//! `_xHHHH_` escaping of CLIXML strings and property names (MS-PSRP §2.2.5.1.1; ERRATA PSRP-10).
//!
//! Encode, as PowerShell does: control characters (tab, CR and LF included), U+007F–U+009F, each
//! UTF-16 half of a character outside the BMP, and a `_` followed by `x` or `X`; upper-case hex.
//! Decode: `_[Xx]` + 4 or 8 hex digits + `_`. Surrogate halves are recombined; a lone half cannot live
//! in a Rust string and becomes U+FFFD.

use std::fmt::Write;

/// Which XML entities [`encode_xml_into`] writes after the `_xHHHH_` escaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Xml {
    /// Element text: `<`, `>`, `&` (quick-xml's `partial_escape`).
    Text,
    /// Attribute value: also `"` and `'` (quick-xml's `escape`).
    Attr,
}

/// Whether byte `b` needs a look in [`encode_xml_into`]: control characters, U+007F and every
/// non-ASCII byte, `_`, `<`, `>`, `&`, and in attributes `"` and `'`. Branch-free, so the scan of a
/// block of bytes compiles to vector compares.
#[inline(always)]
fn is_special<const ATTR: bool>(b: u8) -> bool {
    !(0x20..0x7F).contains(&b)
        | (b == b'_')
        | (b == b'<')
        | (b == b'>')
        | (b == b'&')
        | (ATTR & ((b == b'"') | (b == b'\'')))
}

/// The offset of the first special byte of `bytes` (see [`is_special`]), or its length: blocks of
/// 32 bytes are tested whole, and only a block that holds a special byte is searched byte by byte.
fn plain_prefix_len<const ATTR: bool>(bytes: &[u8]) -> usize {
    const BLOCK: usize = 32;
    let mut blocks = bytes.chunks_exact(BLOCK);
    let mut at = 0;
    for block in &mut blocks {
        if block.iter().fold(false, |any, &b| any | is_special::<ATTR>(b)) {
            return at + block.iter().position(|&b| is_special::<ATTR>(b)).unwrap_or(BLOCK);
        }
        at += BLOCK;
    }
    let tail = blocks.remainder();
    at + tail
        .iter()
        .position(|&b| is_special::<ATTR>(b))
        .unwrap_or(tail.len())
}

/// Append `text` to `out` escaped as [`encode`] does and then XML-escaped, in one pass. The same
/// bytes as `quick_xml::escape::{partial_escape, escape}(encode(text))`: the `_xHHHH_` sequences
/// hold no XML special character, so the two escapings commute character by character. Runs of
/// plain ASCII are copied whole, so the usual long string costs one scan and one copy.
pub fn encode_xml_into(out: &mut String, text: &str, xml: Xml) {
    out.reserve(text.len());
    let mut rest = text;
    loop {
        // The first special byte is ASCII or the lead byte of a character: a char boundary.
        let n = match xml {
            Xml::Text => plain_prefix_len::<false>(rest.as_bytes()),
            Xml::Attr => plain_prefix_len::<true>(rest.as_bytes()),
        };
        let Some((plain, tail)) = rest.split_at_checked(n) else {
            out.push_str(rest);
            return;
        };
        out.push_str(plain);
        let mut chars = tail.chars();
        let Some(c) = chars.next() else {
            return;
        };
        rest = chars.as_str();
        let code = u32::from(c);
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '_' if rest.starts_with(['x', 'X']) => out.push_str("_x005F_"),
            _ if code < 0x20 || (0x7F..=0x9F).contains(&code) => {
                let _ = write!(out, "_x{code:04X}_");
            }
            _ if code > 0xFFFF => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "_x{:04X}_", *u);
                }
            }
            _ => out.push(c),
        }
    }
}

/// Escape text for a CLIXML string element or `N` attribute (before XML entity escaping).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let code = u32::from(c);
        if code < 0x20 || (0x7F..=0x9F).contains(&code) {
            let _ = write!(out, "_x{code:04X}_");
        } else if code > 0xFFFF {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "_x{:04X}_", *u);
            }
        } else if c == '_' && matches!(chars.peek(), Some('x' | 'X')) {
            out.push_str("_x005F_");
        } else {
            out.push(c);
        }
    }
    out
}

/// Undo [`encode`] (and any other `_xHHHH_` / `_xHHHHHHHH_` sequence).
pub fn decode(text: &str) -> String {
    if !has_underscore(text.as_bytes()) {
        return text.to_owned();
    }
    let mut units: Vec<u16> = Vec::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some((code, len)) = escape_at(rest) {
            match char::from_u32(code) {
                Some(c) if code > 0xFFFF => units.extend_from_slice(c.encode_utf16(&mut [0u16; 2])),
                _ => units.push(u16::try_from(code).unwrap_or(0xFFFD)),
            }
            rest = rest.get(len..).unwrap_or("");
            continue;
        }
        let mut it = rest.chars();
        if let Some(c) = it.next() {
            units.extend_from_slice(c.encode_utf16(&mut [0u16; 2]));
        }
        rest = it.as_str();
    }
    String::from_utf16_lossy(&units)
}

/// [`decode`] of an owned string: returned as it is (no copy) when it holds no escape.
pub fn decode_owned(text: String) -> String {
    if has_underscore(text.as_bytes()) {
        decode(&text)
    } else {
        text
    }
}

/// Whether `bytes` holds a `_` (every escape starts with one): 32-byte blocks tested whole.
fn has_underscore(bytes: &[u8]) -> bool {
    let mut blocks = bytes.chunks_exact(32);
    blocks.any(|block| block.iter().fold(false, |any, &b| any | (b == b'_')))
        || blocks.remainder().contains(&b'_')
}

/// `(code, consumed bytes)` when `s` starts with an escape sequence.
fn escape_at(s: &str) -> Option<(u32, usize)> {
    let b = s.as_bytes();
    if b.first() != Some(&b'_') || !matches!(b.get(1), Some(b'x' | b'X')) {
        return None;
    }
    for digits in [4usize, 8] {
        let hex = s.get(2..2 + digits)?;
        if hex.bytes().all(|c| c.is_ascii_hexdigit()) && b.get(2 + digits) == Some(&b'_') {
            let code = u32::from_str_radix(hex, 16).ok()?;
            if digits == 8 && char::from_u32(code).is_none() {
                return None;
            }
            return Some((code, 3 + digits));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[rstest::rstest]
    #[case("plain", "plain")]
    #[case("a\tb\r\nc", "a_x0009_b_x000D__x000A_c")]
    #[case("\u{7f}\u{9f}\u{a0}", "_x007F__x009F_\u{a0}")]
    #[case("_x_X_y", "_x005F_x_x005F_X_y")]
    #[case("😀", "_xD83D__xDE00_")]
    #[case("\u{0}", "_x0000_")]
    fn encodes_like_powershell(#[case] plain: &str, #[case] escaped: &str) {
        assert_eq!(encode(plain), escaped);
        assert_eq!(decode(escaped), plain);
        assert_eq!(decode_owned(escaped.to_owned()), plain);
        assert_eq!(decode_owned(plain.to_owned()), decode(plain));
    }

    #[rstest::rstest]
    #[case("plain")]
    #[case("")]
    #[case("a\tb\r\nc_x_X_y_ _")]
    #[case("<a href=\"x\">&amp;'q'</a>")]
    #[case("\u{7f}\u{9f}\u{a0}é€😀_x😀<\u{0}>")]
    #[case("_")]
    #[case("x_")]
    fn one_pass_xml_escaping_matches_escape_then_quick_xml(#[case] plain: &str) {
        let mut text = String::from("kept ");
        encode_xml_into(&mut text, plain, Xml::Text);
        let expected = quick_xml::escape::partial_escape(encode(plain).as_str()).into_owned();
        assert_eq!(text, format!("kept {expected}"));
        let mut attr = String::new();
        encode_xml_into(&mut attr, plain, Xml::Attr);
        assert_eq!(
            attr,
            quick_xml::escape::escape(encode(plain).as_str()).into_owned()
        );
    }

    /// The special bytes are exactly the documented set, and the block scan finds the first one
    /// wherever it sits (in or across 32-byte blocks, in the tail).
    #[test]
    fn special_bytes_and_the_block_scan() {
        for b in 0..=255u8 {
            let text = !(0x20..0x7F).contains(&b) || matches!(b, b'_' | b'<' | b'>' | b'&');
            assert_eq!(is_special::<false>(b), text, "{b:#x}");
            assert_eq!(is_special::<true>(b), text || matches!(b, b'"' | b'\''), "{b:#x}");
        }
        for len in [0usize, 1, 31, 32, 33, 64, 100] {
            let plain = vec![b'x'; len];
            assert_eq!(plain_prefix_len::<false>(&plain), len);
            for at in 0..len {
                for special in [b'<', b'_', 0x01, 0xC3, b'"'] {
                    let mut v = plain.clone();
                    v[at] = special;
                    let want = if special == b'"' { len } else { at };
                    assert_eq!(plain_prefix_len::<false>(&v), want, "len {len} at {at}");
                    assert_eq!(plain_prefix_len::<true>(&v), at, "len {len} at {at}");
                }
            }
        }
    }

    #[test]
    fn underscore_test_sees_every_position() {
        for len in [0usize, 1, 31, 32, 33, 64, 70] {
            assert!(!has_underscore(&vec![b'a'; len]));
            for at in 0..len {
                let mut v = vec![b'a'; len];
                v[at] = b'_';
                assert!(has_underscore(&v), "len {len} at {at}");
            }
        }
    }

    #[test]
    fn decodes_lower_case_long_form_and_leaves_non_escapes() {
        assert_eq!(decode("_x000a_"), "\n");
        assert_eq!(decode("_X0041_"), "A");
        assert_eq!(decode("_x0001F600_"), "😀");
        assert_eq!(decode("_x12_ _xZZZZ_ _"), "_x12_ _xZZZZ_ _");
        assert_eq!(decode("_xD800_"), "\u{FFFD}");
    }
}
