//! The sans-IO half of `peercheck record`: bytes seen by the proxy in each direction go in,
//! annotated log lines and scenario steps come out.
//!
//! Decoding uses the protocol's own sessions, one per direction, kept in step like the real
//! peers: the session playing the server decodes what the client sends and *encodes* (mirrors)
//! what the server sent, so state that one side learns from its own messages (Inedo encryption
//! mode and IVs from the reply, negotiated versions) is known when the other side's bytes arrive.
//!
//! The side under test becomes `expect` steps, the other side `send` steps. Per-run values (NOW
//! session ids, PSRP object ids / RPID / PID / call ids, Inedo IVs and session ids) that originate
//! from the side under test become captures (`{ capture: sessionId_1 }`), and later messages that
//! repeat them refer to the capture (`${sessionId_1}`); values the suite's side chose stay literal.
//! Counters each sender keeps for itself (PSRP fragment object ids) are only compared with the
//! same sender's earlier values: the server's ObjectId 1 is not the client's ObjectId 1.
//!
//! Keep-alives and acknowledgements (`ProtocolDef::ignorable`) never become `expect` steps. Those
//! the suite's side sent are different: the peer under test may wait for them (a PowerShell
//! client waits for `<CommandAck>` before it sends the pipeline). Acknowledgements the suite's own
//! session sends by itself on replay (PSRP `<DataAck>` with `auto-ack`) are left out, the others
//! become `send` steps where they were seen.
//!
//! `--tls-intercept` (Inedo SSL): a transparent proxy sees only TLS records after the reply. In
//! this mode the two sessions *are* the endpoints: the one playing the server terminates the
//! real client's TLS (the codec's rcgen self-signed certificate), the one playing the client
//! opens its own TLS to the real server (accepting its certificate, as the suite does), and each
//! decoded message is re-encoded by the other session and forwarded in place of the original
//! bytes. A message that cannot be decoded or re-encoded ends the recording.

use crate::scenario::model::{ExpectClose, Level, PeerRole, Scenario, Step};
use crate::tools::redact;
use peercheck_wire::session::{Direction, ProtocolDef, Role, SessionOptions, WireSession};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Fields whose values differ from run to run without meaning anything (clocks, process ids):
/// in `expect` steps they become `{ any: true }`, per protocol (more with `--loose`).
pub fn volatile_fields(protocol: &str) -> &'static [&'static str] {
    match protocol {
        // `bom`: a sender may start message Data with a UTF-8 BOM or not, receivers accept both
        // (ERRATA PSRP-4); psrpcore writes none, PowerShell and the simulator write one.
        "psrp" => &["timeGenerated", "processId", "bom"],
        _ => &[],
    }
}

/// Per-run fields that count per sender: their values are compared only with the same sender's.
pub fn per_sender_fields(protocol: &str) -> &'static [&'static str] {
    match protocol {
        "psrp" => &["objectId"],
        _ => &[],
    }
}

/// Acknowledgements that the side the suite replays must send itself (the peer under test waits
/// for them), unless the suite's session sends them on its own.
pub fn replayed_acks(protocol: &str) -> &'static [&'static str] {
    match protocol {
        "psrp" => &["oop.data-ack", "oop.command-ack", "oop.signal-ack"],
        _ => &[],
    }
}

/// Field names that hold per-run values, per protocol.
pub fn per_run_fields(protocol: &str) -> &'static [&'static str] {
    match protocol {
        "now" => &["sessionId", "requestId"],
        "psrp" => &["rpid", "pid", "objectId", "ci", "psGuid"],
        "inedo" => &["iv", "nextIv", "sessionId"],
        _ => &[],
    }
}

/// A per-run value seen so far.
#[derive(Debug)]
struct Seen {
    value: Value,
    /// The capture naming it (`None`: the suite's side chose it).
    var: Option<String>,
    /// For per-sender fields: who sent it and the field name (compared only with those).
    scope: Option<(Role, String)>,
}

