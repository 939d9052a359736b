//! Structure-aware round trip: a structured message drawn from the protocol's schema is encoded by
//! one session, decoded by a fresh session of the other side, and the decoded form re-encoded by a
//! fresh sending session. Properties:
//! - NOW: what our encoder writes, our decoder reads back as exactly one message (the encoder never
//!   writes what the decoder rejects);
//! - every protocol: re-encoding the decoded form gives the same bytes (decode and encode agree on
//!   every field, nothing is silently dropped or defaulted).

use crate::gen;
use arbitrary::Unstructured;
use peercheck_wire::session::{ProtocolDef, Role, SessionOptions, WireSession};
use std::collections::BTreeMap;

fn session(
    proto: &dyn ProtocolDef,
    role: Role,
    profile: &str,
    params: &BTreeMap<String, String>,
) -> Option<Box<dyn WireSession>> {
    proto
        .new_session(&SessionOptions {
            local_role: Some(role),
            profile: Some(profile.to_owned()),
            params: params.clone(),
        })
        .ok()
}

fn encode_all(s: &mut dyn WireSession, msg: &serde_json::Value) -> Option<Vec<u8>> {
    let mut b = s.encode(msg).ok()?;
    // Bytes the session writes by itself (acks) are not part of the message.
    while s.poll_transmit().is_some() {}
    if b.is_empty() {
        return None;
    }
    b.shrink_to_fit();
    Some(b)
}

/// Returns `(message name, decoded fields)` if the bytes decode to exactly one message.
fn decode_one(s: &mut dyn WireSession, bytes: &[u8]) -> Result<Option<serde_json::Value>, String> {
    s.push_received(bytes);
    let mut out = Vec::new();
    loop {
        match s.next_received() {
            Ok(Some(m)) => {
                let mut o = serde_json::Map::new();
                o.insert(m.name.clone(), m.fields);
                out.push(serde_json::Value::Object(o));
            }
            Ok(None) => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    s.finish().map_err(|e| e.to_string())?;
    Ok(if out.len() == 1 { out.pop() } else { None })
}

fn run(proto: &dyn ProtocolDef, params: &[BTreeMap<String, String>], strict_decode: bool, data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(profile) = u.choose(proto.profiles()) else {
        return;
    };
    let Ok(p) = u.choose(params) else { return };
    let role = if u.arbitrary::<bool>().unwrap_or(false) {
        Role::Client
    } else {
        Role::Server
    };
    let schema = gen::schema_of(proto);
    let Ok(msg) = gen::message(schema, &mut u) else {
        return;
    };
    let Some(mut tx) = session(proto, role, profile, p) else {
        return;
    };
    let Some(bytes) = encode_all(tx.as_mut(), &msg) else {
        return;
    };
    let Some(mut rx) = session(proto, role.other(), profile, p) else {
        return;
    };
    let decoded = match decode_one(rx.as_mut(), &bytes) {
        Ok(Some(d)) => d,
        Ok(None) => return,
        Err(e) => {
            assert!(
                !strict_decode,
                "{}: our decoder rejects what our encoder wrote: {e}\nmessage: {msg}\nbytes: {}",
                proto.name(),
                hex::encode(&bytes)
            );
            return;
        }
    };
    let Some(mut tx2) = session(proto, role, profile, p) else {
        return;
    };
    let again = encode_all(tx2.as_mut(), &decoded);
    assert_eq!(
        again.as_deref().map(hex::encode),
        Some(hex::encode(&bytes)),
        "{} {profile}: re-encoding the decoded form changed the bytes\nmessage: {msg}\ndecoded: {decoded}",
        proto.name()
    );
}

fn params(list: &[&[(&str, &str)]]) -> Vec<BTreeMap<String, String>> {
    list.iter()
        .map(|kv| {
            kv.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        })
        .collect()
}

pub fn roundtrip_now(data: &[u8]) {
    run(peercheck_now::protocol(), &params(&[&[]]), true, data);
}

pub fn roundtrip_psrp(data: &[u8]) {
    let p = params(&[&[("framing", "fragments")], &[("framing", "outofproc")]]);
    run(peercheck_psrp::protocol(), &p, false, data);
}

pub fn roundtrip_inedo(data: &[u8]) {
    let p = params(&[
        &[],
        &[("phase", "frames")],
        &[
            ("phase", "frames"),
            ("encryption", "aes"),
            ("key", crate::paths::INEDO_KEY),
            ("iv", crate::paths::INEDO_IV),
        ],
    ]);
    run(peercheck_inedo::protocol(), &p, false, data);
}
