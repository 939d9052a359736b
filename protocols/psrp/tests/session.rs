//! The PSRP WireSession through the public contract: both framings, acks, spans, errors, truncation.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use peercheck_wire::{Role, SessionOptions, WireSession};
use serde_json::json;

fn session(role: Role, framing: &str, extra: &[(&str, &str)]) -> Box<dyn WireSession> {
    let mut o = SessionOptions {
        local_role: Some(role),
        ..Default::default()
    };
    o.params.insert("framing".into(), framing.into());
    for (k, v) in extra {
        o.params.insert((*k).into(), (*v).into());
    }
    peercheck_psrp::protocol().new_session(&o).unwrap()
}

fn all(s: &mut Box<dyn WireSession>) -> Vec<peercheck_wire::Decoded> {
    let mut out = Vec::new();
    while let Some(d) = s.next_received().unwrap() {
        out.push(d);
    }
    out
}

#[rstest::rstest]
fn messages_cross_in_both_framings(#[values("outofproc", "fragments")] framing: &str) {
    let mut client = session(Role::Client, framing, &[("max-fragment-size", "64")]);
    let mut server = session(Role::Server, framing, &[]);
    let a = client.encode(&json!({ "session-capability": {} })).unwrap();
    let b = client
        .encode(&json!({ "init-runspacepool": { "maxRunspaces": 3 } }))
        .unwrap();
    // Byte by byte: partial input is buffered.
    for byte in a.iter().chain(&b) {
        server.push_received(&[*byte]);
    }
    let got = all(&mut server);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].name, "session-capability");
    assert_eq!(got[0].fields["objectId"], json!(1));
    assert_eq!(got[1].fields["objectId"], json!(2));
    assert_eq!(got[1].fields["maxRunspaces"], json!(3));
    assert!(got[1].fields["fragmentCount"].as_u64().unwrap() > 1);
    assert_eq!(got[0].bytes, a);
    server.finish().unwrap();
    let acks = std::iter::from_fn(|| server.poll_transmit()).count();
    if framing == "outofproc" {
        // PowerShell's server acknowledges every Data line.
        let lines = a.iter().chain(&b).filter(|c| **c == b'\n').count();
        assert_eq!(acks, lines);
    } else {
        assert_eq!(acks, 0);
    }
}

/// A flow-controlled client (PowerShell) sends the next `<Data>` line only after the DataAck of the
/// last: the ack must be ready as soon as the line arrives, before its message is complete.
#[test]
fn data_ack_is_ready_before_the_message_completes() {
    let mut client = session(Role::Client, "outofproc", &[("max-fragment-size", "64")]);
    let mut server = session(Role::Server, "outofproc", &[]);
    let a = client.encode(&json!({ "session-capability": {} })).unwrap();
    let first = a.split_inclusive(|b| *b == b'\n').next().unwrap();
    assert!(first.len() < a.len(), "the capability must span several lines");
    server.push_received(first);
    assert!(server.poll_transmit().is_some(), "no DataAck for the first line");
    assert!(server.next_received().unwrap().is_none());
    server.push_received(&a[first.len()..]);
    assert_eq!(all(&mut server).len(), 1);
}

#[test]
fn outofproc_control_packets_round_trip_and_are_ignorable_acks() {
    let mut client = session(Role::Client, "outofproc", &[]);
    let mut server = session(Role::Server, "outofproc", &[]);
    let pid = "0b3f5a2e-1111-4222-8333-444455556666";
    let cmd = client
        .encode(&json!({ "oop.command": { "psGuid": pid } }))
        .unwrap();
    assert_eq!(cmd, format!("<Command PSGuid='{pid}' />\n").into_bytes());
    server.push_received(&cmd);
    let d = server.next_received().unwrap().unwrap();
    assert_eq!(
        (d.name.as_str(), &d.fields),
        ("oop.command", &json!({ "psGuid": pid }))
    );
    let ack = server
        .encode(&json!({ "oop.command-ack": { "psGuid": pid } }))
        .unwrap();
    client.push_received(&ack);
    assert_eq!(client.next_received().unwrap().unwrap().name, "oop.command-ack");
    let ign = peercheck_psrp::protocol().ignorable();
    assert!(
        ign.contains(&"oop.data-ack") && ign.contains(&"oop.command-ack") && ign.contains(&"oop.signal-ack")
    );
    assert!(session(Role::Client, "fragments", &[])
        .encode(&json!({ "oop.close": {} }))
        .is_err());
}

