//! Randomised differential test: deterministic pseudo-random messages of every 1.6 type, encoded by
//! peercheck-now, must decode with now-proto-pdu 0.4.4 and re-encode to the same bytes. Each kind of
//! disagreement per message is tallied and must be one of `EXPECTED` (explained in README.md,
//! "Differential findings"); a new kind fails the test, and so does a listed kind that never occurs.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use now_proto_pdu::ironrdp_core::{decode, encode_vec, IntoOwned};
use peercheck_now::{encode_message, EncodeCx, Layout, NowMessage, Profile};
use peercheck_wire::Role;
use serde_json::{json, Value};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn u32(&mut self) -> u32 {
        match self.below(4) {
            0 => 0,
            1 => self.below(100) as u32,
            _ => self.next() as u32,
        }
    }
    fn text(&mut self) -> String {
        const SAMPLES: &[&str] = &[
            "",
            "a",
            "notepad.exe",
            "C:\\Temp",
            "héllo wörld ✓",
            "/bin/bash",
            "Get-ChildItem -Recurse",
        ];
        match self.below(8) {
            7 => "x".repeat(60 + self.below(200) as usize),
            i => SAMPLES[i as usize].to_owned(),
        }
    }
    /// Flags: none, some of the named bits, or any 16-bit value.
    fn flags(&mut self, known: u64) -> u64 {
        match self.below(4) {
            0 => 0,
            1 | 2 => self.next() & known,
            _ => self.next() & 0xFFFF,
        }
    }
    fn guid(&mut self) -> String {
        let v = self.next();
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            v as u32,
            (v >> 32) as u16,
            (v >> 48) as u16,
            self.next() as u16,
            self.next() & 0xFFFF_FFFF_FFFF
        )
    }
}

fn status(r: &mut Rng) -> Value {
    if r.below(2) == 0 {
        json!({})
    } else {
        let msg = r.text();
        json!({ "flags": if msg.is_empty() { 1 } else { 3 }, "kind": r.below(5), "code": r.u32(), "errorMessage": msg })
    }
}

/// One random message of each 1.6 type, in structured form.
fn random_messages(r: &mut Rng) -> Vec<Value> {
    let hb = if r.below(2) == 0 {
        json!(null)
    } else {
        json!(r.below(3600))
    };
    let mut capset = json!({ "versionMajor": 1, "versionMinor": r.below(10), "systemCapset": r.flags(1),
        "sessionCapset": r.flags(0x1F), "execCapset": r.flags(0x107F) });
    if !hb.is_null() {
        capset["heartbeatInterval"] = hb;
    }
    if r.below(4) == 0 {
        capset["msgFlags"] = json!(r.flags(1));
    }
    vec![
        json!({ "channel.capset": capset }),
        json!({ "channel.heartbeat": {} }),
        json!({ "channel.close": { "status": status(r) } }),
        json!({ "system.shutdown": { "msgFlags": r.flags(3), "timeout": r.u32(), "message": r.text() } }),
        json!({ "session.lock": {} }),
        json!({ "session.logoff": {} }),
        json!({ "session.msgbox-req": { "msgFlags": r.flags(0xF), "requestId": r.u32(), "style": r.u32(),
            "timeout": r.u32(), "title": r.text(), "text": r.text() } }),
        json!({ "session.msgbox-rsp": { "requestId": r.u32(), "response": r.u32(), "status": status(r) } }),
        json!({ "session.set-kbd-layout": { "msgFlags": r.flags(3), "kbdLayoutId": r.text() } }),
        json!({ "session.window-rec-start": { "msgFlags": r.flags(1), "pollInterval": r.u32() } }),
        json!({ "session.window-rec-stop": {} }),
        json!({ "session.window-rec-event": { "msgFlags": r.flags(7), "timestamp": r.next(), "processId": r.u32(),
            "title": r.text(), "executablePath": r.text() } }),
        json!({ "exec.abort": { "sessionId": r.u32(), "exitCode": r.u32() } }),
        json!({ "exec.cancel-req": { "sessionId": r.u32() } }),
        json!({ "exec.cancel-rsp": { "sessionId": r.u32(), "status": status(r) } }),
        json!({ "exec.result": { "sessionId": r.u32(), "exitCode": r.u32(), "status": status(r) } }),
        json!({ "exec.data": { "msgFlags": r.flags(0xF), "sessionId": r.u32(), "data": hex::encode(r.text()) } }),
        json!({ "exec.started": { "sessionId": r.u32() } }),
        json!({ "exec.run": { "msgFlags": r.flags(1), "sessionId": r.u32(), "command": r.text(), "directory": r.text() } }),
        json!({ "exec.process": { "msgFlags": r.flags(0x9007), "sessionId": r.u32(), "filename": r.text(),
            "parameters": r.text(), "directory": r.text() } }),
        json!({ "exec.shell": { "msgFlags": r.flags(0x9003), "sessionId": r.u32(), "command": r.text(),
            "shell": r.text(), "directory": r.text() } }),
        json!({ "exec.batch": { "msgFlags": r.flags(0x9007), "sessionId": r.u32(), "command": r.text(), "directory": r.text() } }),
        json!({ "exec.winps": { "msgFlags": r.flags(0xB7FF), "sessionId": r.u32(), "command": r.text(),
            "directory": r.text(), "executionPolicy": r.text(), "configurationName": r.text() } }),
        json!({ "exec.pwsh": { "msgFlags": r.flags(0xB7FF), "sessionId": r.u32(), "command": r.text(),
            "directory": r.text(), "executionPolicy": r.text(), "configurationName": r.text() } }),
        json!({ "rdm.capabilities": { "timestamp": r.next() as i64, "syncFlags": r.flags(1), "rdmVersion": r.text(),
            "versionExtra": r.text() } }),
        json!({ "rdm.app-start": { "launchFlags": r.flags(7), "timeout": r.u32() } }),
        json!({ "rdm.app-action": { "appAction": r.below(7), "actionData": r.text() } }),
        json!({ "rdm.app-notify": { "appState": r.below(9), "reasonCode": r.below(6), "notifyData": r.text() } }),
        json!({ "rdm.session-start": { "sessionId": r.guid(), "connectionId": r.guid(), "connectionData": r.text() } }),
        json!({ "rdm.session-action": { "sessionAction": r.below(4), "sessionId": r.guid() } }),
        json!({ "rdm.session-notify": { "sessionNotify": r.below(4), "sessionId": r.guid(), "logData": r.text() } }),
    ]
}

