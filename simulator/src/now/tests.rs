//! The NOW peers driven in memory: client ↔ server through a tiny loop, or one peer against the
//! codec's WireSession; the normal paths and every misbehaviour (showing it really deviates).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use peercheck_wire::{Decoded, Role, SessionOptions, WireSession};
use serde_json::{json, Value};

use super::{new_peer, MISBEHAVIOURS};
use crate::peer::{Output, Peer, PeerConfig, ProcessEvent, ProcessRequest, REAL_COMMANDS_PARAM};

fn config(role: Role, params: &[(&str, &str)], script: Option<&str>, misbehave: Option<&str>) -> PeerConfig {
    PeerConfig {
        role: Some(role),
        profile: None,
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        script: script.map(|s| serde_yaml::from_str(s).unwrap()),
        misbehave: misbehave.map(str::to_owned),
        seed: 0,
    }
}

#[derive(Debug, Default)]
struct Transcript {
    /// (sender, label, bytes)
    sent: Vec<(Role, String, Vec<u8>)>,
    finished: Option<(bool, String)>,
    closed_by: Vec<Role>,
    logs: Vec<String>,
}

impl Transcript {
    fn labels(&self, who: Role) -> Vec<&str> {
        self.sent
            .iter()
            .filter(|(r, _, _)| *r == who)
            .map(|(_, l, _)| l.as_str())
            .collect()
    }

    fn summary(&self) -> String {
        self.finished.as_ref().map(|(_, s)| s.clone()).unwrap_or_default()
    }

    fn ok(&self) -> bool {
        self.finished.as_ref().is_some_and(|(ok, _)| *ok)
    }
}

fn absorb(
    who: Role,
    outs: Vec<Output>,
    t: &mut Transcript,
    queue: &mut VecDeque<Vec<u8>>,
    closed: &mut bool,
) {
    for o in outs {
        match o {
            Output::Send { label, bytes } => {
                if !*closed {
                    queue.push_back(bytes.clone());
                    t.sent.push((who, label, bytes));
                }
            }
            Output::Close { .. } => {
                *closed = true;
                t.closed_by.push(who);
            }
            Output::Log(l) => t.logs.push(l),
            Output::Finished { ok, summary } => t.finished = Some((ok, summary)),
            Output::Process(req) => t.logs.push(format!("process: {req:?}")),
        }
    }
}