#[test]
fn object_ids_count_from_the_param_and_follow_explicit_ids() {
    let mut c = session(Role::Client, "fragments", &[("object-id", "10")]);
    let a = c
        .encode(&json!({ "get-available-runspaces": { "ci": 1 } }))
        .unwrap();
    let b = c
        .encode(&json!({ "get-available-runspaces": { "ci": 2, "objectId": 20 } }))
        .unwrap();
    let d = c
        .encode(&json!({ "get-available-runspaces": { "ci": 3 } }))
        .unwrap();
    let id = |x: &[u8]| u64::from_be_bytes(x[..8].try_into().unwrap());
    assert_eq!((id(&a), id(&b), id(&d)), (10, 20, 21));
}

#[test]
fn annotate_sent_names_the_length_field() {
    let mut c = session(Role::Client, "fragments", &[]);
    let bytes = c
        .encode(&json!({ "pipeline-input": { "value": { "I32": 1 } } }))
        .unwrap();
    let spans = c.annotate_sent(&bytes);
    let len = peercheck_psrp::protocol().length_field();
    let s = spans.iter().find(|s| s.name == len).unwrap();
    assert_eq!((s.start, s.end), (17, 21));
    for name in [
        "fragment.objectId",
        "destination",
        "messageType",
        "rpid",
        "pid",
        "data",
    ] {
        assert!(spans.iter().any(|s| s.name == name), "no span {name}");
    }
    let mt = spans.iter().find(|s| s.name == "messageType").unwrap();
    assert_eq!((mt.start, mt.end), (25, 29));
}

#[test]
fn every_prefix_of_a_stream_fails_cleanly_in_both_framings() {
    for framing in ["fragments", "outofproc"] {
        let mut c = session(Role::Client, framing, &[("max-fragment-size", "50")]);
        let bytes = c
            .encode(&json!({ "create-pipeline": { "commands": [ { "cmd": "Get-Date" } ] } }))
            .unwrap();
        for k in 1..bytes.len() {
            let mut s = session(Role::Server, framing, &[]);
            s.push_received(&bytes[..k]);
            let r = s.next_received();
            assert!(matches!(r, Ok(None)) || r.is_err(), "{framing} prefix {k}");
            assert!(s.finish().is_err(), "{framing} prefix {k}");
        }
    }
}

#[test]
fn errors_are_sticky_and_bad_params_are_rejected() {
    let mut s = session(Role::Server, "fragments", &[]);
    s.push_received(&[0u8; 17]);
    s.push_received(&[0xFF; 4]);
    let e1 = s.next_received().unwrap_err();
    let e2 = s.next_received().unwrap_err();
    assert_eq!(e1, e2);
    assert!(s.finish().is_err());
    let p = peercheck_psrp::protocol();
    for (k, v) in [
        ("framing", "tcp"),
        ("max-fragment-size", "21"),
        ("rpid", "x"),
        ("bom", "maybe"),
        ("bogus", "1"),
    ] {
        let mut o = SessionOptions::default();
        o.params.insert(k.into(), v.into());
        assert!(p.new_session(&o).is_err(), "{k}={v}");
    }
    let o = SessionOptions {
        profile: Some("psrp-9.9".into()),
        ..Default::default()
    };
    assert!(p.new_session(&o).is_err());
}

#[test]
fn bom_param_and_profiles_shape_the_capability() {
    let mut o = SessionOptions {
        local_role: Some(Role::Client),
        profile: Some("psrp-2.2".into()),
        ..Default::default()
    };
    o.params.insert("framing".into(), "fragments".into());
    o.params.insert("bom".into(), "false".into());
    let mut c = peercheck_psrp::protocol().new_session(&o).unwrap();
    let bytes = c.encode(&json!({ "session-capability": {} })).unwrap();
    let text = String::from_utf8_lossy(&bytes[21 + 40..]).into_owned();
    assert!(text.starts_with("<Obj"), "{text}");
    assert!(text.contains(">2.2<"));
    assert_eq!(peercheck_psrp::protocol().profiles()[0], "psrp-2.3");
}

#[test]
fn schema_and_catalogue_cover_every_message() {
    let p = peercheck_psrp::protocol();
    assert_eq!(p.name(), "psrp");
    assert_eq!(p.messages().len(), 31 + 1 + 7);
    let schema = p.message_schema();
    assert!(schema["oneOf"].as_array().unwrap().len() >= 39);
}

#[test]
fn spec_blob_limit_at_n_and_n_plus_one() {
    use peercheck_psrp::fragment::Fragment;
    let frag = |len: usize| {
        Fragment {
            object_id: 1,
            fragment_id: 0,
            flags: 1,
            blob: vec![0; len],
        }
        .encode()
    };
    for (len, ok) in [(32768, true), (32769, false)] {
        let mut s = session(Role::Server, "fragments", &[("blob-limit", "spec")]);
        s.push_received(&frag(len));
        let r = s.next_received();
        assert_eq!(r.is_ok(), ok, "{len}: {r:?}");
        if !ok {
            assert!(r.unwrap_err().to_string().contains("PSRP_SPEC_MAX_BLOB_LENGTH"));
        }
    }
    // PowerShell's receiver (the default) takes the bigger blob (ERRATA PSRP-6).
    let mut s = session(Role::Server, "fragments", &[]);
    s.push_received(&frag(32769));
    assert!(s.next_received().is_ok());
}

