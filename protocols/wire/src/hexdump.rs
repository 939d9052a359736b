//! Annotated hexdumps: the bytes of a message, then each field's offsets, name and value.

use crate::span::FieldSpan;
use std::fmt::Write;

/// Plain hexdump, 16 bytes a line, offsets from `base`.
pub fn hexdump(bytes: &[u8], base: usize) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let hexes: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = chunk
            .iter()
            .map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' })
            .collect();
        let _ = writeln!(out, "{:08x}  {:<47}  |{}|", base + i * 16, hexes.join(" "), ascii);
    }
    out
}

/// Hexdump followed by one line per field span: `start..end  name = value  [bytes]`.
/// Bytes no span covers are listed as `(unannotated)`, so nothing is hidden.
pub fn annotated(bytes: &[u8], base: usize, spans: &[FieldSpan]) -> String {
    let mut out = hexdump(bytes, base);
    let mut spans: Vec<&FieldSpan> = spans.iter().collect();
    spans.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut covered = base;
    let end = base + bytes.len();
    for s in spans {
        if s.start > covered {
            let _ = writeln!(out, "  {covered:>6}..{:<6}  (unannotated)", s.start);
        }
        let shown = bytes
            .get(s.start.saturating_sub(base)..s.end.saturating_sub(base).min(bytes.len()))
            .map(|b| match b.get(..8) {
                Some(head) if b.len() > 8 => format!("{}…", hex::encode(head)),
                _ => hex::encode(b),
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:>6}..{:<6}  {} = {}  [{}]",
            s.start, s.end, s.name, s.value, shown
        );
        covered = covered.max(s.end);
    }
    if covered < end {
        let _ = writeln!(out, "  {covered:>6}..{end:<6}  (unannotated)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotated_lists_fields_and_gaps() {
        let spans = vec![FieldSpan {
            start: 0,
            end: 2,
            name: "a".into(),
            value: "1".into(),
        }];
        let text = annotated(&[1, 0, 7], 0, &spans);
        assert!(text.contains("a = 1"));
        assert!(text.contains("(unannotated)"));
    }
}
