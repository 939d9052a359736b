//! The decode paths of the codec fuzz targets, one function per target.
//!
//! This file is shared: `fuzz/fuzz_targets/*.rs` call it, and `golden/tests/fuzz_regressions.rs`
//! includes it with `#[path]` to replay `fuzz/regressions/<target>/*` on stable in ordinary
//! `cargo test`. So it depends only on crates both places have: the codecs, serde_json, hex.
//!
//! Every path returns normally on any input; a panic (or an abort from a sanitizer) is a finding.
//! Inputs with a leading selector byte use it for the direction and the write split, so one corpus
//! file always means the same bytes in the same order.

use peercheck_wire::session::{ProtocolDef, Role, SessionOptions};
use std::collections::BTreeMap;

/// A target's body: takes the fuzzer's bytes, returns normally or panics (a finding).
pub type Body = fn(&[u8]);

/// The codec targets: name and decode path. `golden/tests/fuzz_regressions.rs` walks this list.
pub const CODEC_TARGETS: &[(&str, Body)] = &[
    ("now_stream_1_6", now_stream_1_6),
    ("now_stream_1_3", now_stream_1_3),
    ("now_stream_1_0_text", now_stream_1_0_text),
    ("psrp_fragments", psrp_fragments),
    ("psrp_defragment", psrp_defragment),
    ("psrp_message", psrp_message),
    ("psrp_clixml", psrp_clixml),
    ("psrp_outofproc", psrp_outofproc),
    ("inedo_handshake", inedo_handshake),
    ("inedo_frames", inedo_frames),
    ("inedo_frames_aes", inedo_frames_aes),
];

/// The AES key and IV of the `inedo_frames_aes` target (those of golden/inedo/frames-aes.yaml).
pub const INEDO_KEY: &str = "000102030405060708090a0b0c0d0e0f";
pub const INEDO_IV: &str = "f0e0d0c0b0a090807060504030201000";

/// Split `data` into (receiver role, write sizes, payload): byte 0 bit 0 = direction (0: we are the
/// server, decoding what a client sends), bits 1..7 = chunk size (0 = one write).
pub fn selector(data: &[u8]) -> (Role, usize, &[u8]) {
    match data.split_first() {
        Some((&b, rest)) => {
            let role = if b & 1 == 0 { Role::Server } else { Role::Client };
            (role, usize::from(b >> 1), rest)
        }
        None => (Role::Server, 0, &[]),
    }
}

