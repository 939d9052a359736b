//! Frames after the handshake, plain and AES (spec "Client to Server Message", "Server to Client
//! Message").
//!
//! Plain (no encryption, or inside TLS): `length` (int32, the length of Data only — ERRATA Inedo-6),
//! `agentType` (int8; client → server in v1 only, ERRATA Inedo-10), `command` (int32), `data`.
//! Server → client data starts at offset 8, not 5 (ERRATA Inedo-4).
//!
//! AES: `length` (int32, the length of the whole encrypted part — ERRATA Inedo-6), then AES-CBC with
//! PKCS#7 of `nextIv` (16 bytes) + the plain fields after the length (ERRATA Inedo-7).

use crate::config::Version;
use crate::crypto::{AesKey, DecryptError, Padding, BLOCK};
use crate::limits::MAX_FRAME_LEN;
use crate::span_writer::SpanWriter;
use crate::types::{AgentType, Iv};
use peercheck_wire::{DecodeError, DecodeErrorKind, Direction, EncodeError, FieldSpan, Reader};

/// The content of one frame, whatever the encryption.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FrameBody {
    /// Present exactly when [`has_agent_type`] says so.
    pub agent_type: Option<AgentType>,
    pub command: i32,
    pub data: Vec<u8>,
}

/// Smallest AES frame: the next IV plus the header fields fill more than one block, so PKCS#7 makes
/// at least two.
pub const MIN_AES_LEN: usize = 2 * BLOCK;

/// Only v1 client frames carry the agent-type byte (ERRATA Inedo-10).
pub fn has_agent_type(direction: Direction, version: Version) -> bool {
    direction == Direction::ToServer && version == Version::V1
}

fn data_len(data: &[u8]) -> Result<i32, EncodeError> {
    i32::try_from(data.len()).map_err(|_| EncodeError::new("data", "longer than an int32 length"))
}

fn put_header(w: &mut SpanWriter, body: &FrameBody) {
    if let Some(agent) = body.agent_type {
        w.put("agentType", &[agent.0], agent.to_string());
    }
    w.put_i32("command", body.command);
}

/// A plain frame: length of Data, then the header fields and the data.
pub fn encode_plain(body: &FrameBody) -> Result<SpanWriter, EncodeError> {
    let mut w = SpanWriter::default();
    w.put_i32("length", data_len(&body.data)?);
    put_header(&mut w, body);
    w.put_blob("data", &body.data);
    Ok(w)
}

/// What a plain decode found: the body and where its data started (absolute offset).
#[derive(Debug)]
pub struct PlainFrame {
    pub body: FrameBody,
    pub data_offset: usize,
}

/// Read a frame length and hold it to [`MAX_FRAME_LEN`] before anything is buffered for it.
fn read_length(r: &mut Reader<'_>) -> Result<usize, DecodeError> {
    let start = r.offset();
    let len = r.i32_le("length")?;
    let len =
        u64::try_from(len).map_err(|_| r.invalid_at(start, "length", format!("negative length {len}")))?;
    if len > MAX_FRAME_LEN.max {
        return Err(DecodeError::new(
            start,
            r.path("length"),
            DecodeErrorKind::OverLimit {
                value: len,
                max: MAX_FRAME_LEN.max,
                limit: MAX_FRAME_LEN.name,
            },
        ));
    }
    usize::try_from(len).map_err(|_| r.invalid_at(start, "length", "does not fit in memory"))
}

/// Decode one plain frame from the stream. A truncation error means "wait for more bytes".
pub fn decode_plain(
    r: &mut Reader<'_>,
    direction: Direction,
    version: Version,
) -> Result<PlainFrame, DecodeError> {
    let len = read_length(r)?;
    let agent_type = if has_agent_type(direction, version) {
        Some(AgentType(r.u8("agentType")?))
    } else {
        None
    };
    let command = r.i32_le("command")?;
    let data_offset = r.offset();
    let data = r.bytes(len, "data")?.to_vec();
    Ok(PlainFrame {
        body: FrameBody {
            agent_type,
            command,
            data,
        },
        data_offset,
    })
}

/// The AES plaintext: the next IV, then the plain header fields and the data (no length).
pub fn aes_plaintext(next_iv: Iv, body: &FrameBody) -> SpanWriter {
    let mut w = SpanWriter::default();
    w.put_blob("nextIv", &next_iv.0);
    put_header(&mut w, body);
    w.put_blob("data", &body.data);
    w
}

