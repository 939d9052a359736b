#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use super::*;
use crate::limits::MAX_FRAME_LEN;
use rstest::rstest;
use serde_json::json;

const KEY128: &str = "000102030405060708090a0b0c0d0e0f";
const KEY256: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn options(role: Role, profile: &str, params: &[(&str, &str)]) -> SessionOptions {
    SessionOptions {
        local_role: Some(role),
        profile: Some(profile.to_owned()),
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn session(role: Role, profile: &str, params: &[(&str, &str)]) -> InedoSession {
    InedoSession::new(&options(role, profile, params)).unwrap()
}

/// Encode on `from`, deliver everything (and whatever TLS wants written) to `to`, return what `to` decoded.
fn send(from: &mut InedoSession, to: &mut InedoSession, message: serde_json::Value) -> Vec<Decoded> {
    let bytes = from.encode(&message).unwrap();
    to.push_received(&bytes);
    pump(from, to)
}

/// Shuttle TLS records both ways until quiet; collect what `b` decoded.
fn pump(a: &mut InedoSession, b: &mut InedoSession) -> Vec<Decoded> {
    let mut got = Vec::new();
    for _ in 0..20 {
        let mut moved = false;
        if let Some(x) = a.poll_transmit() {
            b.push_received(&x);
            moved = true;
        }
        if let Some(x) = b.poll_transmit() {
            a.push_received(&x);
            moved = true;
        }
        while let Some(d) = b.next_received().unwrap() {
            got.push(d);
        }
        if !moved {
            break;
        }
    }
    while let Some(d) = b.next_received().unwrap() {
        got.push(d);
    }
    got
}

fn one(mut v: Vec<Decoded>) -> Decoded {
    assert_eq!(v.len(), 1, "{v:?}");
    v.remove(0)
}

/// Handshake, reply, Get Agent Root Path, its reply, one product command and one response.
fn conversation(profile: &str, params: &[(&str, &str)]) -> (InedoSession, InedoSession) {
    let mut c = session(Role::Client, profile, params);
    let mut s = session(Role::Server, profile, params);
    let h = one(send(&mut c, &mut s, json!({ "handshake": {} })));
    assert_eq!(h.name, "handshake");
    let r = one(send(&mut s, &mut c, json!({ "handshake-reply": {} })));
    assert_eq!(r.name, "handshake-reply");
    let q = one(send(&mut c, &mut s, json!({ "meta.get-agent-root-path": {} })));
    assert_eq!(q.name, "meta.get-agent-root-path");
    let a = one(send(
        &mut s,
        &mut c,
        json!({ "meta.get-agent-root-path-reply": { "path": "C:\\InedoAgent" } }),
    ));
    assert_eq!(a.name, "meta.get-agent-root-path-reply");
    assert_eq!(a.fields["path"], "C:\\InedoAgent");
    let cmd = if profile == "inedo-v2" {
        json!({ "command": { "command": 77, "data": "0102" } })
    } else {
        json!({ "command": { "agentType": "otter", "command": 77, "data": "0102" } })
    };
    let x = one(send(&mut c, &mut s, cmd));
    assert_eq!(
        (x.name.as_str(), &x.fields["command"], &x.fields["data"]),
        ("command", &json!(77), &json!("0102"))
    );
    let y = one(send(
        &mut s,
        &mut c,
        json!({ "response": { "command": 77, "data": "ff" } }),
    ));
    assert_eq!((y.name.as_str(), &y.fields["data"]), ("response", &json!("ff")));
    c.finish().unwrap();
    s.finish().unwrap();
    (c, s)
}

#[rstest]
#[case("inedo-v1", &[])]
#[case("inedo-v2", &[])]
#[case("inedo-v1", &[("server-version", "int32")])]
#[case("inedo-v1", &[("encryption", "aes"), ("key", KEY128)])]
#[case("inedo-v1", &[("encryption", "aes"), ("key", KEY256), ("iv-chain", "shared")])]
#[case("inedo-v2", &[("encryption", "aes"), ("key", KEY128), ("iv", "ffffffffffffffffffffffffffffffff")])]
#[case("inedo-v1", &[("encryption", "ssl")])]
#[case("inedo-v2", &[("encryption", "ssl")])]
fn client_and_server_sessions_talk_in_every_mode(#[case] profile: &str, #[case] params: &[(&str, &str)]) {
    let (c, s) = conversation(profile, params);
    assert_eq!(c.encryption_mode(), s.encryption_mode());
}

#[test]
fn v2_client_frames_have_no_agent_type_byte() {
    let mut c = session(Role::Client, "inedo-v2", &[("phase", "frames")]);
    let bytes = c.encode(&json!({ "meta.get-agent-root-path": {} })).unwrap();
    assert_eq!(hex::encode(bytes), "0000000003000000");
    assert!(c.encode(&json!({ "command": { "agentType": "otter" } })).is_err());
}

#[test]
fn per_direction_chains_start_from_the_reply_iv_and_follow_next_iv() {
    let params = [
        ("encryption", "aes"),
        ("key", KEY128),
        ("iv", "11111111111111111111111111111111"),
    ];
    let mut c = session(Role::Client, "inedo-v1", &params);
    let mut s = session(Role::Server, "inedo-v1", &params);
    send(&mut c, &mut s, json!({ "handshake": {} }));
    send(&mut s, &mut c, json!({ "handshake-reply": {} }));
    let first = Iv::parse("11111111111111111111111111111111").unwrap();
    assert_eq!((c.send_iv(), c.recv_iv()), (first, first));
    let next = "22222222222222222222222222222222";
    let d = one(send(
        &mut c,
        &mut s,
        json!({ "command": { "command": 9, "nextIv": next } }),
    ));
    assert_eq!(d.fields["nextIv"], next);
    assert_eq!(s.last_recv_iv(), Some(first));
    // Per direction: the server's own send chain has not moved.
    assert_eq!((s.recv_iv(), s.send_iv()), (Iv::parse(next).unwrap(), first));
    // Without nextIv the encoder counts up deterministically.
    let d = one(send(&mut s, &mut c, json!({ "response": { "command": 9 } })));
    assert_eq!(d.fields["nextIv"], "11111111111111111111111111111112");
}

#[test]
fn a_shared_chain_moves_both_directions() {
    let params = [("encryption", "aes"), ("key", KEY128), ("iv-chain", "shared")];
    let (c, s) = conversation("inedo-v1", &params);
    assert_eq!(c.send_iv(), c.recv_iv());
    assert_eq!(s.send_iv(), c.send_iv());
}

#[test]
fn chain_mismatch_only_garbles_the_decoded_next_iv() {
    // The next IV is the first plaintext block, so a receiver on the wrong chain decrypts the rest
    // correctly: a mismatch shows up only in `nextIv` (worth knowing when reading a trace).
    let mut c = session(
        Role::Client,
        "inedo-v1",
        &[("encryption", "aes"), ("key", KEY128), ("iv-chain", "shared")],
    );
    let mut s = session(
        Role::Server,
        "inedo-v1",
        &[("encryption", "aes"), ("key", KEY128)],
    );
    send(&mut c, &mut s, json!({ "handshake": {} }));
    send(&mut s, &mut c, json!({ "handshake-reply": {} }));
    send(
        &mut c,
        &mut s,
        json!({ "command": { "command": 1, "nextIv": "aa".repeat(16) } }),
    );
    send(
        &mut s,
        &mut c,
        json!({ "response": { "command": 2, "nextIv": "bb".repeat(16) } }),
    );
    // The client (shared) now encrypts under bb…, the server (per direction) decrypts under aa….
    let d = one(send(
        &mut c,
        &mut s,
        json!({ "command": { "command": 3, "data": "0102", "nextIv": "cc".repeat(16) } }),
    ));
    assert_eq!(
        (&d.fields["command"], &d.fields["data"]),
        (&json!(3), &json!("0102"))
    );
    assert_ne!(d.fields["nextIv"], json!("cc".repeat(16)));
}

#[test]
fn a_wrong_key_is_a_named_padding_error() {
    // Fixed key/IV pair for which the wrong key's last block does not happen to end in valid padding.
    let mut c = session(
        Role::Client,
        "inedo-v1",
        &[("phase", "frames"), ("encryption", "aes"), ("key", KEY128)],
    );
    let mut s = session(
        Role::Server,
        "inedo-v1",
        &[
            ("phase", "frames"),
            ("encryption", "aes"),
            ("key", &"ee".repeat(16)),
        ],
    );
    let bytes = c.encode(&json!({ "meta.get-agent-root-path": {} })).unwrap();
    s.push_received(&bytes);
    let e = s.next_received().unwrap_err();
    assert_eq!(e.field, "padding");
    assert!(e.to_string().contains("PKCS#7"));
    assert!(s.finish().is_err());
}

#[test]
fn zero_fill_instead_of_padding_is_detected() {
    let mut c = session(
        Role::Client,
        "inedo-v1",
        &[("phase", "frames"), ("encryption", "aes"), ("key", KEY128)],
    );
    let mut s = session(
        Role::Server,
        "inedo-v1",
        &[("phase", "frames"), ("encryption", "aes"), ("key", KEY128)],
    );
    c.set_padding(Padding::Zero);
    s.push_received(&c.encode(&json!({ "command": { "command": 5 } })).unwrap());
    assert_eq!(s.next_received().unwrap_err().field, "padding");
}

#[test]
fn a_bad_protocol_id_is_refused_at_once() {
    let mut s = session(Role::Server, "inedo-v1", &[]);
    s.push_received(&hex::decode("6cebd24e4af74a13b9af81d3dfc644be").unwrap());
    let e = s.next_received().unwrap_err();
    assert_eq!(e.field, "protocolId");
    let mut lenient = session(Role::Server, "inedo-v1", &[]);
    lenient.set_check_protocol_id(false);
    lenient.push_received(&[0u8; 24]);
    assert_eq!(lenient.next_received().unwrap().unwrap().name, "handshake");
}

#[test]
fn a_lying_length_waits_then_finish_fails_and_an_over_limit_length_fails_at_once() {
    let mut s = session(Role::Server, "inedo-v1", &[("phase", "frames")]);
    s.push_received(&hex::decode("ff000000 00 03000000".replace(' ', "")).unwrap());
    assert!(s.next_received().unwrap().is_none());
    let e = s.finish().unwrap_err();
    assert!(e.to_string().contains("data"), "{e}");
    let mut s = session(Role::Server, "inedo-v1", &[("phase", "frames")]);
    let over = i32::try_from(MAX_FRAME_LEN.max + 1).unwrap();
    s.push_received(&over.to_le_bytes());
    assert!(s
        .next_received()
        .unwrap_err()
        .to_string()
        .contains("INEDO_MAX_FRAME_LEN"));
}

#[test]
fn the_root_path_reply_is_typed_only_while_a_request_is_outstanding() {
    let bytes = hex::decode("0400000003000000 03 616263".replace(' ', "")).unwrap();
    let mut plain = session(Role::Client, "inedo-v1", &[("phase", "frames")]);
    plain.push_received(&bytes);
    assert_eq!(plain.next_received().unwrap().unwrap().name, "response");
    let mut pending = session(
        Role::Client,
        "inedo-v1",
        &[("phase", "frames"), ("pending", "get-agent-root-path")],
    );
    pending.push_received(&bytes);
    let d = pending.next_received().unwrap().unwrap();
    assert_eq!(
        (d.name.as_str(), &d.fields["path"]),
        ("meta.get-agent-root-path-reply", &json!("abc"))
    );
    assert!(d
        .spans
        .iter()
        .any(|s| s.name == "path.length" && (s.start, s.end) == (8, 9)));
}

#[test]
fn a_root_path_string_longer_than_its_frame_is_invalid() {
    let bytes = hex::decode("0400000003000000 09 616263".replace(' ', "")).unwrap();
    let mut c = session(
        Role::Client,
        "inedo-v1",
        &[("phase", "frames"), ("pending", "get-agent-root-path")],
    );
    c.push_received(&bytes);
    let e = c.next_received().unwrap_err();
    assert!(!e.is_truncation());
    assert!(e.field.starts_with("path"), "{e}");
}

#[test]
fn wrong_sender_and_wrong_generation_fields_are_encode_errors() {
    let mut c = session(Role::Client, "inedo-v1", &[]);
    assert!(c.encode(&json!({ "handshake-reply": {} })).is_err());
    assert!(c.encode(&json!({ "response": {} })).is_err());
    assert!(c.encode(&json!({ "nonsense": {} })).is_err());
    assert!(c
        .encode(&json!({ "command": { "nextIv": "00".repeat(16) } }))
        .is_err());
    let mut s = session(Role::Server, "inedo-v1", &[("encryption", "aes")]);
    s.encode(&json!({ "handshake-reply": {} })).unwrap();
    assert_eq!(s.encode(&json!({ "response": {} })).unwrap_err().field, "key");
}

#[test]
fn annotate_sent_names_the_length_field() {
    let mut c = session(Role::Client, "inedo-v1", &[("phase", "frames")]);
    let bytes = c
        .encode(&json!({ "command": { "command": 1, "data": "aabb" } }))
        .unwrap();
    let spans = c.annotate_sent(&bytes);
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["length", "agentType", "command", "data"]);
    assert_eq!((spans[0].start, spans[0].end), (0, 4));
    assert!(c.annotate_sent(b"other").is_empty());
}

/// Every strict prefix of a stream either waits (then `finish` errs) or errs; never panics.
fn assert_prefixes_fail_cleanly(role: Role, profile: &str, params: &[(&str, &str)], stream: &[u8]) {
    for cut in 0..stream.len() {
        let mut s = session(role, profile, params);
        s.push_received(&stream[..cut]);
        let mut count = 0;
        let failed = loop {
            match s.next_received() {
                Ok(Some(_)) => count += 1,
                Ok(None) => break s.finish().is_err(),
                Err(_) => break true,
            }
        };
        assert!(
            failed || cut == 0,
            "prefix {cut} of {} decoded {count} message(s) cleanly",
            stream.len()
        );
    }
}

#[rstest]
#[case(Role::Server, "inedo-v1", &[], "4ed2eb6cf74a134ab9af81d3dfc644be e8030000 05000000")]
#[case(Role::Server, "inedo-v2", &[], "4ed2eb6cf74a134ab9af81d3dfc644be e8030000 d0070000")]
#[case(Role::Client, "inedo-v1", &[], "00 05000000 05000000 01000000 02000000 03000000")]
#[case(Role::Client, "inedo-v1", &[("server-version", "int32")], "02 000102030405060708090a0b0c0d0e0f 05000000 05000000")]
#[case(Role::Server, "inedo-v1", &[("phase", "frames")], "02000000 01 07000000 abcd")]
#[case(Role::Client, "inedo-v2", &[("phase", "frames")], "02000000 07000000 abcd")]
fn truncated_prefixes_fail_cleanly(
    #[case] role: Role,
    #[case] profile: &str,
    #[case] params: &[(&str, &str)],
    #[case] hex_text: &str,
) {
    let stream = hex::decode(hex_text.replace(' ', "")).unwrap();
    assert_prefixes_fail_cleanly(role, profile, params, &stream);
    // And the whole stream decodes.
    let mut s = session(role, profile, params);
    s.push_received(&stream);
    assert!(s.next_received().unwrap().is_some());
    s.finish().unwrap();
}

#[test]
fn truncated_aes_frames_fail_cleanly() {
    let params = [("phase", "frames"), ("encryption", "aes"), ("key", KEY128)];
    let mut c = session(Role::Client, "inedo-v1", &params);
    let bytes = c
        .encode(&json!({ "command": { "command": 1, "data": "00".repeat(40) } }))
        .unwrap();
    assert_prefixes_fail_cleanly(Role::Server, "inedo-v1", &params, &bytes);
}

/// xorshift: deterministic bytes without a dependency.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn arbitrary_bytes_never_panic_in_any_role_or_mode() {
    type Setup<'a> = (Role, &'a str, &'a [(&'a str, &'a str)]);
    let setups: &[Setup<'_>] = &[
        (Role::Server, "inedo-v1", &[]),
        (Role::Client, "inedo-v1", &[]),
        (Role::Client, "inedo-v2", &[("server-version", "int32")]),
        (
            Role::Server,
            "inedo-v1",
            &[("phase", "frames"), ("encryption", "aes"), ("key", KEY128)],
        ),
        (
            Role::Client,
            "inedo-v1",
            &[("phase", "frames"), ("pending", "get-agent-root-path")],
        ),
        (
            Role::Client,
            "inedo-v2",
            &[("phase", "frames"), ("encryption", "aes"), ("key", KEY256)],
        ),
    ];
    for (role, profile, params) in setups {
        for seed in 0..300u64 {
            let mut bytes = noise(seed, (seed % 97) as usize);
            // Make a good share of inputs get past the opening and the length checks.
            if seed % 3 == 0 {
                let mut prefix = crate::handshake::PROTOCOL_ID.0.to_vec();
                prefix.extend_from_slice(&bytes);
                bytes = prefix;
            }
            if seed % 5 == 0 && bytes.len() > 4 {
                bytes[..4].copy_from_slice(&((seed % 64) as i32).to_le_bytes());
            }
            let mut s = session(*role, profile, params);
            for chunk in bytes.chunks(1 + (seed % 7) as usize) {
                s.push_received(chunk);
                while let Ok(Some(_)) = s.next_received() {}
            }
            let _ = s.finish();
        }
    }
}