fn options(role: Role, profile: Option<&str>, params: &[(&str, &str)]) -> SessionOptions {
    SessionOptions {
        local_role: Some(role),
        profile: profile.map(str::to_owned),
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// Feed `payload` to a fresh receiving session in writes of `chunk` bytes, draining after each write;
/// re-encode every decoded message with a sending session (must not panic either). Returns how many
/// messages decoded.
pub fn drive_session(proto: &dyn ProtocolDef, opts: &SessionOptions, chunk: usize, payload: &[u8]) -> usize {
    let Ok(mut rx) = proto.new_session(opts) else {
        return 0;
    };
    let mut tx_opts = opts.clone();
    tx_opts.local_role = opts.local_role.map(Role::other);
    let mut tx = proto.new_session(&tx_opts).ok();
    let mut decoded = 0usize;
    let chunks: Vec<&[u8]> = if chunk == 0 {
        vec![payload]
    } else {
        payload.chunks(chunk).collect()
    };
    'outer: for c in chunks {
        rx.push_received(c);
        while rx.poll_transmit().is_some() {}
        loop {
            match rx.next_received() {
                Ok(Some(m)) => {
                    decoded += 1;
                    // The decoded form must be something the encoder accepts or refuses cleanly.
                    if let Some(tx) = tx.as_mut() {
                        let mut msg = serde_json::Map::new();
                        msg.insert(m.name.clone(), m.fields.clone());
                        let _ = tx.encode(&serde_json::Value::Object(msg));
                        while tx.poll_transmit().is_some() {}
                    }
                    let _ = rx.annotate_sent(&m.bytes);
                }
                Ok(None) => break,
                Err(_) => break 'outer,
            }
        }
    }
    let _ = rx.finish();
    decoded
}

fn session_target(proto: &dyn ProtocolDef, profile: Option<&str>, params: &[(&str, &str)], data: &[u8]) {
    let (role, chunk, payload) = selector(data);
    drive_session(proto, &options(role, profile, params), chunk, payload);
}

pub fn now_stream_1_6(data: &[u8]) {
    session_target(peercheck_now::protocol(), Some("now-1.6"), &[], data);
}

pub fn now_stream_1_3(data: &[u8]) {
    session_target(peercheck_now::protocol(), Some("now-1.3"), &[], data);
}

pub fn now_stream_1_0_text(data: &[u8]) {
    session_target(peercheck_now::protocol(), Some("now-1.0-text"), &[], data);
}

/// Raw fragments back to back: fragment framing, the defragmenter, the message header, CLIXML.
pub fn psrp_fragments(data: &[u8]) {
    session_target(
        peercheck_psrp::protocol(),
        None,
        &[("framing", "fragments")],
        data,
    );
}

/// The defragmenter alone (fragments of several objects interleaved, blobs split across pushes).
pub fn psrp_defragment(data: &[u8]) {
    let (_, chunk, payload) = selector(data);
    let mut d = peercheck_psrp::defragment::Defragmenter::new();
    let chunks: Vec<&[u8]> = if chunk == 0 {
        vec![payload]
    } else {
        payload.chunks(chunk).collect()
    };
    'outer: for c in chunks {
        d.push(c);
        loop {
            match d.next_object() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => break 'outer,
            }
        }
    }
    let _ = d.finish();
}

/// One reassembled PSRP message: §2.2.1 header, then the body by message type (CLIXML).
pub fn psrp_message(data: &[u8]) {
    let mut r = peercheck_wire::Reader::new(data).traced();
    if let Ok(m) = peercheck_psrp::header::Message::decode(&mut r) {
        if let Ok((name, fields)) = peercheck_psrp::messages::decode_structured(&m) {
            let d = peercheck_psrp::messages::EncodeDefaults {
                destination: m.destination,
                rpid: m.rpid,
                bom: true,
                protocol_version: "2.3".to_owned(),
            };
            let _ = peercheck_psrp::messages::encode_structured(&name, &fields, &d);
        }
    }
}

/// CLIXML text (any bytes; invalid UTF-8 is lossily converted, as a careless caller would).
pub fn psrp_clixml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = peercheck_psrp::clixml::read::parse(&text);
}

/// PowerShell's OutOfProc line protocol (the default framing), the whole stack below it.
pub fn psrp_outofproc(data: &[u8]) {
    let (role, chunk, payload) = selector(data);
    for line in payload.split(|&b| b == b'\n') {
        let _ = peercheck_psrp::outofproc::Packet::decode(line, 0);
    }
    drive_session(
        peercheck_psrp::protocol(),
        &options(role, None, &[("framing", "outofproc")]),
        chunk,
        payload,
    );
}

/// The handshake (to the agent) or the handshake reply (to the client), then frames.
pub fn inedo_handshake(data: &[u8]) {
    let (role, chunk, payload) = selector(data);
    for profile in ["inedo-v1", "inedo-v2"] {
        drive_session(
            peercheck_inedo::protocol(),
            &options(role, Some(profile), &[]),
            chunk,
            payload,
        );
    }
}

/// Plain frames after the handshake.
pub fn inedo_frames(data: &[u8]) {
    session_target(peercheck_inedo::protocol(), None, &[("phase", "frames")], data);
}

/// AES frames after the handshake (fixed key and IV, so the fuzzer can reach the plaintext parser
/// through corpus entries encrypted by the generator).
pub fn inedo_frames_aes(data: &[u8]) {
    session_target(
        peercheck_inedo::protocol(),
        None,
        &[
            ("phase", "frames"),
            ("encryption", "aes"),
            ("key", INEDO_KEY),
            ("iv", INEDO_IV),
        ],
        data,
    );
}
