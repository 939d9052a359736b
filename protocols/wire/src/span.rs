//! Field spans: which bytes of a message hold which field, and the value read there.

use serde::Serialize;

/// One decoded field: bytes `start..end` (absolute offsets in the decoded input) hold `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldSpan {
    pub start: usize,
    pub end: usize,
    /// Dotted path, e.g. `header.msgSize` or `body.exec.sessionId`.
    pub name: String,
    /// The value as a short human string (number in decimal and hex, text, or `N bytes`).
    pub value: String,
}

/// Find the span of a field by exact name, or by its last path segment when the name has no dot.
pub fn find<'a>(spans: &'a [FieldSpan], name: &str) -> Option<&'a FieldSpan> {
    spans.iter().find(|s| s.name == name).or_else(|| {
        if name.contains('.') {
            None
        } else {
            spans.iter().find(|s| s.name.rsplit('.').next() == Some(name))
        }
    })
}