#[derive(Debug)]
pub struct Recorder {
    proto: &'static dyn ProtocolDef,
    profile: Option<String>,
    params: BTreeMap<String, String>,
    under_test: Role,
    /// Plays the server: decodes the client's bytes, mirrors the server's messages.
    at_server: Box<dyn WireSession>,
    /// Plays the client: decodes the server's bytes, mirrors the client's messages.
    at_client: Box<dyn WireSession>,
    /// A direction whose decoding failed (its later bytes are recorded raw).
    broken: BTreeMap<Role, String>,
    steps: Vec<Step>,
    /// Per-run values seen so far.
    values: Vec<Seen>,
    /// Acknowledgements the suite's session sent by itself and no message of the real peer
    /// playing the suite's side has matched yet (name, fields).
    auto_sent: Vec<(String, Value)>,
    counters: BTreeMap<String, usize>,
    suite_closed: bool,
    under_test_closed: bool,
    /// When the last suite-side message was seen, and the longest wait for an answer after one.
    last_suite_at: Option<Duration>,
    pub longest_wait: Duration,
    mirror_warned: bool,
    /// Messages recorded, per direction.
    pub counts: BTreeMap<Role, usize>,
    /// Extra fields to match loosely (`--loose`).
    pub loose: Vec<String>,
    /// `--tls-intercept`: the sessions are the endpoints (each terminates the real peer's TLS),
    /// and what each encodes or transmits is forwarded instead of the real peer's bytes.
    pub intercept: bool,
    /// Intercepting: bytes waiting to be written, by the role that receives them.
    out: BTreeMap<Role, Vec<u8>>,
}

impl Recorder {
    pub fn new(
        proto: &'static dyn ProtocolDef,
        profile: Option<&str>,
        params: &BTreeMap<String, String>,
        under_test: Role,
    ) -> Result<Self, String> {
        let session = |role: Role| {
            proto.new_session(&SessionOptions {
                local_role: Some(role),
                profile: profile.map(str::to_owned),
                params: params.clone(),
            })
        };
        Ok(Self {
            proto,
            profile: profile.map(str::to_owned),
            params: params.clone(),
            under_test,
            at_server: session(Role::Server)?,
            at_client: session(Role::Client)?,
            broken: BTreeMap::new(),
            steps: Vec::new(),
            values: Vec::new(),
            auto_sent: Vec::new(),
            counters: BTreeMap::new(),
            suite_closed: false,
            under_test_closed: false,
            last_suite_at: None,
            longest_wait: Duration::ZERO,
            mirror_warned: false,
            counts: BTreeMap::new(),
            loose: Vec::new(),
            intercept: false,
            out: BTreeMap::new(),
        })
    }

    fn label(&self, from: Role) -> String {
        let tag = if from == self.under_test {
            " (under test)"
        } else {
            ""
        };
        format!("{} -> {}{tag}", from.as_str(), from.other().as_str())
    }