#[test]
fn protocol_definition_describes_the_catalogue() {
    let p = crate::protocol();
    assert_eq!(p.name(), "inedo");
    assert_eq!(p.profiles()[0], "inedo-v1");
    assert_eq!(p.length_field(), "length");
    let schema = p.message_schema();
    let text = schema.to_string();
    for m in p.messages() {
        assert!(
            text.contains(&format!("\"{}\"", m.name)),
            "{} missing from the schema",
            m.name
        );
    }
    assert!(p.new_session(&options(Role::Client, "inedo-v9", &[])).is_err());
}

#[test]
fn unknown_writes_raw_bytes() {
    let mut c = session(Role::Client, "inedo-v1", &[]);
    assert_eq!(
        c.encode(&json!({ "unknown": { "data": "dead beef" } })).unwrap(),
        vec![0xde, 0xad, 0xbe, 0xef]
    );
}

#[test]
fn aes_frames_annotate_the_decrypted_fields_over_the_ciphertext() {
    let params = [("phase", "frames"), ("encryption", "aes"), ("key", KEY128)];
    let mut s = session(Role::Server, "inedo-v1", &params);
    let mut c = session(Role::Client, "inedo-v1", &params);
    c.expect_root_path_reply();
    let bytes = s
        .encode(&json!({ "meta.get-agent-root-path-reply": { "path": "/srv/agent" } }))
        .unwrap();
    c.push_received(&bytes);
    let d = c.next_received().unwrap().unwrap();
    assert_eq!(d.fields["path"], "/srv/agent");
    let names: Vec<&str> = d.spans.iter().map(|s| s.name.as_str()).collect();
    for want in [
        "length",
        "ciphertext",
        "decrypted.nextIv",
        "decrypted.command",
        "decrypted.path.length",
        "decrypted.path",
        "decrypted.padding",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(!names.contains(&"decrypted.data"));
    // The path starts after length (4) + next IV (16) + command (4) + its 1-byte prefix.
    let path = d.spans.iter().find(|s| s.name == "decrypted.path").unwrap();
    assert_eq!((path.start, path.end), (25, 35));
}

#[test]
fn garbage_after_an_ssl_reply_is_a_tls_error_not_a_panic() {
    let mut c = session(Role::Client, "inedo-v1", &[]);
    c.encode(&json!({ "handshake": {} })).unwrap();
    let mut bytes = hex::decode("01 00000000 01000000 00000000 00000000 00000000".replace(' ', "")).unwrap();
    bytes.extend_from_slice(b"this is not TLS at all");
    c.push_received(&bytes);
    assert_eq!(c.next_received().unwrap().unwrap().name, "handshake-reply");
    assert!(c.poll_transmit().is_some(), "the ClientHello");
    assert_eq!(c.next_received().unwrap_err().field, "tls");
}

#[test]
fn handshake_done_needs_both_openings() {
    let mut c = session(Role::Client, "inedo-v1", &[]);
    let mut s = session(Role::Server, "inedo-v1", &[]);
    send(&mut c, &mut s, json!({ "handshake": {} }));
    assert!(!c.handshake_done() && !s.handshake_done());
    send(&mut s, &mut c, json!({ "handshake-reply": {} }));
    assert!(c.handshake_done() && s.handshake_done());
    assert!(session(Role::Server, "inedo-v1", &[("phase", "frames")]).handshake_done());
}

/// Random structured messages for one direction, from a seed.
fn random_messages(seed: u64, role: Role, v2: bool, aes: bool) -> Vec<serde_json::Value> {
    let bytes = noise(seed, 400);
    let mut it = bytes.iter().copied();
    let mut next = || it.next().unwrap_or(0);
    (0..8)
        .map(|_| {
            let data = hex::encode((0..next() % 40).map(|_| next()).collect::<Vec<u8>>());
            let command = i32::from_le_bytes([next(), next(), 0, 0]) - 30_000;
            let mut fields = json!({ "command": command, "data": data });
            if aes && next() % 2 == 0 {
                fields["nextIv"] = json!(hex::encode((0..16).map(|_| next()).collect::<Vec<u8>>()));
            }
            match role {
                Role::Client => {
                    if !v2 {
                        fields["agentType"] = json!(1 + next() % 9);
                    }
                    json!({ "command": fields })
                }
                Role::Server => json!({ "response": fields }),
            }
        })
        .collect()
}

#[rstest]
#[case("inedo-v1", &[])]
#[case("inedo-v2", &[])]
#[case("inedo-v1", &[("encryption", "aes"), ("key", KEY128)])]
#[case("inedo-v2", &[("encryption", "aes"), ("key", KEY256), ("iv-chain", "shared")])]
fn random_frames_round_trip_in_any_split(#[case] profile: &str, #[case] params: &[(&str, &str)]) {
    let aes = params.contains(&("encryption", "aes"));
    let mut frames_params = params.to_vec();
    frames_params.push(("phase", "frames"));
    for seed in 1..20u64 {
        for sender in [Role::Client, Role::Server] {
            let mut tx = session(sender, profile, &frames_params);
            let mut rx = session(sender.other(), profile, &frames_params);
            let messages = random_messages(seed, sender, profile == "inedo-v2", aes);
            let stream: Vec<u8> = messages.iter().flat_map(|m| tx.encode(m).unwrap()).collect();
            // Deliver in uneven chunks.
            let mut got = Vec::new();
            for chunk in stream.chunks(1 + (seed as usize * 7) % 23) {
                rx.push_received(chunk);
                while let Some(d) = rx.next_received().unwrap() {
                    got.push(d);
                }
            }
            rx.finish().unwrap();
            assert_eq!(got.len(), messages.len());
            for (m, d) in messages.iter().zip(&got) {
                let (name, fields) = m.as_object().unwrap().iter().next().unwrap();
                assert_eq!(&d.name, name);
                for (k, v) in fields.as_object().unwrap() {
                    let decoded = &d.fields[k];
                    let same = decoded == v
                        || serde_json::from_value::<AgentType>(decoded.clone()).ok()
                            == serde_json::from_value::<AgentType>(v.clone()).ok();
                    assert!(same, "seed {seed}: {k}: sent {v}, decoded {decoded}");
                }
            }
        }
    }
}

#[test]
fn ssl_survives_byte_at_a_time_delivery() {
    let mut c = session(Role::Client, "inedo-v1", &[("encryption", "ssl")]);
    let mut s = session(Role::Server, "inedo-v1", &[("encryption", "ssl")]);
    let mut to_server: Vec<u8> = c.encode(&json!({ "handshake": {} })).unwrap();
    let mut to_client: Vec<u8> = Vec::new();
    let mut got_server = Vec::new();
    let mut got_client = Vec::new();
    let mut asked = false;
    for _ in 0..50 {
        for b in std::mem::take(&mut to_server) {
            s.push_received(&[b]);
            while let Some(d) = s.next_received().unwrap() {
                if d.name == "handshake" {
                    to_client.extend(s.encode(&json!({ "handshake-reply": {} })).unwrap());
                }
                if d.name == "meta.get-agent-root-path" {
                    to_client.extend(
                        s.encode(&json!({ "meta.get-agent-root-path-reply": { "path": "p" } }))
                            .unwrap(),
                    );
                }
                got_server.push(d.name);
            }
        }
        while let Some(x) = s.poll_transmit() {
            to_client.extend(x);
        }
        for b in std::mem::take(&mut to_client) {
            c.push_received(&[b]);
            while let Some(d) = c.next_received().unwrap() {
                got_client.push(d.name);
            }
        }
        if !asked && got_client.iter().any(|n| n == "handshake-reply") {
            asked = true;
            to_server.extend(c.encode(&json!({ "meta.get-agent-root-path": {} })).unwrap());
        }
        while let Some(x) = c.poll_transmit() {
            to_server.extend(x);
        }
        if to_server.is_empty() && to_client.is_empty() {
            break;
        }
    }
    assert_eq!(got_server, ["handshake", "meta.get-agent-root-path"]);
    assert_eq!(got_client, ["handshake-reply", "meta.get-agent-root-path-reply"]);
    c.finish().unwrap();
    s.finish().unwrap();
}
