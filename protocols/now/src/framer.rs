//! Stream framing: NOW messages back to back, each delimited by its header's msgSize.
//!
//! The header is 8 bytes and msgSize counts the body only (NOW-PROTO 1.3 NOW_HEADER). A msgSize over
//! the limit is refused as soon as the header is in, so a lying 0xFFFFFFFF never makes us wait for
//! (or buffer) 4 GiB. Errors are final: the stream cannot be re-synchronised.

use peercheck_wire::{DecodeError, DecodeErrorKind, FieldSpan};

use crate::limits::HEADER_SIZE;
use crate::msg::{check_msg_size, decode_message, NowMessage};
use crate::profile::Layout;

/// One decoded message with its place in the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub message: NowMessage,
    /// Absolute offset of the first header byte in the received stream.
    pub offset: usize,
    pub bytes: Vec<u8>,
    pub spans: Vec<FieldSpan>,
}

/// Buffers received bytes and cuts them into messages.
#[derive(Debug, Clone)]
pub struct Framer {
    layout: Layout,
    buf: Vec<u8>,
    /// Index in `buf` of the first unconsumed byte.
    start: usize,
    /// Absolute stream offset of `buf[0]`.
    base: usize,
    failed: Option<DecodeError>,
    traced: bool,
}

impl Framer {
    pub fn new(layout: Layout) -> Self {
        Framer {
            layout,
            buf: Vec::new(),
            start: 0,
            base: 0,
            failed: None,
            traced: true,
        }
    }

