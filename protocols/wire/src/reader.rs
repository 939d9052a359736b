//! A cursor over untrusted bytes that never panics.
//!
//! Every read names the field it reads: a short input becomes a [`DecodeError`] with the absolute
//! offset and the field's dotted path, and, when tracing is on, every successful read records a
//! [`FieldSpan`] so the same decode yields an annotated hexdump.

use crate::error::{DecodeError, DecodeErrorKind};
use crate::span::FieldSpan;

#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Reads stop here; `narrow` lowers it for a length-delimited part.
    end: usize,
    /// Added to every reported offset (the reader may run over a slice of a larger stream).
    base: usize,
    /// Dotted path of the enclosing scopes.
    prefix: ScopePath,
    spans: Option<Vec<FieldSpan>>,
}

/// Bytes of scope path kept inline: enough for every path the codecs build, so entering a scope
/// allocates nothing (a `String` here cost one allocation per decoded message).
const INLINE_PATH: usize = 64;

/// The dotted scope path: inline up to [`INLINE_PATH`] bytes, on the heap beyond.
#[derive(Debug, Clone)]
struct ScopePath {
    inline: [u8; INLINE_PATH],
    len: usize,
    /// Holds the whole path once it outgrew `inline` (and from then on).
    heap: Option<String>,
}

impl ScopePath {
    fn new() -> Self {
        Self {
            inline: [0; INLINE_PATH],
            len: 0,
            heap: None,
        }
    }

    fn as_str(&self) -> &str {
        match &self.heap {
            Some(h) => h,
            // Only whole `&str`s are pushed and lengths restored are earlier lengths, so the
            // inline bytes are always valid UTF-8.
            None => self
                .inline
                .get(..self.len)
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or(""),
        }
    }

    fn len(&self) -> usize {
        match &self.heap {
            Some(h) => h.len(),
            None => self.len,
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push_str(&mut self, s: &str) {
        if self.heap.is_none() {
            let end = self.len + s.len();
            if let Some(dst) = self.inline.get_mut(self.len..end) {
                dst.copy_from_slice(s.as_bytes());
                self.len = end;
                return;
            }
            let mut h = String::with_capacity(end);
            h.push_str(self.as_str());
            self.heap = Some(h);
        }
        if let Some(h) = self.heap.as_mut() {
            h.push_str(s);
        }
    }

    fn truncate(&mut self, len: usize) {
        match self.heap.as_mut() {
            Some(h) => h.truncate(len),
            None => self.len = self.len.min(len),
        }
    }
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            end: buf.len(),
            base: 0,
            prefix: ScopePath::new(),
            spans: None,
        }
    }

    /// Report offsets as `base + position` (for a slice cut out of a larger stream).
    pub fn with_base(mut self, base: usize) -> Self {
        self.base = base;
        self
    }

    /// Record a [`FieldSpan`] for every field read.
    pub fn traced(mut self) -> Self {
        self.spans = Some(Vec::new());
        self
    }

    #[inline]
    pub fn is_traced(&self) -> bool {
        self.spans.is_some()
    }

    /// Absolute offset of the next byte.
    #[inline]
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Position relative to the start of this reader's buffer.
    pub fn position(&self) -> usize {
        self.pos
    }