    /// Bytes `from` sent, at time `at` since the connection started: the log lines (one per message).
    pub fn push(&mut self, from: Role, bytes: &[u8], at: Duration) -> Vec<String> {
        let mut log = Vec::new();
        let stamp = format!("[{:>8.3}s]", at.as_secs_f64());
        if self.broken.contains_key(&from) {
            log.push(format!(
                "{stamp} {}  {} raw byte(s) after a decode error",
                self.label(from),
                bytes.len()
            ));
            if from != self.under_test {
                self.steps.push(Step {
                    send_hex: Some(hex::encode(bytes)),
                    ..Step::default()
                });
            }
            return log;
        }
        let label = self.label(from);
        let (decoder, mirror) = match from {
            Role::Client => (&mut self.at_server, &mut self.at_client),
            Role::Server => (&mut self.at_client, &mut self.at_server),
        };
        decoder.push_received(bytes);
        let mut decoded = Vec::new();
        loop {
            match decoder.next_received() {
                Ok(Some(m)) => {
                    let msg = crate::tools::proto::structured(&m.name, &m.fields);
                    match mirror.encode(&msg) {
                        // Intercepting: the mirror's bytes are what the other side gets.
                        Ok(b) if self.intercept => {
                            self.out.entry(from.other()).or_default().extend_from_slice(&b)
                        }
                        Ok(_) => {}
                        Err(e) if self.intercept => {
                            log.push(format!(
                                "{stamp} {label}  cannot re-encode {} for the other side: {e}",
                                m.name
                            ));
                            self.broken
                                .insert(from, format!("cannot re-encode {}: {e}", m.name));
                        }
                        Err(e) => {
                            if !self.mirror_warned {
                                log.push(format!("{stamp} note: cannot mirror {} into the other side's session ({e}); later decoding may drift", m.name));
                                self.mirror_warned = true;
                            }
                        }
                    }
                    decoded.push(m);
                }
                Ok(None) => break,
                Err(e) => {
                    log.push(format!("{stamp} {}  DECODE ERROR: {e}", self.label(from)));
                    self.broken.insert(from, e.to_string());
                    break;
                }
            }
        }
        // Bytes the sessions write by themselves (acks, TLS) are the real peers' business on the
        // wire; the suite's session writes the same on replay, so its acknowledgements are noted.
        let suite = self.under_test.other();
        let mut auto = Vec::new();
        for (role, session) in [
            (Role::Server, &mut self.at_server),
            (Role::Client, &mut self.at_client),
        ] {
            while let Some(b) = session.poll_transmit() {
                if role == suite {
                    auto.extend_from_slice(&b);
                }
                if self.intercept {
                    // The session playing the server talks to the real client and vice versa.
                    self.out.entry(role.other()).or_default().extend_from_slice(&b);
                }
            }
        }
        if !auto.is_empty() && !replayed_acks(self.proto.name()).is_empty() {
            self.note_auto_sent(&auto);
        }
        for m in decoded {
            let ignorable = self.proto.ignorable().contains(&m.name.as_str());
            let replayed = ignorable
                && from == suite
                && replayed_acks(self.proto.name()).contains(&m.name.as_str())
                && !self.take_auto_sent(&m.name, &m.fields);
            let note = match (ignorable, replayed) {
                (false, _) => "",
                (true, true) => " [ack the peer under test waits for: sent on replay]",
                (true, false) if from == suite => " [ack, sent by the suite's session on replay]",
                (true, false) => " [keep-alive, not recorded]",
            };
            log.push(format!(
                "{stamp} {}  {} ({} bytes){note} {}",
                self.label(from),
                m.name,
                m.bytes.len(),
                short(&redact::redact(&m.fields))
            ));
            if !ignorable || replayed {
                self.record(from, &m.name, &m.fields, at);
            }
        }
        log
    }

    /// Intercepting: the bytes to write to the real client and to the real server, in that order.
    pub fn take_output(&mut self) -> (Vec<u8>, Vec<u8>) {
        (
            self.out.remove(&Role::Client).unwrap_or_default(),
            self.out.remove(&Role::Server).unwrap_or_default(),
        )
    }

    /// Intercepting and a direction could not be decoded or re-encoded: nothing more can be
    /// forwarded.
    pub fn intercept_failed(&self) -> bool {
        self.intercept && !self.broken.is_empty()
    }

    /// The suite's session wrote `bytes` by itself: remember the acknowledgements among them.
    fn note_auto_sent(&mut self, bytes: &[u8]) {
        let direction = match self.under_test {
            Role::Server => Direction::ToServer,
            Role::Client => Direction::ToClient,
        };
        // What cannot be decoded on its own (TLS records) is no acknowledgement.
        if let Ok((msgs, _)) = crate::tools::proto::decode_all(
            self.proto,
            direction,
            self.profile.as_deref(),
            &self.params,
            bytes,
        ) {
            let acks = replayed_acks(self.proto.name());
            self.auto_sent.extend(
                msgs.into_iter()
                    .filter(|m| acks.contains(&m.name.as_str()))
                    .map(|m| (m.name, m.fields)),
            );
        }
    }

