//! Decode the 621 WSMan payloads pypsrp recorded against real Windows PowerShell, and re-encode every
//! message's CLIXML: the round trip must be semantically exact.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::expect_used
)]

use peercheck_wire::{Role, SessionOptions, WireSession};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn session(role: Role) -> Box<dyn WireSession> {
    let mut o = SessionOptions {
        local_role: Some(role),
        ..Default::default()
    };
    o.params.insert("framing".into(), "fragments".into());
    peercheck_psrp::protocol().new_session(&o).unwrap()
}

#[test]
fn all_recorded_payloads_decode_and_round_trip() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/psrp-recorded-pypsrp-windows.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!(
            "note: {} is absent; skipping the recorded-vector test",
            path.display()
        );
        return;
    };
    let doc: Value = serde_json::from_str(&text).unwrap();
    let payloads = doc["payloads"].as_array().unwrap();
    assert_eq!(payloads.len(), 621);
    // One receiving session per (file, direction): objects may span payloads.
    let mut sessions: BTreeMap<(String, String), Box<dyn WireSession>> = BTreeMap::new();
    let mut decoded = 0usize;
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for p in payloads {
        let file = p["file"].as_str().unwrap().to_owned();
        let dir = p["direction"].as_str().unwrap().to_owned();
        let receiver = if dir == "client_to_server" {
            Role::Server
        } else {
            Role::Client
        };
        let bytes = hex::decode(p["hex"].as_str().unwrap()).unwrap();
        let s = sessions
            .entry((file.clone(), dir.clone()))
            .or_insert_with(|| session(receiver));
        s.push_received(&bytes);
        while let Some(d) = s.next_received().unwrap_or_else(|e| panic!("{file} {dir}: {e}")) {
            decoded += 1;
            *names.entry(d.name.clone()).or_default() += 1;
            // The decoded `data` is the serde form of the value, key order included (the decoder
            // builds it by moving strings, not through serde).
            if let Some(data) = d.fields.get("data") {
                let v: peercheck_psrp::ClixmlValue = serde_json::from_value(data.clone()).unwrap();
                assert_eq!(
                    serde_json::to_string(data).unwrap(),
                    serde_json::to_string(&serde_json::to_value(&v).unwrap()).unwrap(),
                    "{file}: {}",
                    d.name
                );
                if matches!(d.name.as_str(), "pipeline-output" | "pipeline-input") {
                    assert_eq!(d.fields["value"], *data);
                }
            }
            // Re-encode from the decoded structured form, decode again, compare the CLIXML value.
            let mut sender = session(receiver.other());
            let msg = serde_json::json!({ d.name.clone(): d.fields.clone() });
            let again = sender
                .encode(&msg)
                .unwrap_or_else(|e| panic!("{file}: re-encode {}: {e}", d.name));
            let mut rx = session(receiver);
            rx.push_received(&again);
            let back = rx.next_received().unwrap().expect("one message");
            assert_eq!(back.name, d.name);
            assert_eq!(back.fields["data"], d.fields["data"], "{file}: {}", d.name);
            assert_eq!(back.fields["rpid"], d.fields["rpid"]);
            assert_eq!(back.fields["pid"], d.fields["pid"]);
            assert_eq!(back.fields["bom"], d.fields["bom"]);
        }
    }
    for ((file, dir), s) in sessions.iter_mut() {
        s.finish().unwrap_or_else(|e| panic!("{file} {dir}: {e}"));
    }
    println!("decoded {decoded} messages: {names:?}");
    assert_eq!(decoded, 701, "the recording holds 701 PSRP messages");
}