/// (message, kind) of every disagreement expected, with the README finding it belongs to.
const EXPECTED: &[(&str, &str)] = &[
    // D1 / D1b: capset heartbeat value without its flag, unknown capset header flags.
    ("channel.capset", "reencode-differs"),
    // D7 (ERRATA NOW-9): RUN's DIRECTORY_SET is derived from a non-empty directory, the flag ignored.
    ("exec.run", "reencode-differs"),
    // D8: SET_KBD_LAYOUT with NEXT and PREV is rejected; other flag bits are kept.
    ("session.set-kbd-layout", "rejected"),
    // D9: WINDOW_REC_EVENT keeps only the fields of the first event flag set (ACTIVE > TITLE >
    // NO_ACTIVE) and rejects a message with none of them.
    ("session.window-rec-event", "reencode-differs"),
    ("session.window-rec-event", "rejected"),
];

#[test]
fn random_messages_round_trip_through_now_proto_pdu() {
    let layout = Layout::new(Profile::Now16);
    let mut rng = Rng(0x5DEE_CE66_D1CE_4E5B);
    let mut seen: BTreeMap<(String, String), (usize, String)> = BTreeMap::new();
    let mut total = 0;
    for round in 0..400 {
        for v in random_messages(&mut rng) {
            let msg: NowMessage = peercheck_now::parse_structured(&v).unwrap();
            let role = if round % 2 == 0 {
                Role::Client
            } else {
                Role::Server
            };
            let ours = encode_message(
                &msg,
                &EncodeCx {
                    layout: &layout,
                    role,
                },
            )
            .unwrap();
            total += 1;
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                decode::<now_proto_pdu::NowMessage<'_>>(&ours).map(IntoOwned::into_owned)
            }));
            let kind = match outcome {
                Err(_) => Some(("panics", String::new())),
                Ok(Err(e)) => Some(("rejected", e.to_string())),
                Ok(Ok(m)) => {
                    let again = encode_vec(&m).unwrap();
                    (again != ours).then(|| {
                        (
                            "reencode-differs",
                            format!("{} -> {}", hex::encode(&ours), hex::encode(&again)),
                        )
                    })
                }
            };
            if let Some((kind, detail)) = kind {
                let e = seen
                    .entry((msg.name().to_owned(), kind.to_owned()))
                    .or_insert((0, format!("{v} {detail}")));
                e.0 += 1;
            }
        }
    }
    let expected: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    let found: BTreeSet<(String, String)> = seen.keys().cloned().collect();
    let report: Vec<String> = seen
        .iter()
        .map(|((m, k), (n, ex))| format!("{m} {k} ×{n}: e.g. {ex}"))
        .collect();
    eprintln!("{total} messages:\n{}", report.join("\n"));
    assert!(
        found == expected,
        "{total} messages; unexpected: {:?}; missing: {:?}\n{}",
        found.difference(&expected).collect::<Vec<_>>(),
        expected.difference(&found).collect::<Vec<_>>(),
        report.join("\n")
    );
}

/// Random bodies behind a well-formed header for every known (class, type): which ones make
/// now-proto-pdu panic (finding D3). Ours must never panic (it is not even asked to agree here).
#[test]
fn random_bodies_find_the_now_proto_pdu_panics() {
    let layout = Layout::new(Profile::Now16);
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let mut panics: BTreeSet<&'static str> = BTreeSet::new();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for kind in peercheck_now::msg::KINDS
        .iter()
        .filter(|k| k.avail.includes(Profile::Now16))
    {
        for _ in 0..300 {
            let len = rng.below(24) as usize;
            let mut bytes = (len as u32).to_le_bytes().to_vec();
            bytes.extend_from_slice(&[kind.class.0, kind.msg_type, rng.next() as u8, 0]);
            bytes.extend((0..len).map(|_| rng.next() as u8));
            let _ = peercheck_now::decode_message(&bytes, 0, &layout, true);
            let up = catch_unwind(AssertUnwindSafe(|| {
                decode::<now_proto_pdu::NowMessage<'_>>(&bytes).is_ok()
            }));
            if up.is_err() {
                panics.insert(kind.name);
            }
        }
    }
    std::panic::set_hook(hook);
    let expected: BTreeSet<&str> = [
        "session.window-rec-start",
        "session.window-rec-event",
        "rdm.session-action",
    ]
    .into_iter()
    .collect();
    assert_eq!(panics, expected);
}