    #[inline]
    pub fn remaining(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..self.end).unwrap_or(&[])
    }

    /// The spans recorded so far (empty when not traced).
    pub fn take_spans(&mut self) -> Vec<FieldSpan> {
        self.spans.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The full dotted path for `field` in the current scope.
    pub fn path(&self, field: &str) -> String {
        if self.prefix.is_empty() {
            field.to_owned()
        } else {
            format!("{}.{field}", self.prefix.as_str())
        }
    }

    pub fn error(&self, field: &str, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(self.offset(), self.path(field), kind)
    }

    pub fn invalid(&self, field: &str, reason: impl Into<String>) -> DecodeError {
        self.error(
            field,
            DecodeErrorKind::Invalid {
                reason: reason.into(),
            },
        )
    }

    /// An error positioned at an earlier absolute offset (for a field already read).
    pub fn invalid_at(&self, offset: usize, field: &str, reason: impl Into<String>) -> DecodeError {
        DecodeError::new(
            offset,
            self.path(field),
            DecodeErrorKind::Invalid {
                reason: reason.into(),
            },
        )
    }

    /// Fails unless `n` more bytes are available.
    #[inline]
    pub fn ensure(&self, n: usize, field: &str) -> Result<(), DecodeError> {
        if self.remaining() < n {
            Err(self.truncated(n, field))
        } else {
            Ok(())
        }
    }

    /// The error for a read of `n` bytes that does not fit (kept out of line: the hot path only
    /// compares lengths).
    #[cold]
    #[inline(never)]
    fn truncated(&self, n: usize, field: &str) -> DecodeError {
        self.error(
            field,
            DecodeErrorKind::Truncated {
                needed: n,
                available: self.remaining(),
            },
        )
    }

    /// The next `n` bytes of the window, if there are that many.
    #[inline]
    fn window(&self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.end)?;
        self.buf.get(self.pos..end)
    }

    /// Record a span from `start_offset` (absolute) to the current position.
    pub fn note(&mut self, start_offset: usize, field: &str, value: impl Into<String>) {
        if self.spans.is_some() {
            let name = self.path(field);
            let end = self.offset();
            if let Some(spans) = self.spans.as_mut() {
                spans.push(FieldSpan {
                    start: start_offset,
                    end,
                    name,
                    value: value.into(),
                });
            }
        }
    }

    pub fn bytes(&mut self, n: usize, field: &str) -> Result<&'a [u8], DecodeError> {
        let start = self.offset();
        let out = self.window(n).ok_or_else(|| self.truncated(n, field))?;
        self.pos += n;
        if self.spans.is_some() {
            let shown = if n <= 16 {
                hex::encode(out)
            } else {
                format!("{n} bytes")
            };
            self.note(start, field, shown);
        }
        Ok(out)
    }

    /// Like [`Reader::bytes`] but records no span (the caller notes a decoded value instead).
    #[inline]
    pub fn bytes_quiet(&mut self, n: usize, field: &str) -> Result<&'a [u8], DecodeError> {
        let out = self.window(n).ok_or_else(|| self.truncated(n, field))?;
        self.pos += n;
        Ok(out)
    }

    #[inline]
    pub fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], DecodeError> {
        let b = self.bytes(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    #[inline]
    fn fixed<const N: usize>(&mut self, field: &str) -> Result<[u8; N], DecodeError> {
        let b = self.bytes_quiet(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    #[inline]
    fn noted<T: std::fmt::Display + std::fmt::LowerHex + Copy>(
        &mut self,
        start: usize,
        field: &str,
        v: T,
    ) -> T {
        if self.spans.is_some() {
            self.note(start, field, format!("{v} (0x{v:x})"));
        }
        v
    }

    #[inline]
    pub fn u8(&mut self, field: &str) -> Result<u8, DecodeError> {
        let s = self.offset();
        let [b] = self.fixed::<1>(field)?;
        Ok(self.noted(s, field, b))
    }

    #[inline]
    pub fn u16_le(&mut self, field: &str) -> Result<u16, DecodeError> {
        let s = self.offset();
        let v = u16::from_le_bytes(self.fixed(field)?);
        Ok(self.noted(s, field, v))
    }

    #[inline]
    pub fn u16_be(&mut self, field: &str) -> Result<u16, DecodeError> {
        let s = self.offset();
        let v = u16::from_be_bytes(self.fixed(field)?);
        Ok(self.noted(s, field, v))
    }

    #[inline]
    pub fn u32_le(&mut self, field: &str) -> Result<u32, DecodeError> {
        let s = self.offset();
        let v = u32::from_le_bytes(self.fixed(field)?);
        Ok(self.noted(s, field, v))
    }

    #[inline]
    pub fn u32_be(&mut self, field: &str) -> Result<u32, DecodeError> {
        let s = self.offset();
        let v = u32::from_be_bytes(self.fixed(field)?);
        Ok(self.noted(s, field, v))
    }

    #[inline]
    pub fn i32_le(&mut self, field: &str) -> Result<i32, DecodeError> {
        let s = self.offset();
        let v = i32::from_le_bytes(self.fixed(field)?);
        Ok(self.noted(s, field, v))
    }

    #[inline]
    pub fn u64_le(&mut self, field: &str) -> Result<u64, DecodeError> {
        let s = self.offset();
        let v = u64::from_le_bytes(self.fixed(field)?);
        Ok(self.noted(s, field, v))
    }

    #[inline]
    pub fn u64_be(&mut self, field: &str) -> Result<u64, DecodeError> {
        let s = self.offset();
        let v = u64::from_be_bytes(self.fixed(field)?);
        Ok(self.noted(s, field, v))
    }

    #[inline]
    pub fn i64_le(&mut self, field: &str) -> Result<i64, DecodeError> {
        let s = self.offset();
        let v = i64::from_le_bytes(self.fixed(field)?);
        Ok(self.noted(s, field, v))
    }

    /// Consume and return everything left in the current window.
    pub fn rest(&mut self, field: &str) -> &'a [u8] {
        let n = self.remaining();
        self.bytes(n, field).unwrap_or(&[])
    }

    /// Run `f` with reads limited to the next `len` bytes, then continue after them.
    /// Bytes `f` leaves unread are an error (`TrailingBytes`) unless `allow_trailing`.
    pub fn with_len<T>(
        &mut self,
        len: usize,
        field: &str,
        allow_trailing: bool,
        f: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        self.ensure(len, field)?;
        let saved_end = self.end;
        self.end = self.pos + len;
        let out = f(self);
        let left = self.remaining();
        self.pos = self.end;
        self.end = saved_end;
        let out = out?;
        if left > 0 && !allow_trailing {
            return Err(DecodeError::new(
                self.offset() - left,
                self.path(field),
                DecodeErrorKind::TrailingBytes { count: left },
            ));
        }
        Ok(out)
    }

    /// Run `f` with `name` pushed onto the field path.
    #[inline]
    pub fn scope<T>(&mut self, name: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        let saved = self.prefix.len();
        if !self.prefix.is_empty() {
            self.prefix.push_str(".");
        }
        self.prefix.push_str(name);
        let out = f(self);
        self.prefix.truncate(saved);
        out
    }

    /// Fails with `TrailingBytes` if anything is left in the current window.
    pub fn expect_end(&self, field: &str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(self.error(field, DecodeErrorKind::TrailingBytes { count: n })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_and_big_endian_and_records_spans() {
        let mut r = Reader::new(&[1, 0, 0, 2, 9]).traced();
        assert_eq!(r.u16_le("a").unwrap(), 1);
        assert_eq!(r.scope("s", |r| r.u16_be("b")).unwrap(), 2);
        let spans = r.take_spans();
        assert_eq!(spans[1].name, "s.b");
        assert_eq!((spans[1].start, spans[1].end), (2, 4));
        assert_eq!(r.remaining(), 1);
    }

    #[test]
    fn short_input_is_a_truncation_error_with_offset_and_field() {
        let mut r = Reader::new(&[1, 2, 3]).with_base(100);
        r.u8("x").unwrap();
        let e = r.u32_le("len").unwrap_err();
        assert_eq!(e.offset, 101);
        assert_eq!(e.field, "len");
        assert!(e.is_truncation());
    }

    #[test]
    fn with_len_limits_reads_and_rejects_leftovers() {
        let mut r = Reader::new(&[1, 2, 3, 4]);
        let e = r.with_len(3, "body", false, |r| r.u8("a")).unwrap_err();
        assert!(matches!(e.kind, DecodeErrorKind::TrailingBytes { count: 2 }));
        let mut r = Reader::new(&[1, 2, 3, 4]);
        let v = r.with_len(2, "body", false, |r| r.u16_le("a")).unwrap();
        assert_eq!(v, 0x0201);
        assert_eq!(r.u8("next").unwrap(), 3);
        let mut r = Reader::new(&[1, 2]);
        assert!(r
            .with_len(5, "body", true, |r| r.u8("a"))
            .unwrap_err()
            .is_truncation());
    }

    #[test]
    fn scope_paths_longer_than_the_inline_buffer_keep_every_name() {
        let long = "a-scope-name-that-is-long-enough";
        let mut r = Reader::new(&[1, 2]).traced();
        let e = r
            .scope(long, |r| {
                r.scope(long, |r| {
                    r.scope("s", |r| {
                        r.u8("x")?;
                        r.u16_le("y")
                    })
                })
            })
            .unwrap_err();
        assert_eq!(e.field, format!("{long}.{long}.s.y"));
        assert_eq!(r.take_spans()[0].name, format!("{long}.{long}.s.x"));
        // Back out of the scopes: the path is empty again.
        assert_eq!(r.u8("z").unwrap(), 2);
        assert_eq!(r.path("f"), "f");
        let e = r.scope("t", |r| r.u8("w")).unwrap_err();
        assert_eq!(e.field, "t.w");
    }

    #[test]
    fn huge_lengths_do_not_allocate_or_panic() {
        let mut r = Reader::new(&[0; 4]);
        assert!(r.bytes(usize::MAX, "blob").is_err());
        assert!(r.with_len(usize::MAX, "blob", false, |_| Ok(())).is_err());
    }
}