    /// Was this acknowledgement one the suite's session sends by itself? (Consumes it.)
    fn take_auto_sent(&mut self, name: &str, fields: &Value) -> bool {
        match self.auto_sent.iter().position(|(n, f)| n == name && f == fields) {
            Some(i) => {
                self.auto_sent.remove(i);
                true
            }
            None => false,
        }
    }

    fn record(&mut self, from: Role, name: &str, fields: &Value, at: Duration) {
        *self.counts.entry(from).or_default() += 1;
        let from_under_test = from == self.under_test;
        let fields = self.templatize(fields, from_under_test, None);
        let msg = crate::tools::proto::structured(name, &fields);
        if from_under_test {
            if let Some(t) = self.last_suite_at.take() {
                self.longest_wait = self.longest_wait.max(at.saturating_sub(t));
            }
            self.steps.push(Step {
                expect: Some(msg),
                ..Step::default()
            });
        } else {
            self.last_suite_at = Some(at);
            self.steps.push(Step {
                send: Some(msg),
                ..Step::default()
            });
        }
    }

    /// Replace per-run values: captures where the side under test originates them, references
    /// where a value was captured before.
    fn templatize(&mut self, v: &Value, from_under_test: bool, key: Option<&str>) -> Value {
        // Key material the side under test makes up (session keys) and volatile fields can only
        // be present on replay, not equal.
        // (A structured value under a secret-sounding name is no key material: PSRP's CLIXML
        // dictionaries name their entries `key` and `value`.)
        if let (true, Some(k)) = (from_under_test, key) {
            let loose = volatile_fields(self.proto.name()).contains(&k) || self.loose.iter().any(|l| l == k);
            let secret = redact::is_secret(k) && !v.is_object();
            if !v.is_null() && (loose || secret) {
                return serde_json::json!({ "any": true });
            }
        }
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), self.templatize(x, from_under_test, Some(k))))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| self.templatize(x, from_under_test, key))
                    .collect(),
            ),
            scalar => {
                let per_run = key.is_some_and(|k| per_run_fields(self.proto.name()).contains(&k));
                if !per_run || trivial(scalar) {
                    return scalar.clone();
                }
                let scope = key
                    .filter(|k| per_sender_fields(self.proto.name()).contains(k))
                    .map(|k| {
                        let sender = if from_under_test {
                            self.under_test
                        } else {
                            self.under_test.other()
                        };
                        (sender, k.to_owned())
                    });
                if let Some(seen) = self
                    .values
                    .iter()
                    .find(|s| s.scope == scope && same(&s.value, scalar))
                {
                    return match &seen.var {
                        Some(var) => Value::String(format!("${{{var}}}")),
                        None => scalar.clone(),
                    };
                }
                if !from_under_test {
                    self.values.push(Seen {
                        value: scalar.clone(),
                        var: None,
                        scope,
                    });
                    return scalar.clone();
                }
                let base = key.unwrap_or("value").to_owned();
                let n = self.counters.entry(base.clone()).or_default();
                *n += 1;
                let var = format!("{base}_{n}");
                self.values.push(Seen {
                    value: scalar.clone(),
                    var: Some(var.clone()),
                    scope,
                });
                serde_json::json!({ "capture": var })
            }
        }
    }

    /// `by` closed its side of the connection.
    pub fn closed(&mut self, by: Role) {
        if by == self.under_test {
            if !self.suite_closed && !self.under_test_closed {
                self.steps.push(Step {
                    expect_close: Some(ExpectClose::default()),
                    ..Step::default()
                });
            }
            self.under_test_closed = true;
        } else {
            self.suite_closed = true;
        }
    }

    /// The recorded scenario.
    pub fn scenario(
        &self,
        id: &str,
        profile: &str,
        params: BTreeMap<String, String>,
        origin: &str,
    ) -> Scenario {
        let timeout = (self.longest_wait * 2).max(Duration::from_secs(5));
        Scenario {
            id: id.to_owned(),
            title: format!(
                "Recorded exchange: the {} answers as it did when recorded ({origin})",
                self.under_test.as_str()
            ),
            spec: "recorded by peercheck record".into(),
            requirement: "The implementation answers the recorded requests as it did when they were recorded"
                .into(),
            level: Level::Must,
            protocol: self.proto.name().to_owned(),
            profiles: vec![profile.to_owned()],
            peer: match self.under_test {
                Role::Server => PeerRole::Server,
                Role::Client => PeerRole::Client,
            },
            errata: Vec::new(),
            covers: Vec::new(),
            tags: vec!["recorded".into()],
            params,
            timeout: (timeout > Duration::from_secs(5)).then(|| format!("{}s", timeout.as_secs() + 1)),
            ignore: Vec::new(),
            steps: self.steps.clone(),
        }
    }

    pub fn decode_errors(&self) -> Vec<String> {
        self.broken
            .iter()
            .map(|(r, e)| format!("{} -> {}: {e}", r.as_str(), r.other().as_str()))
            .collect()
    }
}