/// Run a client and a server against each other until both are quiet or `limit` passes.
fn run_pair(client: &mut dyn Peer, server: &mut dyn Peer, limit: Duration) -> Transcript {
    let mut t = Transcript::default();
    let (mut to_server, mut to_client) = (VecDeque::new(), VecDeque::new());
    let (mut c_closed, mut s_closed) = (false, false);
    let mut now = Duration::ZERO;
    absorb(
        Role::Server,
        server.start(now),
        &mut t,
        &mut to_client,
        &mut s_closed,
    );
    absorb(
        Role::Client,
        client.start(now),
        &mut t,
        &mut to_server,
        &mut c_closed,
    );
    for _ in 0..10_000 {
        while !to_server.is_empty() || !to_client.is_empty() {
            if let Some(b) = to_server.pop_front() {
                if !s_closed {
                    absorb(
                        Role::Server,
                        server.input(now, &b),
                        &mut t,
                        &mut to_client,
                        &mut s_closed,
                    );
                }
            }
            if let Some(b) = to_client.pop_front() {
                if !c_closed {
                    absorb(
                        Role::Client,
                        client.input(now, &b),
                        &mut t,
                        &mut to_server,
                        &mut c_closed,
                    );
                }
            }
        }
        if c_closed && !s_closed {
            absorb(
                Role::Server,
                server.peer_closed(now),
                &mut t,
                &mut to_client,
                &mut s_closed,
            );
        }
        if s_closed && !c_closed {
            absorb(
                Role::Client,
                client.peer_closed(now),
                &mut t,
                &mut to_server,
                &mut c_closed,
            );
        }
        if c_closed && s_closed {
            break;
        }
        let next = [
            client.next_deadline().filter(|_| !c_closed),
            server.next_deadline().filter(|_| !s_closed),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next.filter(|n| *n <= limit) else {
            break;
        };
        now = now.max(next);
        if client.next_deadline().is_some_and(|d| d <= now) {
            absorb(
                Role::Client,
                client.timer(now),
                &mut t,
                &mut to_server,
                &mut c_closed,
            );
        }
        if server.next_deadline().is_some_and(|d| d <= now) {
            absorb(
                Role::Server,
                server.timer(now),
                &mut t,
                &mut to_client,
                &mut s_closed,
            );
        }
    }
    t
}

fn pair(
    client_cfg: (&[(&str, &str)], Option<&str>, Option<&str>),
    server_cfg: (&[(&str, &str)], Option<&str>, Option<&str>),
    limit_s: u64,
) -> Transcript {
    let mut c = new_peer(&config(Role::Client, client_cfg.0, client_cfg.1, client_cfg.2)).unwrap();
    let mut s = new_peer(&config(Role::Server, server_cfg.0, server_cfg.1, server_cfg.2)).unwrap();
    run_pair(c.as_mut(), s.as_mut(), Duration::from_secs(limit_s))
}

/// The codec's view of one side: encodes what the test sends, decodes what the peer writes.
struct Codec {
    session: Box<dyn WireSession>,
}

impl Codec {
    fn new(local: Role) -> Self {
        let opts = SessionOptions {
            local_role: Some(local),
            ..Default::default()
        };
        Codec {
            session: peercheck_now::protocol().new_session(&opts).unwrap(),
        }
    }

    /// Send `msg` to the peer at `now` and decode what it answers.
    fn ask(&mut self, peer: &mut dyn Peer, now: Duration, msg: Value) -> Vec<Decoded> {
        let bytes = self.enc(msg);
        let outs = peer.input(now, &bytes);
        self.dec(&outs)
    }

    fn enc(&mut self, msg: Value) -> Vec<u8> {
        self.session.encode(&msg).unwrap()
    }

    /// Decode every Send in `outs`; a decode error is returned as the last element's name `error: …`.
    fn dec(&mut self, outs: &[Output]) -> Vec<Decoded> {
        let mut got = Vec::new();
        for o in outs {
            if let Output::Send { bytes, .. } = o {
                self.session.push_received(bytes);
            }
        }
        loop {
            match self.session.next_received() {
                Ok(Some(d)) => got.push(d),
                Ok(None) => break,
                Err(e) => {
                    got.push(Decoded {
                        name: format!("error: {e}"),
                        fields: Value::Null,
                        offset: 0,
                        bytes: vec![],
                        spans: vec![],
                    });
                    break;
                }
            }
        }
        got
    }
}

fn names(d: &[Decoded]) -> Vec<String> {
    d.iter().map(|m| m.name.clone()).collect()
}

/// A server peer plus a client-role codec, with the capset exchange done.
fn server_with_codec(
    params: &[(&str, &str)],
    script: Option<&str>,
    misbehave: Option<&str>,
    capset: Value,
) -> (Box<dyn Peer>, Codec, Vec<Decoded>) {
    let mut s = new_peer(&config(Role::Server, params, script, misbehave)).unwrap();
    let mut c = Codec::new(Role::Client);
    assert!(s.start(Duration::ZERO).is_empty());
    let bytes = c.enc(json!({ "channel.capset": capset }));
    let outs = s.input(Duration::from_millis(1), &bytes);
    let got = c.dec(&outs);
    (s, c, got)
}

const ALL_CAPS: &str =
    r#"{"systemCapset": 1, "sessionCapset": 31, "execCapset": 4223, "heartbeatInterval": 5}"#;

fn all_caps() -> Value {
    serde_json::from_str(ALL_CAPS).unwrap()
}

// ------------------------------------------------------------------ normal paths

#[test]
fn default_client_and_server_run_two_concurrent_exec_runs() {
    let t = pair((&[], None, None), (&[], None, None), 60);
    assert!(t.ok(), "{}", t.summary());
    assert_eq!(
        t.labels(Role::Client),
        vec!["channel.capset", "exec.run", "exec.run", "channel.close"]
    );
    assert_eq!(
        t.labels(Role::Server),
        vec![
            "channel.capset",
            "exec.started",
            "exec.result",
            "exec.started",
            "exec.result"
        ]
    );
}

#[test]
fn every_exec_style_with_scripted_output_and_stdin() {
    let client = r#"
requests:
  - send: { exec.shell: { sessionId: 1, command: "ls /tmp", msgFlags: 4096 } }
    expect-stdout: "a.txt"
    expect-exit-code: 3
  - send: { exec.process: { sessionId: 2, filename: "cmd.exe", parameters: "/c ver", msgFlags: 4099 } }
    expect-stdout: "cmd.exe /c ver"
    expect-exit-code: 0
  - send: { exec.batch: { sessionId: 3, command: "type", msgFlags: 4096 } }
    stdin: "typed input"
    expect-stdout: "typed input"
  - send: { exec.winps: { sessionId: 4, command: "Get-Date", msgFlags: 4096 } }
    expect-stdout: "Get-Date"
  - send: { exec.pwsh: { sessionId: 5, command: "Get-Date", msgFlags: 4096 } }
    expect-exit-code: 0
  - send: { exec.pwsh: { sessionId: 6, command: "Start-Process x", msgFlags: 32768 } }
  - send: { exec.run: { sessionId: 7, command: "notepad.exe" } }
"#;
    let server = r#"
exec:
  - match: "ls"
    output: [ { stdout: "a.txt\n", delay-ms: 20 }, { stderr: "warning\n", delay-ms: 5 } ]
    exit-code: 3
    delay-ms: 10
  - match: "type"
    wait-stdin: true
"#;
    let t = pair((&[], Some(client), None), (&[], Some(server), None), 60);
    assert!(t.ok(), "{}", t.summary());
    let server_labels = t.labels(Role::Server);
    assert_eq!(server_labels.iter().filter(|l| **l == "exec.result").count(), 7);
    assert!(server_labels.contains(&"exec.data"));
}

#[test]
fn heartbeats_follow_the_negotiated_interval() {
    let (mut s, mut c, got) = server_with_codec(&[], None, None, all_caps());
    assert_eq!(names(&got), vec!["channel.capset"]);
    assert_eq!(got[0].fields["heartbeatInterval"], 5);
    assert_eq!(s.next_deadline(), Some(Duration::from_millis(5001)));
    let hb = c.dec(&s.timer(Duration::from_millis(5001)));
    assert_eq!(names(&hb), vec!["channel.heartbeat"]);
    assert_eq!(s.next_deadline(), Some(Duration::from_millis(10_001)));
}

#[test]
fn capset_is_downgraded_by_default_and_full_with_the_param() {
    let script = "capset: { systemCapset: 0, sessionCapset: 1, execCapset: 5 }";
    let (_, _, got) = server_with_codec(&[], Some(script), None, all_caps());
    assert_eq!(got[0].fields["execCapset"], 5);
    assert_eq!(got[0].fields["sessionCapset"], 1);
    let (_, _, got) = server_with_codec(&[], None, None, json!({ "execCapset": 1, "versionMinor": 3 }));
    assert_eq!(got[0].fields["execCapset"], 1);
    assert_eq!(got[0].fields["versionMinor"], 3);
    // ERRATA NOW-11: the real agent's answer is its own full set and version.
    let (_, _, got) = server_with_codec(
        &[("capset-answer", "full")],
        None,
        None,
        json!({ "execCapset": 1, "versionMinor": 3 }),
    );
    assert_eq!(got[0].fields["execCapset"], 0x107F);
    assert_eq!(got[0].fields["versionMinor"], 6);
}

#[test]
fn version_mismatch_closes_with_protocol_version() {
    let mut s = new_peer(&config(Role::Server, &[], None, None)).unwrap();
    let mut c = Codec::new(Role::Client);
    let outs = s.input(
        Duration::ZERO,
        &c.enc(json!({ "channel.capset": { "versionMajor": 2 } })),
    );
    let got = c.dec(&outs);
    assert_eq!(names(&got), vec!["channel.close"]);
    assert_eq!(got[0].fields["status"]["code"], 8);
    assert!(outs.iter().any(|o| matches!(o, Output::Close { .. })));
}

#[test]
fn status_errors_not_negotiated_in_use_not_found() {
    let (mut s, mut c, _) = server_with_codec(
        &[],
        Some("exec: [ { hang: true } ]"),
        None,
        json!({ "execCapset": 4 }),
    );
    // PWSH was not negotiated → NOT_IMPLEMENTED.
    let got = c.ask(
        s.as_mut(),
        Duration::from_secs(1),
        json!({ "exec.pwsh": { "sessionId": 9, "command": "x" } }),
    );
    assert_eq!(got[0].name, "exec.result");
    assert_eq!(got[0].fields["status"]["code"], 7);
    // A running session id → IN_USE.
    let got = c.ask(
        s.as_mut(),
        Duration::from_secs(1),
        json!({ "exec.shell": { "sessionId": 1, "command": "sleep" } }),
    );
    assert_eq!(names(&got), vec!["exec.started"]);
    let got = c.ask(
        s.as_mut(),
        Duration::from_secs(1),
        json!({ "exec.shell": { "sessionId": 1, "command": "sleep" } }),
    );
    assert_eq!(got[0].fields["status"]["code"], 1);
    // Cancel of an unknown session → NOT_FOUND; of the running one → CANCEL_RSP ok + RESULT ABORTED.
    let got = c.ask(
        s.as_mut(),
        Duration::from_secs(1),
        json!({ "exec.cancel-req": { "sessionId": 77 } }),
    );
    assert_eq!(got[0].fields["status"]["code"], 4);
    let got = c.ask(
        s.as_mut(),
        Duration::from_secs(1),
        json!({ "exec.cancel-req": { "sessionId": 1 } }),
    );
    assert_eq!(names(&got), vec!["exec.cancel-rsp", "exec.result"]);
    assert_eq!(got[0].fields["status"]["flags"], 0);
    assert_eq!(got[1].fields["status"]["code"], 3);
}

#[test]
fn abort_ends_a_session_silently() {
    let (mut s, mut c, _) = server_with_codec(
        &[],
        Some("exec: [ { output: [ { stdout: x, delay-ms: 1000 } ] } ]"),
        None,
        all_caps(),
    );
    let started = c.ask(
        s.as_mut(),
        Duration::from_secs(1),
        json!({ "exec.shell": { "sessionId": 2, "command": "c", "msgFlags": 4096 } }),
    );
    assert_eq!(names(&started), vec!["exec.started"]);
    let got = c.ask(
        s.as_mut(),
        Duration::from_secs(1),
        json!({ "exec.abort": { "sessionId": 2, "exitCode": 1 } }),
    );
    assert!(got.is_empty());
    let later = c.dec(&s.timer(Duration::from_secs(3)));
    assert!(
        later.iter().all(|m| m.name == "channel.heartbeat"),
        "{:?}",
        names(&later)
    );
}

#[test]
fn session_system_and_rdm_messages() {
    let (mut s, mut c, _) = server_with_codec(
        &[],
        Some("msgbox: { response: 6, delay-ms: 500 }"),
        None,
        all_caps(),
    );
    let t = Duration::from_secs(1);
    assert!(c.ask(s.as_mut(), t, json!({ "session.lock": {} })).is_empty());
    assert!(c
        .ask(
            s.as_mut(),
            t,
            json!({ "session.set-kbd-layout": { "kbdLayoutId": "00000409" } })
        )
        .is_empty());
    assert!(c
        .ask(
            s.as_mut(),
            t,
            json!({ "session.msgbox-req": { "requestId": 4, "text": "hi", "msgFlags": 8 } })
        )
        .is_empty());
    let rsp = c.dec(&s.timer(Duration::from_millis(1500)));
    assert_eq!(names(&rsp), vec!["session.msgbox-rsp"]);
    assert_eq!(
        (
            rsp[0].fields["requestId"].clone(),
            rsp[0].fields["response"].clone()
        ),
        (json!(4), json!(6))
    );
    let ev = c.ask(
        s.as_mut(),
        t,
        json!({ "session.window-rec-start": { "pollInterval": 100, "msgFlags": 1 } }),
    );
    assert_eq!(ev[0].fields["msgFlags"], 1);
    let ev = c.dec(&s.timer(Duration::from_millis(1100)));
    assert_eq!(ev[0].fields["msgFlags"], 2);
    let rdm = c.ask(s.as_mut(), t, json!({ "rdm.capabilities": { "timestamp": 5 } }));
    assert_eq!(rdm[0].fields["syncFlags"], 1);
    let rdm = c.ask(s.as_mut(), t, json!({ "rdm.app-start": { "timeout": 45 } }));
    assert_eq!(rdm[0].fields["appState"], 1);
    let rdm = c.ask(s.as_mut(), t, json!({ "rdm.app-action": { "appAction": 2 } }));
    assert_eq!(rdm[0].fields["appState"], 4);
    let sid = "a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90";
    let rdm = c.ask(
        s.as_mut(),
        t,
        json!({ "rdm.session-action": { "sessionAction": 1, "sessionId": sid } }),
    );
    assert_eq!(rdm[0].fields["sessionId"], sid);
    let outs = s.input(t, &c.enc(json!({ "system.shutdown": { "timeout": 0 } })));
    assert_eq!(names(&c.dec(&outs)), vec!["channel.close"]);
    assert!(outs.iter().any(|o| matches!(o, Output::Close { .. })));
}

#[test]
fn malformed_input_closes_the_channel() {
    let mut s = new_peer(&config(Role::Server, &[], None, None)).unwrap();
    let mut c = Codec::new(Role::Client);
    let outs = s.input(Duration::ZERO, &[0xff, 0xff, 0xff, 0xff, 0x13, 0x05, 0, 0]);
    let got = c.dec(&outs);
    assert_eq!(got[0].fields["status"]["code"], 2);
}

// ------------------------------------------------------------------ misbehaviours

#[test]
fn there_are_at_least_ten_misbehaviours_and_all_parse() {
    assert!(MISBEHAVIOURS.len() >= 10);
    for m in MISBEHAVIOURS {
        assert!(m.name.starts_with("now-"));
        new_peer(&config(m.role, &[], None, Some(m.name))).unwrap();
        assert!(new_peer(&config(m.role.other(), &[], None, Some(m.name))).is_err());
    }
    assert!(new_peer(&config(Role::Server, &[], None, Some("now-nope"))).is_err());
}

const SHELL_IO: &str = r#"
requests:
  - send: { exec.shell: { sessionId: 1, command: "echo hi", msgFlags: 4096 } }
    expect-stdout: "echo hi"
    expect-exit-code: 0
"#;

#[test]
fn misbehaviour_varstr_no_nul_breaks_decoding() {
    let (mut s, mut c, _) = server_with_codec(
        &[],
        Some("exec: [ { fail: { kind: 1, code: 4, message: gone } } ]"),
        Some("now-varstr-no-nul"),
        all_caps(),
    );
    let got = c.ask(
        s.as_mut(),
        Duration::from_secs(1),
        json!({ "exec.shell": { "sessionId": 1, "command": "x" } }),
    );
    assert!(
        got[0].name.starts_with("error") && got[0].name.contains("nul"),
        "{:?}",
        names(&got)
    );
}

#[test]
fn misbehaviour_capset_not_downgraded_echoes_the_client() {
    let script = "capset: { execCapset: 1 }";
    let (_, _, good) = server_with_codec(&[], Some(script), None, all_caps());
    let (_, _, bad) = server_with_codec(&[], Some(script), Some("now-capset-not-downgraded"), all_caps());
    assert_eq!(good[0].fields["execCapset"], 1);
    assert_eq!(bad[0].fields["execCapset"], 4223);
    // A strict client sees an answer with more than it offered (here: a 1.3 client, the echo of a
    // 1.6 capset cannot happen, so check the version path with the full answer instead).
    let t = pair(
        (
            &[("strict-capset", "true")],
            Some("capset: { versionMinor: 3, execCapset: 1 }"),
            None,
        ),
        (&[("capset-answer", "full")], None, None),
        60,
    );
    assert!(!t.ok() && t.summary().contains("downgraded"), "{}", t.summary());
}

#[test]
fn misbehaviour_heartbeat_never() {
    let (good, _, _) = server_with_codec(&[], None, None, all_caps());
    assert!(good.next_deadline().is_some());
    let (bad, _, _) = server_with_codec(&[], None, Some("now-heartbeat-never"), all_caps());
    assert_eq!(bad.next_deadline(), None);
}

#[test]
fn misbehaviour_heartbeat_too_slow_trips_the_client_watchdog() {
    let client = r#"
timeout-ms: 60000
capset: { execCapset: 4100, heartbeatInterval: 5 }
requests:
  - send: { exec.shell: { sessionId: 1, command: "long", msgFlags: 4096 } }
"#;
    let server = "exec: [ { output: [ { stdout: done, delay-ms: 30000 } ] } ]";
    let good = pair((&[], Some(client), None), (&[], Some(server), None), 120);
    assert!(good.ok(), "{}", good.summary());
    let bad = pair(
        (&[], Some(client), None),
        (&[], Some(server), Some("now-heartbeat-too-slow")),
        120,
    );
    assert!(
        !bad.ok() && bad.summary().contains("heartbeat"),
        "{}",
        bad.summary()
    );
}

#[test]
fn misbehaviour_result_before_started() {
    let t = pair(
        (&[], Some(SHELL_IO), None),
        (&[], None, Some("now-result-before-started")),
        60,
    );
    assert!(
        !t.ok() && t.summary().contains("before exec.started"),
        "{}",
        t.summary()
    );
    assert_eq!(t.labels(Role::Server)[1], "exec.result");
}

#[test]
fn misbehaviour_ignore_session_id() {
    let t = pair(
        (&[], Some(SHELL_IO), None),
        (&[], None, Some("now-ignore-session-id")),
        60,
    );
    assert!(
        !t.ok() && t.summary().contains("unexpected session 0"),
        "{}",
        t.summary()
    );
}

#[test]
fn misbehaviour_data_flags_1_0_layout() {
    let good = pair((&[], Some(SHELL_IO), None), (&[], None, None), 60);
    assert!(good.ok(), "{}", good.summary());
    let t = pair(
        (&[], Some(SHELL_IO), None),
        (&[], None, Some("now-data-flags-1.0-layout")),
        60,
    );
    assert!(!t.ok() && t.summary().contains("stdout"), "{}", t.summary());
    let data = t.sent.iter().find(|(_, l, _)| l == "exec.data").unwrap();
    assert_eq!(&data.2[6..8], &[0x0B, 0x00]); // FIRST | LAST | STDOUT in the 1.0 values
}

#[test]
fn misbehaviour_msgsize_counts_header() {
    let (_, _, got) = server_with_codec(&[], None, Some("now-msgsize-counts-header"), all_caps());
    // 22 bytes announced, 14 sent: the codec waits for more, and a finished stream is truncated.
    assert!(got.is_empty());
    let t = pair(
        (&[], None, None),
        (&[], None, Some("now-msgsize-counts-header")),
        60,
    );
    assert!(!t.ok(), "{}", t.summary());
}

#[test]
fn misbehaviour_no_close_on_version_mismatch() {
    let mut s = new_peer(&config(
        Role::Server,
        &[],
        None,
        Some("now-no-close-on-version-mismatch"),
    ))
    .unwrap();
    let mut c = Codec::new(Role::Client);
    let outs = s.input(
        Duration::ZERO,
        &c.enc(json!({ "channel.capset": { "versionMajor": 2 } })),
    );
    assert_eq!(names(&c.dec(&outs)), vec!["channel.capset"]);
    assert!(!outs.iter().any(|o| matches!(o, Output::Close { .. })));
}

#[test]
fn misbehaviour_exit_code_missing() {
    let (mut s, mut c, _) = server_with_codec(&[], None, Some("now-exit-code-missing"), all_caps());
    let got = c.ask(
        s.as_mut(),
        Duration::from_secs(1),
        json!({ "exec.run": { "sessionId": 1, "command": "x" } }),
    );
    assert_eq!(got[0].name, "exec.started");
    assert!(got[1].name.starts_with("error"), "{:?}", names(&got));
    let t = pair(
        (&[], Some(SHELL_IO), None),
        (&[], None, Some("now-exit-code-missing")),
        60,
    );
    assert!(!t.ok(), "{}", t.summary());
}

#[test]
fn misbehaviour_cancel_no_response() {
    let script = Some("exec: [ { hang: true } ]");
    for (mis, want) in [
        (None, vec!["exec.cancel-rsp", "exec.result"]),
        (Some("now-cancel-no-response"), vec![]),
    ] {
        let (mut s, mut c, _) = server_with_codec(&[], script, mis, all_caps());
        c.ask(
            s.as_mut(),
            Duration::from_secs(1),
            json!({ "exec.shell": { "sessionId": 1, "command": "x" } }),
        );
        let got = c.ask(
            s.as_mut(),
            Duration::from_secs(1),
            json!({ "exec.cancel-req": { "sessionId": 1 } }),
        );
        assert_eq!(names(&got), want);
    }
}

#[test]
fn misbehaviour_data_after_result() {
    let client = r#"
requests:
  - send: { exec.shell: { sessionId: 1, command: "a", msgFlags: 4096 } }
  - send: { exec.shell: { sessionId: 2, command: "b", msgFlags: 4096 } }
"#;
    let server =
        "exec: [ { match: b, output: [ { stdout: b, delay-ms: 100 } ] }, { output: [ { stdout: a } ] } ]";
    assert!(pair((&[], Some(client), None), (&[], Some(server), None), 60).ok());
    let t = pair(
        (&[], Some(client), None),
        (&[], Some(server), Some("now-data-after-result")),
        60,
    );
    assert!(
        !t.ok() && t.summary().contains("unexpected session 1"),
        "{}",
        t.summary()
    );
}

#[test]
fn misbehaviour_client_no_capset() {
    let mut good = new_peer(&config(Role::Client, &[], None, None)).unwrap();
    let mut bad = new_peer(&config(Role::Client, &[], None, Some("now-client-no-capset"))).unwrap();
    let label = |outs: Vec<Output>| match outs.into_iter().next() {
        Some(Output::Send { label, .. }) => label,
        other => panic!("{other:?}"),
    };
    assert_eq!(label(good.start(Duration::ZERO)), "channel.capset");
    assert_eq!(label(bad.start(Duration::ZERO)), "exec.run");
}

#[test]
fn misbehaviour_client_session_id_reuse() {
    let client = r#"
requests:
  - send: { exec.run: { sessionId: 10, command: "a" } }
  - send: { exec.run: { sessionId: 11, command: "b" } }
"#;
    let ids = |t: &Transcript| -> Vec<u32> {
        let mut c = Codec::new(Role::Server);
        let outs: Vec<Output> = t
            .sent
            .iter()
            .filter(|(r, l, _)| *r == Role::Client && l == "exec.run")
            .map(|(_, l, b)| Output::Send {
                label: l.clone(),
                bytes: b.clone(),
            })
            .collect();
        c.dec(&outs)
            .iter()
            .map(|d| u32::try_from(d.fields["sessionId"].as_u64().unwrap()).unwrap())
            .collect()
    };
    let good = pair((&[], Some(client), None), (&[], None, None), 60);
    assert_eq!(ids(&good), vec![10, 11]);
    let bad = pair(
        (&[], Some(client), Some("now-client-session-id-reuse")),
        (&[], None, None),
        60,
    );
    assert_eq!(ids(&bad), vec![1, 1]);
}

// ------------------------------------------------------------------ other profiles

fn pair_profile(profile: &str, client_script: Option<&str>, server_script: Option<&str>) -> Transcript {
    let mut cc = config(Role::Client, &[], client_script, None);
    cc.profile = Some(profile.into());
    let mut sc = config(Role::Server, &[], server_script, None);
    sc.profile = Some(profile.into());
    let mut c = new_peer(&cc).unwrap();
    let mut s = new_peer(&sc).unwrap();
    run_pair(c.as_mut(), s.as_mut(), Duration::from_secs(60))
}

const PROFILE_SCRIPT: &str = r#"
requests:
  - send: { exec.shell: { sessionId: 1, command: "echo hi", msgFlags: 4096 } }
    expect-stdout: "echo hi"
    expect-exit-code: 4
  - send: { exec.batch: { sessionId: 2, command: "more", msgFlags: 4096 } }
    stdin: "line"
    expect-stdout: "line"
  - send: { session.msgbox-req: { requestId: 3, text: "Sure?", msgFlags: 8 } }
"#;

const PROFILE_SERVER: &str = r#"
exec:
  - match: "more"
    wait-stdin: true
  - exit-code: 4
"#;

#[test]
fn now_1_3_pair_runs_the_script() {
    let t = pair_profile("now-1.3", Some(PROFILE_SCRIPT), Some(PROFILE_SERVER));
    assert!(t.ok(), "{}", t.summary());
    let mut c = Codec::new(Role::Server);
    let first = t.sent.iter().find(|(r, _, _)| *r == Role::Client).unwrap();
    let got = c.dec(&[Output::Send {
        label: String::new(),
        bytes: first.2.clone(),
    }]);
    assert_eq!(got[0].fields["versionMinor"], 3);
    assert_eq!(got[0].fields["sessionCapset"], 0x0F);
}

#[test]
fn now_1_0_text_pair_runs_the_script_in_the_1_0_layout() {
    let t = pair_profile("now-1.0-text", Some(PROFILE_SCRIPT), Some(PROFILE_SERVER));
    assert!(t.ok(), "{}", t.summary());
    // 1.0 text: the server advertises first, the client answers with the downgraded copy.
    assert_eq!(t.sent[0].0, Role::Server);
    assert_eq!(t.sent[0].1, "channel.capset");
    assert_eq!(t.sent[1].0, Role::Client);
    assert_eq!(t.sent[1].1, "channel.capset", "{:?}", t.logs);
    assert!(t.labels(Role::Server).contains(&"exec.heartbeat"));
    assert!(!t.labels(Role::Client).contains(&"channel.close"));
    // Decoded with the 1.0-text codec: RESULT without exitCode, the exit code in status.code.
    let opts = SessionOptions {
        local_role: Some(Role::Client),
        profile: Some("now-1.0-text".into()),
        ..Default::default()
    };
    let mut dec = peercheck_now::protocol().new_session(&opts).unwrap();
    for (r, _, b) in &t.sent {
        if *r == Role::Server {
            dec.push_received(b);
        }
    }
    let mut results = Vec::new();
    while let Some(m) = dec.next_received().unwrap() {
        if m.name == "exec.result" {
            results.push(m.fields);
        }
    }
    assert!(results[0].get("exitCode").is_none());
    assert_eq!(results[0]["status"]["code"], 4);
}

#[test]
fn client_script_can_start_a_session_and_cancel_it() {
    let client = r#"
requests:
  - send: { exec.shell: { sessionId: 2, command: "sleep 100" } }
    wait: false
  - send: { exec.cancel-req: { sessionId: 2 } }
"#;
    let t = pair(
        (&[], Some(client), None),
        (&[], Some("exec: [ { hang: true } ]"), None),
        60,
    );
    assert!(t.ok(), "{}", t.summary());
    assert_eq!(
        t.labels(Role::Server),
        vec!["channel.capset", "exec.started", "exec.cancel-rsp", "exec.result"]
    );
    let t = pair(
        (&[], Some(client), None),
        (
            &[],
            Some("exec: [ { hang: true } ]"),
            Some("now-cancel-no-response"),
        ),
        60,
    );
    assert!(!t.ok() && t.summary().contains("timed out"), "{}", t.summary());
}

// ------------------------------------------------------------------ run-real-commands (sans-IO side)

fn real_server() -> (Box<dyn Peer>, Codec) {
    let (s, c, got) = server_with_codec(&[(REAL_COMMANDS_PARAM, "true")], None, None, all_caps());
    assert_eq!(names(&got), vec!["channel.capset"]);
    (s, c)
}

fn requests(outs: &[Output]) -> Vec<ProcessRequest> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Process(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn start_id(outs: &[Output]) -> u64 {
    match requests(outs).as_slice() {
        [ProcessRequest::Start { id, .. }] => *id,
        other => panic!("expected one start request, got {other:?}"),
    }
}

#[test]
fn real_shell_streams_output_and_sends_the_real_exit_code() {
    let (mut s, mut c) = real_server();
    let t = Duration::from_secs(1);
    let msg = c.enc(json!({ "exec.shell": { "sessionId": 7, "command": "echo hello", "msgFlags": 4096 } }));
    let outs = s.input(t, &msg);
    // Nothing on the wire until the process is up: the driver is asked to start it.
    assert!(c.dec(&outs).is_empty());
    assert_eq!(
        requests(&outs),
        vec![ProcessRequest::Start {
            id: 1,
            program: "sh".into(),
            args: vec!["-c".into(), "echo hello".into()],
            directory: None,
            io: true,
        }]
    );
    let started = c.dec(&s.process_event(t, ProcessEvent::Started { id: 1, pid: 42 }));
    assert_eq!(names(&started), vec!["exec.started"]);
    assert_eq!(started[0].fields["sessionId"], 7);
    let mut got = Vec::new();
    for ev in [
        ProcessEvent::Stdout {
            id: 1,
            bytes: b"hello\n".to_vec(),
        },
        ProcessEvent::Stderr {
            id: 1,
            bytes: b"warn\n".to_vec(),
        },
        ProcessEvent::Eof { id: 1, stderr: false },
        ProcessEvent::Eof { id: 1, stderr: true },
        ProcessEvent::Exited { id: 1, code: 3 },
    ] {
        got.extend(c.dec(&s.process_event(t, ev)));
    }
    assert_eq!(
        names(&got),
        vec!["exec.data", "exec.data", "exec.data", "exec.data", "exec.result"]
    );
    assert_eq!(got[0].fields["data"], hex::encode("hello\n"));
    let result = &got[4].fields;
    assert_eq!(result["sessionId"], 7);
    assert_eq!(result["exitCode"], 3);
    // The session id is free again: a new request gets a new process token.
    let again = s.input(t, &msg);
    assert_eq!(start_id(&again), 2);
}

#[test]
fn real_stdin_is_passed_through_and_last_closes_it() {
    let (mut s, mut c) = real_server();
    let t = Duration::from_secs(1);
    let id = start_id(&s.input(
        t,
        &c.enc(json!({ "exec.batch": { "sessionId": 2, "command": "cat", "msgFlags": 4096 } })),
    ));
    let _ = s.process_event(t, ProcessEvent::Started { id, pid: 42 });
    let outs = s.input(
        t,
        &c.enc(json!({ "exec.data": { "sessionId": 2, "msgFlags": 3, "data": hex::encode("abc") } })),
    );
    assert_eq!(
        requests(&outs),
        vec![ProcessRequest::Stdin {
            id,
            bytes: b"abc".to_vec(),
            last: true
        }]
    );
}

#[test]
fn real_cancel_kills_answers_and_drops_late_events() {
    let (mut s, mut c) = real_server();
    let t = Duration::from_secs(1);
    let id = start_id(&s.input(
        t,
        &c.enc(json!({ "exec.shell": { "sessionId": 4, "command": "sleep 100", "msgFlags": 4096 } })),
    ));
    let _ = s.process_event(t, ProcessEvent::Started { id, pid: 42 });
    let outs = s.input(t, &c.enc(json!({ "exec.cancel-req": { "sessionId": 4 } })));
    assert_eq!(requests(&outs), vec![ProcessRequest::Kill { id }]);
    let got = c.dec(&outs);
    assert_eq!(names(&got), vec!["exec.cancel-rsp", "exec.result"]);
    // The killed process's last words never reach the wire: its RESULT already went out.
    for ev in [
        ProcessEvent::Stdout {
            id,
            bytes: b"late".to_vec(),
        },
        ProcessEvent::Exited { id, code: 137 },
    ] {
        assert!(s.process_event(t, ev).is_empty());
    }
}

#[test]
fn real_abort_kills_without_an_answer() {
    let (mut s, mut c) = real_server();
    let t = Duration::from_secs(1);
    let id = start_id(&s.input(
        t,
        &c.enc(json!({ "exec.shell": { "sessionId": 5, "command": "sleep 100", "msgFlags": 4096 } })),
    ));
    let _ = s.process_event(t, ProcessEvent::Started { id, pid: 42 });
    let outs = s.input(
        t,
        &c.enc(json!({ "exec.abort": { "sessionId": 5, "exitCode": 1 } })),
    );
    assert_eq!(requests(&outs), vec![ProcessRequest::Kill { id }]);
    assert!(c.dec(&outs).is_empty());
}

#[test]
fn real_pwsh_without_pwsh_is_a_not_found_status() {
    let (mut s, mut c) = real_server();
    let t = Duration::from_secs(1);
    let outs = s.input(
        t,
        &c.enc(json!({ "exec.pwsh": { "sessionId": 6, "command": "Get-Date", "msgFlags": 4096 } })),
    );
    let id = match requests(&outs).as_slice() {
        [ProcessRequest::Start { id, program, .. }] => {
            assert_eq!(program, "pwsh");
            *id
        }
        other => panic!("{other:?}"),
    };
    let got = c.dec(&s.process_event(
        t,
        ProcessEvent::Failed {
            id,
            not_found: true,
            error: "cannot start `pwsh`: No such file or directory".into(),
        },
    ));
    assert_eq!(names(&got), vec!["exec.result"]);
    let status = &got[0].fields["status"];
    assert_eq!(status["code"], 4, "{status}");
    assert!(status["errorMessage"].as_str().unwrap().contains("pwsh"));
}

#[test]
fn real_run_is_not_followed() {
    let (mut s, mut c) = real_server();
    let t = Duration::from_secs(1);
    let outs = s.input(
        t,
        &c.enc(json!({ "exec.run": { "sessionId": 1, "command": "true" } })),
    );
    let id = match requests(&outs).as_slice() {
        [ProcessRequest::Start { id, io, .. }] => {
            assert!(!io);
            *id
        }
        other => panic!("{other:?}"),
    };
    let got = c.dec(&s.process_event(t, ProcessEvent::Started { id, pid: 42 }));
    assert_eq!(names(&got), vec!["exec.started", "exec.result"]);
    assert!(s
        .process_event(t, ProcessEvent::Exited { id, code: 1 })
        .is_empty());
}

#[test]
fn real_commands_need_the_param() {
    let (mut s, mut c, _) = server_with_codec(&[], None, None, all_caps());
    let outs = s.input(
        Duration::from_secs(1),
        &c.enc(json!({ "exec.shell": { "sessionId": 1, "command": "echo hi", "msgFlags": 4096 } })),
    );
    assert!(requests(&outs).is_empty());
    // The scripted default: the command echoed back.
    assert_eq!(
        names(&c.dec(&outs)),
        vec!["exec.started", "exec.data", "exec.result"]
    );
}

#[test]
fn process_parameters_split_like_shell_words_without_expansion() {
    use super::server::split_words;
    assert_eq!(split_words(""), Vec::<String>::new());
    assert_eq!(split_words("  -l  /tmp "), vec!["-l", "/tmp"]);
    assert_eq!(split_words(r#"-c 'exit 3'"#), vec!["-c", "exit 3"]);
    assert_eq!(
        split_words(r#"a "b c" d\ e '$HOME' """#),
        vec!["a", "b c", "d e", "$HOME", ""]
    );
}

#[test]
fn late_heartbeat_wake_ups_do_not_add_up() {
    let (mut s, mut c, _) = server_with_codec(&[], None, None, all_caps());
    assert_eq!(s.next_deadline(), Some(Duration::from_millis(5001)));
    // The timer woke 30 ms late: the next heartbeat stays on the negotiated schedule.
    let hb = c.dec(&s.timer(Duration::from_millis(5031)));
    assert_eq!(names(&hb), vec!["channel.heartbeat"]);
    assert_eq!(s.next_deadline(), Some(Duration::from_millis(10_001)));
    // A whole period behind: one heartbeat now, the next a full period later (no burst).
    let hb = c.dec(&s.timer(Duration::from_millis(16_000)));
    assert_eq!(names(&hb), vec!["channel.heartbeat"]);
    assert_eq!(s.next_deadline(), Some(Duration::from_millis(21_000)));
}

/// The peer asks for a process, but a driver not configured to run them refuses: a NOW_STATUS
/// error, and nothing runs.
#[tokio::test]
async fn a_driver_without_run_real_commands_runs_nothing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = std::env::temp_dir().join(format!("peercheck-real-{}", std::process::id()));
    let marker = dir.join("ran");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let peer = new_peer(&config(
        Role::Server,
        &[(REAL_COMMANDS_PARAM, "true")],
        None,
        None,
    ))
    .unwrap();
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let (r, w) = tokio::io::split(theirs);
    let server = tokio::spawn(crate::driver::drive(
        peer,
        tokio::io::join(r, w),
        crate::driver::DriveConfig::default(),
    ));
    let mut c = Codec::new(Role::Client);
    let (mut rd, mut wr) = tokio::io::split(ours);
    wr.write_all(&c.enc(json!({ "channel.capset": all_caps() })))
        .await
        .unwrap();
    let cmd = format!("touch {}", marker.display());
    wr.write_all(&c.enc(json!({ "exec.shell": { "sessionId": 1, "command": cmd, "msgFlags": 4096 } })))
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 4096];
    while !got.iter().any(|d: &Decoded| d.name == "exec.result") {
        let n = tokio::time::timeout(Duration::from_secs(10), rd.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed early: {:?}", names(&got));
        c.session.push_received(&buf[..n]);
        while let Some(d) = c.session.next_received().unwrap() {
            got.push(d);
        }
    }
    assert_eq!(names(&got), vec!["channel.capset", "exec.result"]);
    let status = &got[1].fields["status"];
    assert!(
        status["errorMessage"].as_str().unwrap().contains("not enabled"),
        "{status}"
    );
    drop(wr);
    drop(rd);
    let _ = server.await;
    assert!(!marker.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