/// Encrypt a plaintext under `iv` and put the length of the ciphertext in front.
pub fn seal(key: &AesKey, iv: Iv, plaintext: &[u8], padding: Padding) -> Result<SpanWriter, EncodeError> {
    let ciphertext = key.encrypt(&iv.0, plaintext, padding);
    let mut w = SpanWriter::default();
    w.put_i32(
        "length",
        data_len(&ciphertext).map_err(|e| EncodeError::new("length", e.reason))?,
    );
    w.put(
        "ciphertext",
        &ciphertext,
        format!("{} bytes under iv {}", ciphertext.len(), hex::encode(iv.0)),
    );
    Ok(w)
}

/// Read the envelope of an AES frame: the length (held to the limit, whole blocks, at least
/// [`MIN_AES_LEN`]) and the ciphertext. A truncation error means "wait for more bytes".
pub fn read_sealed<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], DecodeError> {
    let start = r.offset();
    let len = read_length(r)?;
    if len % BLOCK != 0 || len < MIN_AES_LEN {
        return Err(r.invalid_at(
            start,
            "length",
            format!("{len} is not a whole number (at least 2) of 16-byte AES blocks (ERRATA Inedo-6/7)"),
        ));
    }
    r.bytes(len, "ciphertext")
}

/// Decrypt a ciphertext; a bad padding names the `padding` field.
pub fn open(key: &AesKey, iv: Iv, ciphertext: &[u8], offset: usize) -> Result<Vec<u8>, DecodeError> {
    key.decrypt(&iv.0, ciphertext).map_err(|e| match e {
        DecryptError::BadPadding => DecodeError::invalid(
            offset,
            "padding",
            "bad PKCS#7 padding after AES-CBC decryption: wrong key or corrupted frame (ERRATA Inedo-7)",
        ),
        DecryptError::NotBlockAligned => {
            DecodeError::invalid(offset, "ciphertext", "not a whole number of blocks")
        }
    })
}

/// A decrypted AES frame: the next IV, the body, where the data starts and the field spans.
#[derive(Debug)]
pub struct OpenedFrame {
    pub next_iv: Iv,
    pub body: FrameBody,
    pub data_offset: usize,
    /// `decrypted.*` spans. CBC decrypts block k from ciphertext block k, so plaintext byte i sits at
    /// ciphertext byte i: the spans lie over the ciphertext bytes that carry each field.
    pub spans: Vec<FieldSpan>,
}