/// Zero, empty and nil values identify nothing: they stay literal.
fn trivial(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(_) => true,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty() || s.chars().all(|c| c == '0' || c == '-'),
        _ => false,
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 240 {
        format!("{}…", s.chars().take(240).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    fn now() -> &'static dyn ProtocolDef {
        crate::protocols::get("now").unwrap()
    }

    fn bytes_of(role: Role, msg: Value) -> Vec<u8> {
        let mut s = crate::tools::proto::session(now(), role, None, &BTreeMap::new()).unwrap();
        s.encode(&msg).unwrap()
    }

    #[test]
    fn the_server_under_test_gets_expects_with_the_clients_literal_session_id() {
        let mut r = Recorder::new(now(), None, &BTreeMap::new(), Role::Server).unwrap();
        r.push(
            Role::Client,
            &bytes_of(
                Role::Client,
                json!({ "exec.run": { "sessionId": 7, "command": "x" } }),
            ),
            Duration::ZERO,
        );
        r.push(
            Role::Server,
            &bytes_of(Role::Server, json!({ "exec.started": { "sessionId": 7 } })),
            Duration::ZERO,
        );
        let s = r.scenario("now.recorded.x", "now-1.6", BTreeMap::new(), "test");
        assert_eq!(s.steps[0].send.as_ref().unwrap()["exec.run"]["sessionId"], 7);
        assert_eq!(
            s.steps[1].expect.as_ref().unwrap()["exec.started"]["sessionId"],
            7
        );
    }

    #[test]
    fn the_client_under_test_gets_captures_and_references() {
        let mut r = Recorder::new(now(), None, &BTreeMap::new(), Role::Client).unwrap();
        r.push(
            Role::Client,
            &bytes_of(
                Role::Client,
                json!({ "exec.run": { "sessionId": 7, "command": "x" } }),
            ),
            Duration::ZERO,
        );
        r.push(
            Role::Server,
            &bytes_of(Role::Server, json!({ "exec.started": { "sessionId": 7 } })),
            Duration::ZERO,
        );
        r.closed(Role::Client);
        let s = r.scenario("now.recorded.x", "now-1.6", BTreeMap::new(), "test");
        assert_eq!(
            s.steps[0].expect.as_ref().unwrap()["exec.run"]["sessionId"],
            json!({ "capture": "sessionId_1" })
        );
        assert_eq!(
            s.steps[1].send.as_ref().unwrap()["exec.started"]["sessionId"],
            "${sessionId_1}"
        );
        assert!(s.steps[2].expect_close.is_some());
    }

    fn psrp() -> &'static dyn ProtocolDef {
        crate::protocols::get("psrp").unwrap()
    }

    fn psrp_bytes(role: Role, msg: Value) -> Vec<u8> {
        let mut s = crate::tools::proto::session(psrp(), role, None, &BTreeMap::new()).unwrap();
        s.encode(&msg).unwrap()
    }

    const PIPE: &str = "bba57d7f-6394-4559-bd14-534ad20eac7c";

    #[test]
    fn acks_the_client_under_test_waits_for_are_sent_and_those_the_session_sends_are_not() {
        let mut r = Recorder::new(psrp(), None, &BTreeMap::new(), Role::Client).unwrap();
        let t = Duration::ZERO;
        r.push(
            Role::Client,
            &psrp_bytes(Role::Client, json!({ "oop.command": { "psGuid": PIPE } })),
            t,
        );
        r.push(
            Role::Server,
            &psrp_bytes(Role::Server, json!({ "oop.command-ack": { "psGuid": PIPE } })),
            t,
        );
        r.push(
            Role::Client,
            &psrp_bytes(Role::Client, json!({ "session-capability": {} })),
            t,
        );
        let log = r.push(
            Role::Server,
            &psrp_bytes(
                Role::Server,
                json!({ "oop.data-ack": { "psGuid": "00000000-0000-0000-0000-000000000000" } }),
            ),
            t,
        );
        assert!(log[0].contains("sent by the suite's session"), "{log:?}");
        let s = r.scenario("psrp.recorded.x", "psrp-2.3", BTreeMap::new(), "test");
        let steps: Vec<String> = s
            .steps
            .iter()
            .map(|st| crate::tools::scenario_yaml::render_step(st).unwrap())
            .collect();
        assert_eq!(steps.len(), 3, "{steps:?}");
        assert_eq!(
            s.steps[0].expect.as_ref().unwrap()["oop.command"]["psGuid"],
            json!({ "capture": "psGuid_1" })
        );
        assert_eq!(
            s.steps[1].send.as_ref().unwrap()["oop.command-ack"]["psGuid"],
            "${psGuid_1}"
        );
        assert!(s.steps[2]
            .expect
            .as_ref()
            .unwrap()
            .get("session-capability")
            .is_some());
    }

    #[test]
    fn a_server_under_test_is_not_held_to_the_clients_object_ids_or_bom() {
        let mut r = Recorder::new(psrp(), None, &BTreeMap::new(), Role::Server).unwrap();
        let t = Duration::ZERO;
        r.push(
            Role::Client,
            &psrp_bytes(
                Role::Client,
                json!({ "session-capability": { "objectId": 1, "bom": false } }),
            ),
            t,
        );
        r.push(
            Role::Server,
            &psrp_bytes(
                Role::Server,
                json!({ "session-capability": { "objectId": 1, "bom": false } }),
            ),
            t,
        );
        r.push(
            Role::Client,
            &psrp_bytes(Role::Client, json!({ "init-runspacepool": { "objectId": 1 } })),
            t,
        );
        let s = r.scenario("psrp.recorded.x", "psrp-2.3", BTreeMap::new(), "test");
        let sent = &s.steps[0].send.as_ref().unwrap()["session-capability"];
        assert_eq!(sent["objectId"], 1);
        assert_eq!(sent["bom"], false);
        let got = &s.steps[1].expect.as_ref().unwrap()["session-capability"];
        assert_eq!(got["objectId"], json!({ "capture": "objectId_1" }));
        assert_eq!(got["bom"], json!({ "any": true }), "ERRATA PSRP-4");
        // The client's own counter: its value again, not the server's capture.
        assert_eq!(
            s.steps[2].send.as_ref().unwrap()["init-runspacepool"]["objectId"],
            1
        );
    }

    /// Move bytes between the real client, the recorder and the real server until all is quiet
    /// (`from_client`, `from_server`: what each real peer has just written).
    fn pump(
        client: &mut dyn WireSession,
        r: &mut Recorder,
        server: &mut dyn WireSession,
        mut from_client: Vec<u8>,
        mut from_server: Vec<u8>,
    ) {
        for _ in 0..50 {
            while let Some(b) = client.poll_transmit() {
                from_client.extend(b);
            }
            while let Some(b) = server.poll_transmit() {
                from_server.extend(b);
            }
            if from_client.is_empty() && from_server.is_empty() {
                return;
            }
            for (role, bytes) in [
                (Role::Client, std::mem::take(&mut from_client)),
                (Role::Server, std::mem::take(&mut from_server)),
            ] {
                if !bytes.is_empty() {
                    r.push(role, &bytes, Duration::ZERO);
                }
                let (to_client, to_server) = r.take_output();
                client.push_received(&to_client);
                server.push_received(&to_server);
            }
        }
        panic!("the exchange never settled");
    }

    fn names(s: &mut dyn WireSession) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(m) = s.next_received().unwrap() {
            out.push(m.name);
        }
        out
    }

    #[test]
    fn intercepting_terminates_tls_on_both_sides_and_records_the_frames_inside() {
        let inedo = crate::protocols::get("inedo").unwrap();
        let params = BTreeMap::from([("encryption".to_owned(), "ssl".to_owned())]);
        let mut client = crate::tools::proto::session(inedo, Role::Client, None, &params).unwrap();
        let mut server = crate::tools::proto::session(inedo, Role::Server, None, &params).unwrap();
        let mut r = Recorder::new(inedo, None, &params, Role::Server).unwrap();
        r.intercept = true;
        let hs = json!({ "handshake": { "protocolId": "6cebd24e-4af7-4a13-b9af-81d3dfc644be", "protocolVersion": 1000, "sessionId": 5 } });
        let b = client.encode(&hs).unwrap();
        pump(client.as_mut(), &mut r, server.as_mut(), b, Vec::new());
        assert_eq!(names(server.as_mut()), ["handshake"]);
        let reply = json!({ "handshake-reply": { "encryptionMode": "ssl", "sessionId": 5, "serverVersion": [1, 0, 0, 0] } });
        let b = server.encode(&reply).unwrap();
        // The reply in clear, then a TLS handshake on each side of the recorder.
        pump(client.as_mut(), &mut r, server.as_mut(), Vec::new(), b);
        assert_eq!(names(client.as_mut()), ["handshake-reply"]);
        let b = client.encode(&json!({ "meta.get-agent-root-path": {} })).unwrap();
        pump(client.as_mut(), &mut r, server.as_mut(), b, Vec::new());
        assert_eq!(names(server.as_mut()), ["meta.get-agent-root-path"]);
        let b = server
            .encode(&json!({ "meta.get-agent-root-path-reply": { "path": "C:\\x" } }))
            .unwrap();
        pump(client.as_mut(), &mut r, server.as_mut(), Vec::new(), b);
        assert_eq!(names(client.as_mut()), ["meta.get-agent-root-path-reply"]);
        assert!(r.decode_errors().is_empty(), "{:?}", r.decode_errors());
        let s = r.scenario("inedo.recorded.x", "inedo-v1", params.clone(), "test");
        assert_eq!(
            s.steps[3].expect.as_ref().unwrap()["meta.get-agent-root-path-reply"]["path"],
            "C:\\x"
        );
        assert_eq!(s.steps.len(), 4);
    }

    #[test]
    fn dictionary_keys_are_not_key_material() {
        let mut r = Recorder::new(now(), None, &BTreeMap::new(), Role::Server).unwrap();
        let v = r.templatize(
            &json!({ "DCT": [{ "key": { "S": "PSVersionTable" }, "value": { "I32": 1 } }], "sessionKey": "00ff" }),
            true,
            None,
        );
        assert_eq!(v["DCT"][0]["key"], json!({ "S": "PSVersionTable" }));
        assert_eq!(v["sessionKey"], json!({ "any": true }));
    }

    #[test]
    fn loose_and_secret_fields_of_the_side_under_test_match_anything() {
        let mut r = Recorder::new(now(), None, &BTreeMap::new(), Role::Server).unwrap();
        r.loose.push("errorMessage".into());
        let msg = json!({ "exec.result": { "sessionId": 7, "exitCode": 0, "status": { "code": 1, "errorMessage": "at 12:00" } } });
        r.push(Role::Server, &bytes_of(Role::Server, msg), Duration::ZERO);
        let s = r.scenario("now.recorded.x", "now-1.6", BTreeMap::new(), "test");
        let fields = &s.steps[0].expect.as_ref().unwrap()["exec.result"];
        assert_eq!(fields["status"]["errorMessage"], json!({ "any": true }));
        assert_eq!(fields["exitCode"], 0);
    }
}
