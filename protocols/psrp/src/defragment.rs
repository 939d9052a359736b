//! Reassembly of objects from a byte stream of fragments (MS-PSRP §2.2.4, §3.1.5.1.1 / §3.2.5.1.1).
//!
//! Rules enforced, each with its own error:
//! - ObjectId is never 0 (ERRATA PSRP-7: PowerShell rejects it; ids count from 1).
//! - §2.2.4 "FragmentId … MUST be 0 for the first fragment" and ids ascend by one within an object.
//! - The first fragment of an object has Start set; a continuation without an object in flight is an error.
//! - One object in flight per stream (ERRATA PSRP-7): a continuation of another object is an error;
//!   a Start fragment restarts, as PowerShell's receiver does.
//! - BlobLength ≤ [`MAX_BLOB_LENGTH`], object size ≤ [`MAX_OBJECT_SIZE`] (ERRATA PSRP-6), both
//!   checked from the header alone, before any blob byte is awaited or stored.
//!
//! Input is appended to one buffer that is compacted when half consumed, and each blob is copied once
//! into its object, so reassembly is linear in the input.

use crate::fragment::{FragmentHeader, FRAGMENT_HEADER_LEN, SPAN_BLOB};
use crate::limits::{MAX_BLOB_LENGTH, MAX_OBJECT_SIZE};
use peercheck_wire::{DecodeError, DecodeErrorKind, FieldSpan, Limit, Reader};

/// Why a fragment stream was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefragError {
    #[error("object id 0 is not allowed (ids count from 1)")]
    ObjectIdZero { offset: usize },
    #[error("fragment {fragment_id} of object {object_id} has no Start flag and no object is in flight")]
    MissingStart {
        offset: usize,
        object_id: u64,
        fragment_id: u64,
    },
    #[error("a Start fragment must have fragment id 0, got {fragment_id}")]
    StartNotFirst { offset: usize, fragment_id: u64 },
    #[error("fragment id gap: expected {expected}, got {got}")]
    FragmentIdGap { offset: usize, expected: u64, got: u64 },
    #[error("fragment of object {got} while object {in_flight} is still in flight")]
    ObjectInterleaved { offset: usize, in_flight: u64, got: u64 },
    #[error("blob length {length} exceeds the limit {limit} = {max}")]
    BlobTooLong {
        offset: usize,
        length: u64,
        max: u64,
        limit: &'static str,
    },
    #[error("object size {size} exceeds the limit {limit} = {max}")]
    ObjectTooLarge {
        offset: usize,
        size: u64,
        max: u64,
        limit: &'static str,
    },
    #[error("the stream ended inside a fragment or an object")]
    Unfinished { offset: usize },
    #[error("{0}")]
    Header(DecodeError),
}

impl DefragError {
    /// As a wire decode error: the field names the fragment header field at fault.
    pub fn to_decode_error(&self) -> DecodeError {
        use crate::fragment::{SPAN_BLOB_LENGTH, SPAN_FLAGS, SPAN_FRAGMENT_ID, SPAN_OBJECT_ID};
        let reason = self.to_string();
        match *self {
            Self::ObjectIdZero { offset } => DecodeError::invalid(offset, SPAN_OBJECT_ID, reason),
            Self::ObjectInterleaved { offset, .. } => DecodeError::invalid(offset, SPAN_OBJECT_ID, reason),
            Self::MissingStart { offset, .. } => DecodeError::invalid(offset, SPAN_FLAGS, reason),
            Self::StartNotFirst { offset, .. } | Self::FragmentIdGap { offset, .. } => {
                DecodeError::invalid(offset, SPAN_FRAGMENT_ID, reason)
            }
            Self::BlobTooLong {
                offset,
                length,
                max,
                limit,
            } => DecodeError::new(
                offset,
                SPAN_BLOB_LENGTH,
                DecodeErrorKind::OverLimit {
                    value: length,
                    max,
                    limit,
                },
            ),
            Self::ObjectTooLarge {
                offset,
                size,
                max,
                limit,
            } => DecodeError::new(
                offset,
                SPAN_BLOB_LENGTH,
                DecodeErrorKind::OverLimit {
                    value: size,
                    max,
                    limit,
                },
            ),
            Self::Unfinished { offset } => DecodeError::new(
                offset,
                "fragment",
                DecodeErrorKind::Truncated {
                    needed: FRAGMENT_HEADER_LEN,
                    available: 0,
                },
            ),
            Self::Header(ref e) => e.clone(),
        }
    }
}

/// Where a part of the reassembled object came from in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub object_offset: usize,
    pub stream_offset: usize,
    pub len: usize,
}