/// Parse a decrypted AES plaintext whose ciphertext starts at `offset` (absolute) and is
/// `sealed_len` bytes long. The frame is complete, so running short is an error, not a reason to wait.
pub fn parse_plaintext(
    plaintext: &[u8],
    direction: Direction,
    version: Version,
    offset: usize,
    sealed_len: usize,
) -> Result<OpenedFrame, DecodeError> {
    let mut r = Reader::new(plaintext).with_base(offset).traced();
    let parsed = r.scope("decrypted", |r| {
        let next_iv = Iv(r.array::<16>("nextIv")?);
        let agent_type = if has_agent_type(direction, version) {
            Some(AgentType(r.u8("agentType")?))
        } else {
            None
        };
        let command = r.i32_le("command")?;
        let data_offset = r.offset();
        let data = r.rest("data").to_vec();
        Ok((
            next_iv,
            FrameBody {
                agent_type,
                command,
                data,
            },
            data_offset,
        ))
    });
    let (next_iv, body, data_offset) = parsed.map_err(|e: DecodeError| {
        DecodeError::invalid(
            e.offset,
            e.field,
            format!("decrypted frame too short: {}", e.kind),
        )
    })?;
    let mut spans = r.take_spans();
    let pad_start = offset + plaintext.len();
    let pad_end = offset + sealed_len;
    if pad_end > pad_start {
        spans.push(FieldSpan {
            start: pad_start,
            end: pad_end,
            name: "decrypted.padding".to_owned(),
            value: format!("PKCS#7, {} byte(s)", pad_end - pad_start),
        });
    }
    Ok(OpenedFrame {
        next_iv,
        body,
        data_offset,
        spans,
    })
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::cast_possible_truncation
    )]
    use super::*;

    fn body(agent: Option<u8>, command: i32, data: &[u8]) -> FrameBody {
        FrameBody {
            agent_type: agent.map(AgentType),
            command,
            data: data.to_vec(),
        }
    }

    #[test]
    fn client_plain_frame_layout() {
        let w = encode_plain(&body(Some(1), 5, b"ab")).unwrap();
        assert_eq!(hex::encode(&w.bytes), "02000000010500000061 62".replace(' ', ""));
        let f = decode_plain(&mut Reader::new(&w.bytes), Direction::ToServer, Version::V1).unwrap();
        assert_eq!(f.body, body(Some(1), 5, b"ab"));
        assert_eq!(f.data_offset, 9);
    }

    #[test]
    fn server_plain_frame_puts_data_at_offset_8() {
        // ERRATA Inedo-4: not at 5 as the table says.
        let w = encode_plain(&body(None, 3, b"xyz")).unwrap();
        assert_eq!(&w.bytes[8..], b"xyz");
        let f = decode_plain(&mut Reader::new(&w.bytes), Direction::ToClient, Version::V1).unwrap();
        assert_eq!(f.data_offset, 8);
    }

    #[test]
    fn frame_length_at_limit_passes_and_one_over_fails_on_the_length_alone() {
        let max = MAX_FRAME_LEN.max as usize;
        let big = body(None, 1, &vec![0u8; max]);
        let w = encode_plain(&big).unwrap();
        assert_eq!(
            decode_plain(&mut Reader::new(&w.bytes), Direction::ToClient, Version::V1)
                .unwrap()
                .body,
            big
        );
        let over = i32::try_from(max + 1).unwrap().to_le_bytes();
        let e = decode_plain(&mut Reader::new(&over), Direction::ToClient, Version::V1).unwrap_err();
        assert!(
            matches!(
                e.kind,
                DecodeErrorKind::OverLimit {
                    limit: "INEDO_MAX_FRAME_LEN",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn negative_length_is_invalid() {
        let e = decode_plain(
            &mut Reader::new(&(-1i32).to_le_bytes()),
            Direction::ToClient,
            Version::V1,
        )
        .unwrap_err();
        assert!(e.to_string().contains("negative"));
    }

    #[test]
    fn aes_round_trip_and_length_counts_the_ciphertext() {
        let key = AesKey::parse("000102030405060708090a0b0c0d0e0f").unwrap();
        let iv = Iv([9; 16]);
        let next = Iv([10; 16]);
        let b = body(Some(0), 3, b"");
        let pt = aes_plaintext(next, &b);
        assert_eq!(pt.bytes.len(), 21);
        let w = seal(&key, iv, &pt.bytes, Padding::Pkcs7).unwrap();
        assert_eq!(&w.bytes[..4], &32i32.to_le_bytes());
        let mut r = Reader::new(&w.bytes);
        let ct = read_sealed(&mut r).unwrap();
        let plain = open(&key, iv, ct, 4).unwrap();
        let opened = parse_plaintext(&plain, Direction::ToServer, Version::V1, 4, ct.len()).unwrap();
        assert_eq!((opened.next_iv, opened.body), (next, b));
        let names: Vec<&str> = opened.spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "decrypted.nextIv",
                "decrypted.agentType",
                "decrypted.command",
                "decrypted.data",
                "decrypted.padding"
            ]
        );
        assert_eq!((opened.spans[4].start, opened.spans[4].end), (4 + 21, 4 + 32));
    }

    #[test]
    fn ragged_or_tiny_aes_lengths_are_refused() {
        for len in [31i32, 16, 0, 33] {
            let mut bytes = len.to_le_bytes().to_vec();
            bytes.resize(4 + 64, 0);
            assert!(
                read_sealed(&mut Reader::new(&bytes))
                    .unwrap_err()
                    .to_string()
                    .contains("blocks"),
                "{len}"
            );
        }
    }

    #[test]
    fn short_plaintext_is_invalid_not_truncated() {
        let e = parse_plaintext(&[0; 18], Direction::ToServer, Version::V1, 4, 32).unwrap_err();
        assert!(!e.is_truncation());
        assert!(e.field.starts_with("decrypted."));
    }
}
