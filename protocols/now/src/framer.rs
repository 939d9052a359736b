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
        Framer { layout, buf: Vec::new(), start: 0, base: 0, failed: None, traced: true }
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
        let Some(size_bytes) = avail.get(..4) else { return Ok(None) };
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
        let Some(total) = usize::try_from(msg_size).ok().and_then(|n| n.checked_add(HEADER_SIZE)) else {
            return Err(self.fail(DecodeError::invalid(offset, "header.msgSize", "does not fit in memory")));
        };
        let Some(frame) = avail.get(..total) else { return Ok(None) };
        let frame = frame.to_vec();
        match decode_message(&frame, offset, &self.layout, self.traced) {
            Ok((message, spans)) => {
                self.start += total;
                Ok(Some(Frame { message, offset, bytes: frame, spans }))
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
                DecodeErrorKind::Truncated { needed: HEADER_SIZE, available: avail.len() },
            ));
        }
        let mut size4 = [0u8; 4];
        size4.copy_from_slice(avail.get(..4).unwrap_or(&[0; 4]));
        let needed = usize::try_from(u32::from_le_bytes(size4)).unwrap_or(usize::MAX);
        Err(DecodeError::new(
            offset + HEADER_SIZE,
            "body",
            DecodeErrorKind::Truncated { needed, available: avail.len() - HEADER_SIZE },
        ))
    }
}