/// A complete object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reassembled {
    pub object_id: u64,
    pub fragment_count: u64,
    /// Absolute stream offset of the first fragment.
    pub offset: usize,
    pub data: Vec<u8>,
    /// The fragments as they were on the wire (empty unless the defragmenter keeps them).
    pub wire: Vec<u8>,
    /// Spans of every fragment header field and blob (absolute offsets).
    pub spans: Vec<FieldSpan>,
    pub chunks: Vec<Chunk>,
}

impl Reassembled {
    /// Map an offset inside `data` to its absolute stream offset.
    pub fn stream_offset(&self, object_offset: usize) -> usize {
        self.chunks
            .iter()
            .rev()
            .find(|c| c.object_offset <= object_offset)
            .map(|c| c.stream_offset + (object_offset - c.object_offset))
            .unwrap_or(self.offset)
    }
}

/// Streaming reassembler for one stream of fragments.
#[derive(Debug)]
pub struct Defragmenter {
    buf: Vec<u8>,
    pos: usize,
    /// Absolute stream offset of `buf[0]`.
    base: usize,
    current: Option<Reassembled>,
    next_fragment_id: u64,
    max_object: Limit,
    max_blob: Limit,
    keep_wire: bool,
    trace: bool,
    /// Data and wire sizes of the last complete object: the capacity a new object starts with
    /// (at most [`SIZE_HINT_CAP`]), so a stream of like-sized objects does not regrow its buffers.
    last_sizes: (usize, usize),
    /// A spent object's Data buffer given back with [`Defragmenter::recycle`]: the next object is
    /// reassembled into it (its pages are already mapped, so no page faults for a fresh buffer).
    spare: Vec<u8>,
}

/// The most a new object reserves from the size of the one before it.
const SIZE_HINT_CAP: usize = 8 << 20;

/// Give back the spare capacity of a buffer sized from a hint when the object came out smaller.
fn trim(v: &mut Vec<u8>) {
    if v.capacity() > v.len().saturating_mul(2) {
        v.shrink_to_fit();
    }
}

impl Default for Defragmenter {
    fn default() -> Self {
        Self::new()
    }
}