    /// Skip span recording (for throughput-sensitive callers such as benchmarks).
    pub fn untraced(mut self) -> Self {
        self.traced = false;
        self
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        // Drop consumed bytes once they dominate the buffer.
        if self.start > 4096 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.base += self.start;
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet consumed as a whole message.
    pub fn pending(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    fn fail(&mut self, e: DecodeError) -> DecodeError {
        self.failed = Some(e.clone());
        e
    }

    /// The next whole message, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let avail = self.buf.get(self.start..).unwrap_or(&[]);
        let Some(size_bytes) = avail.get(..4) else {
            return Ok(None);
        };
        let offset = self.base + self.start;
        let mut size4 = [0u8; 4];
        size4.copy_from_slice(size_bytes);
        let msg_size = u32::from_le_bytes(size4);
        if avail.len() < HEADER_SIZE {
            return Ok(None);
        }
        if let Err(e) = check_msg_size(msg_size, offset, &self.layout) {
            return Err(self.fail(e));
        }
        let Some(total) = usize::try_from(msg_size)
            .ok()
            .and_then(|n| n.checked_add(HEADER_SIZE))
        else {
            return Err(self.fail(DecodeError::invalid(
                offset,
                "header.msgSize",
                "does not fit in memory",
            )));
        };
        let Some(frame) = avail.get(..total) else {
            return Ok(None);
        };
        let frame = frame.to_vec();
        match decode_message(&frame, offset, &self.layout, self.traced) {
            Ok((message, spans)) => {
                self.start += total;
                Ok(Some(Frame {
                    message,
                    offset,
                    bytes: frame,
                    spans,
                }))
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// At end of input: an error if a partial message is left (or the stream already failed).
    pub fn finish(&mut self) -> Result<(), DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let avail = self.buf.get(self.start..).unwrap_or(&[]);
        if avail.is_empty() {
            return Ok(());
        }
        let offset = self.base + self.start;
        if avail.len() < HEADER_SIZE {
            return Err(DecodeError::new(
                offset,
                "header",
                DecodeErrorKind::Truncated {
                    needed: HEADER_SIZE,
                    available: avail.len(),
                },
            ));
        }
        let mut size4 = [0u8; 4];
        size4.copy_from_slice(avail.get(..4).unwrap_or(&[0; 4]));
        let needed = usize::try_from(u32::from_le_bytes(size4)).unwrap_or(usize::MAX);
        Err(DecodeError::new(
            offset + HEADER_SIZE,
            "body",
            DecodeErrorKind::Truncated {
                needed,
                available: avail.len() - HEADER_SIZE,
            },
        ))
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
    use crate::limits::MAX_MSG_SIZE;
    use crate::profile::Profile;

    fn header(size: u32) -> Vec<u8> {
        let mut h = size.to_le_bytes().to_vec();
        h.extend_from_slice(&[0x13, 0x05, 0x04, 0x00]);
        h
    }

    #[test]
    fn lying_msg_size_fails_as_soon_as_the_header_is_in() {
        let mut f = Framer::new(Layout::new(Profile::Now16));
        f.push(&header(0xFFFF_FFFF)[..7]);
        assert_eq!(f.next_frame().unwrap(), None);
        f.push(&[0]);
        let e = f.next_frame().unwrap_err();
        assert_eq!(e.field, "header.msgSize");
        assert!(matches!(
            e.kind,
            DecodeErrorKind::OverLimit {
                limit: "NOW_MAX_MSG_SIZE",
                ..
            }
        ));
        // The error is final.
        f.push(&[0; 16]);
        assert!(f.next_frame().is_err());
        assert!(f.finish().is_err());
    }

    #[test]
    fn msg_size_limit_at_n_and_n_plus_one() {
        let n = MAX_MSG_SIZE.max as u32;
        // N: a DATA message whose body is exactly N bytes decodes.
        let data_len = n - 4 - 4; // sessionId + 4-byte VARU32 size
        let mut m = header(n);
        m.extend_from_slice(&7u32.to_le_bytes());
        let mut size = data_len.to_be_bytes();
        size[0] |= 0xC0;
        m.extend_from_slice(&size);
        m.resize(8 + n as usize, 0xAB);
        let mut f = Framer::new(Layout::new(Profile::Now16)).untraced();
        f.push(&m);
        let frame = f.next_frame().unwrap().unwrap();
        assert_eq!(frame.bytes.len(), 8 + n as usize);
        f.finish().unwrap();
        // N + 1: refused from the header alone.
        let mut f = Framer::new(Layout::new(Profile::Now16));
        f.push(&header(n + 1));
        assert!(matches!(
            f.next_frame().unwrap_err().kind,
            DecodeErrorKind::OverLimit { .. }
        ));
    }

    #[test]
    fn max_msg_size_param_lowers_the_limit() {
        let mut l = Layout::new(Profile::Now16);
        l.apply_param("max-msg-size", "4").unwrap();
        let mut f = Framer::new(l);
        f.push(&header(5));
        assert!(f.next_frame().is_err());
        let mut f = Framer::new(l);
        f.push(&[4, 0, 0, 0, 0x13, 0x06, 0, 0, 1, 0, 0, 0]);
        assert!(f.next_frame().unwrap().is_some());
    }

    #[test]
    fn messages_split_anywhere_and_back_to_back() {
        let one = [0u8, 0, 0, 0, 0x10, 0x02, 0, 0];
        let two = [4u8, 0, 0, 0, 0x13, 0x06, 0, 0, 5, 0, 0, 0];
        let stream: Vec<u8> = one.iter().chain(two.iter()).copied().collect();
        for cut in 0..stream.len() {
            let mut f = Framer::new(Layout::new(Profile::Now16));
            let mut names = Vec::new();
            for part in [&stream[..cut], &stream[cut..]] {
                f.push(part);
                while let Some(fr) = f.next_frame().unwrap() {
                    names.push((fr.message.name(), fr.offset));
                }
            }
            assert_eq!(names, vec![("channel.heartbeat", 0), ("exec.started", 8)]);
            f.finish().unwrap();
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // Deterministic xorshift: headers with plausible classes and small sizes, random bodies.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for profile in [Profile::Now16, Profile::Now13, Profile::Now10Text] {
            for _ in 0..20_000 {
                let len = (next() % 64) as usize;
                let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                if buf.len() >= 8 {
                    buf[0] = (len - 8) as u8;
                    buf[1] = 0;
                    buf[2] = 0;
                    buf[3] = 0;
                    buf[4] = 0x10 + (next() % 6) as u8;
                    buf[5] = [1, 2, 3, 4, 5, 6, 7, 8, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x20]
                        [(next() % 15) as usize];
                }
                let mut f = Framer::new(Layout::new(profile));
                f.push(&buf);
                while let Ok(Some(_)) = f.next_frame() {}
                let _ = f.finish();
            }
        }
    }
}