/// Cheap deterministic mutations of real messages: decoding never panics.
#[test]
fn mutated_streams_never_panic() {
    let mut c = session(Role::Client, "fragments", &[("max-fragment-size", "80")]);
    let mut base = Vec::new();
    for m in [
        json!({ "session-capability": {} }),
        json!({ "init-runspacepool": {} }),
        json!({ "create-pipeline": { "commands": [ { "cmd": "Get-Date", "args": [ { "name": "x", "value": { "S": "y" } } ] } ] } }),
    ] {
        base.extend(c.encode(&m).unwrap());
    }
    let mut seed: u64 = 0x1234_5678;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    for framing in ["fragments", "outofproc"] {
        let stream = if framing == "fragments" {
            base.clone()
        } else {
            let mut o = session(Role::Client, "outofproc", &[]);
            o.encode(&json!({ "pipeline-output": { "value": { "S": "abc" } } }))
                .unwrap()
        };
        for _ in 0..2000 {
            let mut m = stream.clone();
            for _ in 0..(1 + next() % 4) {
                let i = next() % m.len();
                m[i] = (next() & 0xFF) as u8;
            }
            let mut s = session(Role::Server, framing, &[]);
            s.push_received(&m);
            while let Ok(Some(_)) = s.next_received() {}
            let _ = s.finish();
        }
    }
}

#[test]
fn a_session_without_a_role_decodes_both_directions() {
    let p = peercheck_psrp::protocol();
    let mut both = Vec::new();
    for role in [Role::Client, Role::Server] {
        let mut s = session(role, "fragments", &[]);
        both.extend(s.encode(&json!({ "session-capability": {} })).unwrap());
    }
    let mut o = SessionOptions::default();
    o.params.insert("framing".into(), "fragments".into());
    let mut passive = p.new_session(&o).unwrap();
    passive.push_received(&both);
    assert_eq!(all(&mut passive).len(), 2);
    // With a role, the other side's destination is an error.
    let mut server = session(Role::Server, "fragments", &[]);
    server.push_received(&both);
    let first = server.next_received();
    assert!(first.is_ok(), "{first:?}");
    assert!(server
        .next_received()
        .unwrap_err()
        .to_string()
        .contains("destination"));
}

/// `frame_message` writes the bytes of the straightforward path: the whole message encoded, cut
/// into fragments, and with OutOfProc each fragment base64-encoded in its own Data line.
#[test]
fn frame_message_is_encode_then_fragment_then_lines() {
    use peercheck_psrp::fragment::Fragmenter;
    use peercheck_psrp::header::{Destination, Message, MessageType};
    use peercheck_psrp::outofproc::{Packet, STREAM_DEFAULT, STREAM_PROMPT_RESPONSE};
    use peercheck_psrp::session::{frame_message, Framing};
    use peercheck_wire::Guid;
    for size in [22usize, 40, 61, 62, 100, 32768] {
        let fr = Fragmenter::new(size).unwrap();
        for len in [0usize, 1, 2, 3, 20, 21, 22, 100, 70_000] {
            for t in [MessageType::PIPELINE_OUTPUT, MessageType::PIPELINE_HOST_RESPONSE] {
                let m = Message {
                    destination: Destination::CLIENT,
                    message_type: t,
                    rpid: Guid::from_u128(0xAB),
                    pid: Guid::from_u128(0xCD),
                    data: (0..len).map(|i| (i % 251) as u8).collect(),
                };
                let whole = m.encode();
                assert_eq!(
                    frame_message(&fr, Framing::Fragments, 9, &m),
                    fr.fragment_bytes(9, &whole)
                );
                let stream = if t == MessageType::PIPELINE_HOST_RESPONSE {
                    STREAM_PROMPT_RESPONSE
                } else {
                    STREAM_DEFAULT
                };
                let lines: Vec<u8> = fr
                    .fragment(9, &whole)
                    .iter()
                    .flat_map(|f| {
                        Packet::Data {
                            stream: stream.into(),
                            ps_guid: m.pid,
                            payload: f.encode(),
                        }
                        .encode()
                    })
                    .collect();
                assert_eq!(
                    frame_message(&fr, Framing::OutOfProc, 9, &m),
                    lines,
                    "size {size} len {len}"
                );
            }
        }
    }
}