impl Defragmenter {
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            base: 0,
            current: None,
            next_fragment_id: 0,
            max_object: MAX_OBJECT_SIZE,
            max_blob: MAX_BLOB_LENGTH,
            keep_wire: false,
            trace: false,
            last_sizes: (0, 0),
            spare: Vec::new(),
        }
    }

    /// Keep each object's wire bytes and field spans (for reports); off for bulk throughput.
    /// Give back the `data` of an object the caller is done with, to reassemble the next one into.
    /// Only a buffer up to [`SIZE_HINT_CAP`] is kept.
    pub fn recycle(&mut self, mut data: Vec<u8>) {
        if data.capacity() <= SIZE_HINT_CAP && data.capacity() > self.spare.capacity() {
            data.clear();
            self.spare = data;
        }
    }

    pub fn keeping_wire(mut self, keep: bool) -> Self {
        self.keep_wire = keep;
        self.trace = keep;
        self
    }

    /// Lower the per-object cap (a receiver may be stricter than [`MAX_OBJECT_SIZE`]).
    pub fn with_max_object(mut self, limit: Limit) -> Self {
        self.max_object = limit;
        self
    }

    pub fn with_max_blob(mut self, limit: Limit) -> Self {
        self.max_blob = limit;
        self
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.base += self.pos;
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received and not yet part of a complete fragment.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// True when nothing partial is left (no buffered bytes, no object in flight).
    pub fn is_idle(&self) -> bool {
        self.buffered() == 0 && self.current.is_none()
    }

    /// At end of input: an error if a fragment or object is unfinished.
    pub fn finish(&self) -> Result<(), DefragError> {
        if self.is_idle() {
            Ok(())
        } else {
            Err(DefragError::Unfinished {
                offset: self.base + self.buf.len(),
            })
        }
    }

    /// The next complete object, `Ok(None)` when more input is needed.
    pub fn next_object(&mut self) -> Result<Option<Reassembled>, DefragError> {
        loop {
            let rest = self.buf.get(self.pos..).unwrap_or(&[]);
            if rest.len() < FRAGMENT_HEADER_LEN {
                return Ok(None);
            }
            let at = self.base + self.pos;
            let mut r = Reader::new(rest).with_base(at);
            if self.trace {
                r = r.traced();
            }
            let h = match FragmentHeader::decode(&mut r) {
                Ok(h) => h,
                Err(e) => {
                    if let DecodeErrorKind::OverLimit { value, .. } = e.kind {
                        return Err(self.blob_too_long(at, value));
                    }
                    return Err(DefragError::Header(e));
                }
            };
            if u64::from(h.blob_length) > self.max_blob.max {
                return Err(self.blob_too_long(at, u64::from(h.blob_length)));
            }
            self.check_sequence(&h, at)?;
            let blob_len = h.blob_length as usize;
            let already = if h.is_start() {
                0
            } else {
                self.current.as_ref().map_or(0, |c| c.data.len())
            };
            let size = already as u64 + u64::from(h.blob_length);
            if size > self.max_object.max {
                return Err(DefragError::ObjectTooLarge {
                    offset: at + 17,
                    size,
                    max: self.max_object.max,
                    limit: self.max_object.name,
                });
            }
            let Some(blob) = rest.get(FRAGMENT_HEADER_LEN..FRAGMENT_HEADER_LEN + blob_len) else {
                return Ok(None);
            };
            let mut spans = r.take_spans();
            if self.trace {
                let s = at + FRAGMENT_HEADER_LEN;
                spans.push(FieldSpan {
                    start: s,
                    end: s + blob_len,
                    name: SPAN_BLOB.into(),
                    value: format!("{blob_len} bytes"),
                });
            }
            if h.is_start() {
                // Sized from the last object that actually arrived, never from a header.
                let (data, wire) = self.last_sizes;
                let wire = if self.keep_wire { wire } else { 0 };
                self.current = Some(Reassembled {
                    object_id: h.object_id,
                    offset: at,
                    data: {
                        let mut v = std::mem::take(&mut self.spare);
                        v.clear();
                        v.reserve(data.min(SIZE_HINT_CAP).max(blob_len));
                        v
                    },
                    wire: Vec::with_capacity(wire.min(SIZE_HINT_CAP)),
                    ..Default::default()
                });
            }
            let cur = self.current.get_or_insert_with(Reassembled::default);
            cur.chunks.push(Chunk {
                object_offset: cur.data.len(),
                stream_offset: at + FRAGMENT_HEADER_LEN,
                len: blob_len,
            });
            cur.data.extend_from_slice(blob);
            cur.fragment_count += 1;
            cur.spans.append(&mut spans);
            if self.keep_wire {
                if let Some(whole) = rest.get(..FRAGMENT_HEADER_LEN + blob_len) {
                    cur.wire.extend_from_slice(whole);
                }
            }
            self.pos += FRAGMENT_HEADER_LEN + blob_len;
            self.next_fragment_id = h.fragment_id.saturating_add(1);
            if h.is_end() {
                let mut done = self.current.take();
                if let Some(o) = &mut done {
                    self.last_sizes = (o.data.len(), o.wire.len());
                    trim(&mut o.data);
                    trim(&mut o.wire);
                }
                return Ok(done);
            }
        }
    }

    fn blob_too_long(&self, at: usize, length: u64) -> DefragError {
        DefragError::BlobTooLong {
            offset: at + 17,
            length,
            max: self.max_blob.max,
            limit: self.max_blob.name,
        }
    }

    fn check_sequence(&self, h: &FragmentHeader, at: usize) -> Result<(), DefragError> {
        if h.object_id == 0 {
            return Err(DefragError::ObjectIdZero { offset: at });
        }
        if h.is_start() {
            // ERRATA PSRP-7: a Start fragment restarts the object in flight.
            if h.fragment_id != 0 {
                return Err(DefragError::StartNotFirst {
                    offset: at + 8,
                    fragment_id: h.fragment_id,
                });
            }
            return Ok(());
        }
        match &self.current {
            None => Err(DefragError::MissingStart {
                offset: at + 16,
                object_id: h.object_id,
                fragment_id: h.fragment_id,
            }),
            Some(c) if c.object_id != h.object_id => Err(DefragError::ObjectInterleaved {
                offset: at,
                in_flight: c.object_id,
                got: h.object_id,
            }),
            Some(_) if h.fragment_id != self.next_fragment_id => Err(DefragError::FragmentIdGap {
                offset: at + 8,
                expected: self.next_fragment_id,
                got: h.fragment_id,
            }),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::cast_possible_truncation
    )]
    use super::*;
    use crate::fragment::{Fragment, Fragmenter, FLAG_END, FLAG_START};

    fn frag(object_id: u64, fragment_id: u64, flags: u8, blob: &[u8]) -> Vec<u8> {
        Fragment {
            object_id,
            fragment_id,
            flags,
            blob: blob.to_vec(),
        }
        .encode()
    }

    #[test]
    fn reassembles_across_arbitrary_splits() {
        let obj: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let stream = Fragmenter::new(100).unwrap().fragment_bytes(3, &obj);
        for step in [1, 7, 21, 22, 500, stream.len()] {
            let mut d = Defragmenter::new().keeping_wire(true);
            let mut got = None;
            for chunk in stream.chunks(step) {
                d.push(chunk);
                if let Some(o) = d.next_object().unwrap() {
                    got = Some(o);
                }
            }
            let o = got.unwrap();
            assert_eq!(o.data, obj);
            assert_eq!(o.wire, stream);
            assert_eq!(o.fragment_count, 13);
            assert!(d.finish().is_ok());
        }
    }

    #[test]
    fn every_truncated_prefix_waits_then_finish_fails() {
        let stream = Fragmenter::new(30)
            .unwrap()
            .fragment_bytes(1, b"hello world, fragments");
        for n in 1..stream.len() {
            let mut d = Defragmenter::new();
            d.push(&stream[..n]);
            assert_eq!(d.next_object().unwrap(), None, "prefix {n}");
            assert!(d.finish().is_err());
        }
    }

    #[rstest::rstest]
    #[case::object_id_zero(frag(0, 0, 3, b"x"), "ObjectIdZero")]
    #[case::missing_start(frag(1, 0, FLAG_END, b"x"), "MissingStart")]
    #[case::start_not_first(frag(1, 1, 3, b"x"), "StartNotFirst")]
    #[case::gap([frag(1, 0, FLAG_START, b"x"), frag(1, 2, FLAG_END, b"y")].concat(), "FragmentIdGap")]
    #[case::interleaved([frag(1, 0, FLAG_START, b"x"), frag(2, 1, FLAG_END, b"y")].concat(), "ObjectInterleaved")]
    #[case::lying_length(
        [&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3][..], &[0xFF, 0xFF, 0xFF, 0xFF]].concat(),
        "BlobTooLong"
    )]
    fn each_violation_has_its_own_error(#[case] stream: Vec<u8>, #[case] variant: &str) {
        let mut d = Defragmenter::new();
        d.push(&stream);
        let e = d.next_object().unwrap_err();
        assert!(format!("{e:?}").starts_with(variant), "{e:?}");
        let _ = e.to_decode_error();
    }

    #[test]
    fn start_restarts_an_object_in_flight() {
        let s = [
            frag(1, 0, FLAG_START, b"old"),
            frag(2, 0, FLAG_START | FLAG_END, b"new"),
        ]
        .concat();
        let mut d = Defragmenter::new();
        d.push(&s);
        let o = d.next_object().unwrap().unwrap();
        assert_eq!((o.object_id, o.data.as_slice()), (2, &b"new"[..]));
    }

    #[test]
    fn object_size_limit_at_n_and_n_plus_one() {
        let limit = Limit::new("TEST_OBJ", 10);
        let ok = [frag(1, 0, FLAG_START, b"12345"), frag(1, 1, FLAG_END, b"67890")].concat();
        let mut d = Defragmenter::new().with_max_object(limit);
        d.push(&ok);
        assert_eq!(d.next_object().unwrap().unwrap().data.len(), 10);
        let bad = [frag(1, 0, FLAG_START, b"12345"), frag(1, 1, FLAG_END, b"678901")].concat();
        let mut d = Defragmenter::new().with_max_object(limit);
        d.push(&bad);
        assert!(matches!(
            d.next_object(),
            Err(DefragError::ObjectTooLarge { size: 11, .. })
        ));
    }

    #[test]
    fn blob_limit_at_n_and_n_plus_one() {
        let limit = Limit::new("TEST_BLOB", 4);
        let mut d = Defragmenter::new().with_max_blob(limit);
        d.push(&frag(1, 0, 3, b"1234"));
        assert!(d.next_object().unwrap().is_some());
        let mut d = Defragmenter::new().with_max_blob(limit);
        d.push(&frag(1, 0, 3, b"12345"));
        assert!(matches!(
            d.next_object(),
            Err(DefragError::BlobTooLong { length: 5, .. })
        ));
    }

    #[test]
    fn stream_offsets_map_through_chunks() {
        let stream = Fragmenter::new(25).unwrap().fragment_bytes(1, b"abcdefgh");
        let mut d = Defragmenter::new();
        d.push(&stream);
        let o = d.next_object().unwrap().unwrap();
        assert_eq!(o.stream_offset(0), 21);
        assert_eq!(o.stream_offset(4), 25 + 21);
    }
}
