//! Typed decode and encode errors that say where (byte offset, field) and why.

use std::borrow::Cow;
use std::fmt;

/// Why a decode failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended before the field was complete.
    #[error("truncated: needs {needed} byte(s), {available} available")]
    Truncated { needed: usize, available: usize },
    /// A length, count or depth from the wire is over its named maximum.
    #[error("{value} exceeds the limit {limit} = {max}")]
    OverLimit {
        value: u64,
        max: u64,
        limit: &'static str,
    },
    /// The field holds a value the protocol does not allow.
    #[error("invalid value: {reason}")]
    Invalid { reason: String },
    /// Bytes were left over after a message that must be consumed exactly.
    #[error("{count} unexpected trailing byte(s)")]
    TrailingBytes { count: usize },
}

/// A decode failure: the absolute byte offset, the field (a dotted path) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub field: Cow<'static, str>,
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    pub fn new(offset: usize, field: impl Into<Cow<'static, str>>, kind: DecodeErrorKind) -> Self {
        Self {
            offset,
            field: field.into(),
            kind,
        }
    }

    pub fn invalid(offset: usize, field: impl Into<Cow<'static, str>>, reason: impl Into<String>) -> Self {
        Self::new(
            offset,
            field,
            DecodeErrorKind::Invalid {
                reason: reason.into(),
            },
        )
    }

    /// True when more input could complete the message (used by stream framers).
    pub fn is_truncation(&self) -> bool {
        matches!(self.kind, DecodeErrorKind::Truncated { .. })
    }

    /// Shift the offset, for errors from a decoder that ran on a sub-slice.
    pub fn shifted(mut self, by: usize) -> Self {
        self.offset = self.offset.saturating_add(by);
        self
    }

    /// Prefix the field path, for errors from a nested decoder.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = Cow::Owned(format!("{parent}.{}", self.field));
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at byte {} in field `{}`: {}",
            self.offset, self.field, self.kind
        )
    }
}

impl std::error::Error for DecodeError {}

/// An encode failure: the message cannot be put on the wire as described (a field out of range,
/// an unknown name in the structured form, a value that does not fit its wire width).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode `{field}`: {reason}")]
pub struct EncodeError {
    pub field: Cow<'static, str>,
    pub reason: String,
}

impl EncodeError {
    pub fn new(field: impl Into<Cow<'static, str>>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
