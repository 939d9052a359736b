//! The PSRP client peer: opens a pool, runs one scripted pipeline, answers host calls, closes
//! (MS-PSRP §3.1). Ends with `Output::Finished`.

use super::crypto;
use super::script::{state_number, ClientScript, PoolRequest};
use super::wire::{guid_of, int_of, Transport};
use crate::peer::{Output, Peer};
use peercheck_psrp::messages::host::{host_method_name, host_method_returns};
use peercheck_psrp::outofproc::Control;
use peercheck_psrp::session::Framing;
use peercheck_wire::{Decoded, Guid};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Value};
use std::time::Duration;

/// Deviations of the client peer (misbehaviour modes).
#[derive(Debug, Clone, Default)]
pub struct ClientBugs {
    pub no_capability: bool,
    pub ignore_host_calls: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Opening,
    PoolRequests,
    AwaitKey,
    AwaitCommandAck,
    Running,
    Closing,
    Done,
}

#[derive(Debug)]
pub struct PsrpClient {
    t: Transport,
    script: ClientScript,
    bugs: ClientBugs,
    phase: Phase,
    pid: Guid,
    rng: ChaCha20Rng,
    rsa: Option<rsa::RsaPrivateKey>,
    session_key: Option<[u8; 32]>,
    server_version: String,
    /// Host responses held until the session key arrives.
    held: Vec<HeldResponse>,
    outputs: usize,
    problems: Vec<String>,
    pipeline_state: Option<i64>,
    now: Duration,
    deadline: Option<Duration>,
    /// OutOfProc flow control, as PowerShell's client does it: one `<Data>` line at a time, the next
    /// after the server's `<DataAck>`.
    queue: std::collections::VecDeque<Output>,
    /// Deadline of the DataAck being waited for.
    awaiting_ack: Option<Duration>,
    pool_queue: std::collections::VecDeque<PoolRequest>,
    pending: Option<Pending>,
    next_ci: i64,
    /// Pipeline id of GET_COMMAND_METADATA requests.
    meta_pid: Guid,
    pool_results: Vec<String>,
}

/// A host response, held until the session key arrives when it carries a SecureString.
#[derive(Debug)]
struct HeldResponse {
    name: &'static str,
    pid: Guid,
    ci: Value,
    method_id: i32,
    value: Value,
}

/// The pool request waiting for its answer.
#[derive(Debug, Clone)]
enum Pending {
    /// RUNSPACE_AVAILABILITY with this call id; `boolean` for set min/max and reset.
    Availability {
        ci: i64,
        boolean: bool,
        what: &'static str,
    },
    /// GET_COMMAND_METADATA on its own pipeline id: outputs, then PIPELINE_STATE.
    Metadata { outputs: usize },
}

/// How long the client waits for a CloseAck before giving up.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the client waits for a DataAck before giving up.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

impl PsrpClient {
    pub fn new(t: Transport, script: ClientScript, bugs: ClientBugs, seed: u64) -> Self {
        let mut pid = Guid::from_u128(0x5053_5250_0000_4000_8000_0000_0000_0001 ^ u128::from(seed));
        pid.0[7] = (pid.0[7] & 0x0F) | 0x40;
        let script_pool_requests = script.pool_requests.iter().cloned().collect();
        Self {
            t,
            script,
            bugs,
            phase: Phase::Opening,
            pid,
            rng: ChaCha20Rng::seed_from_u64(seed),
            rsa: None,
            session_key: None,
            server_version: String::new(),
            held: Vec::new(),
            outputs: 0,
            problems: Vec::new(),
            pipeline_state: None,
            now: Duration::ZERO,
            deadline: None,
            queue: std::collections::VecDeque::new(),
            awaiting_ack: None,
            pool_queue: script_pool_requests,
            pending: None,
            next_ci: 1,
            meta_pid: {
                let mut m = pid;
                m.0[15] ^= 0x55;
                m
            },
            pool_results: Vec::new(),
        }
    }

    fn send(&mut self, out: &mut Vec<Output>, name: &str, pid: Guid, fields: Value) {
        let rpid = self.t.rpid();
        match self.t.send(name, rpid, pid, fields) {
            Ok(o) => self.emit(out, o),
            Err(e) => self.problems.push(format!("cannot encode {name}: {e}")),
        }
    }

    /// Queue what this side writes; with OutOfProc framing each `<Data>` line waits for the DataAck of
    /// the one before.
    fn emit(&mut self, out: &mut Vec<Output>, o: Output) {
        match o {
            Output::Send { label, bytes }
                if self.t.framing == Framing::OutOfProc && self.script.wait_data_ack =>
            {
                for line in bytes.split_inclusive(|b| *b == b'\n') {
                    self.queue.push_back(Output::Send {
                        label: label.clone(),
                        bytes: line.to_vec(),
                    });
                }
                self.pump(out);
            }
            other => out.push(other),
        }
    }

    fn pump(&mut self, out: &mut Vec<Output>) {
        while self.awaiting_ack.is_none() {
            let Some(o) = self.queue.pop_front() else { return };
            if let Output::Send { bytes, .. } = &o {
                if bytes.starts_with(b"<Data") {
                    self.awaiting_ack = Some(self.now + ACK_TIMEOUT);
                }
            }
            out.push(o);
        }
    }

    fn both_2_4(&self) -> bool {
        let v24 = |v: &str| {
            let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
            (it.next().unwrap_or(0), it.next().unwrap_or(0)) >= (2, 4)
        };
        v24(&self.server_version) && v24(self.t.protocol_version())
    }

    fn start_exchange(&mut self, out: &mut Vec<Output>) -> bool {
        if self.both_2_4() || self.session_key.is_some() {
            return false; // ERRATA PSRP-5: no exchange with 2.4 on both sides.
        }
        if self.rsa.is_none() {
            match crypto::generate(&mut self.rng, self.script.rsa_bits) {
                Ok(k) => self.rsa = Some(k),
                Err(e) => {
                    self.problems.push(format!("RSA key generation failed: {e}"));
                    return false;
                }
            }
        }
        let blob = self.rsa.as_ref().map(crypto::public_key_blob).unwrap_or_default();
        self.send(out, "public-key", Guid::NIL, json!({ "publicKey": blob }));
        true
    }

    /// The pool is open (and keys exchanged if asked): pool requests first, then the pipeline.
    fn next_step(&mut self, out: &mut Vec<Output>) {
        let Some(req) = self.pool_queue.pop_front() else {
            self.pending = None;
            return self.start_pipeline(out);
        };
        self.phase = Phase::PoolRequests;
        let ci = self.next_ci;
        self.next_ci += 1;
        let (name, fields, boolean, what) = match req {
            PoolRequest::SetMaxRunspaces(n) => (
                "set-max-runspaces",
                json!({ "maxRunspaces": n, "ci": ci }),
                true,
                "SET_MAX_RUNSPACES",
            ),
            PoolRequest::SetMinRunspaces(n) => (
                "set-min-runspaces",
                json!({ "minRunspaces": n, "ci": ci }),
                true,
                "SET_MIN_RUNSPACES",
            ),
            PoolRequest::GetAvailableRunspaces => (
                "get-available-runspaces",
                json!({ "ci": ci }),
                false,
                "GET_AVAILABLE_RUNSPACES",
            ),
            PoolRequest::ResetRunspaceState => (
                "reset-runspace-state",
                json!({ "ci": ci }),
                true,
                "RESET_RUNSPACE_STATE",
            ),
            PoolRequest::GetCommandMetadata(names) => {
                self.pending = Some(Pending::Metadata { outputs: 0 });
                let meta = self.meta_pid;
                if self.t.framing == Framing::OutOfProc {
                    // Like a pipeline, the request runs under its own <Command>.
                    if let Some(o) = self.t.control(Control::Command, meta) {
                        self.emit(out, o);
                    }
                    self.pool_queue.push_front(PoolRequest::GetCommandMetadata(names));
                    return;
                }
                self.send(out, "get-command-metadata", meta, json!({ "name": names }));
                return;
            }
        };
        self.pending = Some(Pending::Availability { ci, boolean, what });
        self.send(out, name, Guid::NIL, fields);
    }

    fn start_pipeline(&mut self, out: &mut Vec<Output>) {
        if self.t.framing == Framing::OutOfProc {
            // PowerShell announces a pipeline with <Command> and waits for <CommandAck>.
            if let Some(o) = self.t.control(Control::Command, self.pid) {
                self.emit(out, o);
            }
            self.phase = Phase::AwaitCommandAck;
            return;
        }
        self.create_pipeline(out);
    }

    fn create_pipeline(&mut self, out: &mut Vec<Output>) {
        let no_input = self.script.input.is_empty();
        let pid = self.pid;
        let commands = self.script.commands.clone();
        self.send(
            out,
            "create-pipeline",
            pid,
            json!({ "noInput": no_input, "commands": commands }),
        );
        for v in self.script.input.clone() {
            self.send(out, "pipeline-input", pid, json!({ "value": v }));
        }
        if !no_input {
            self.send(out, "end-of-pipeline-input", pid, json!({}));
        }
        self.phase = Phase::Running;
    }

    fn answer_host_call(&mut self, d: &Decoded, out: &mut Vec<Output>) {
        let f = &d.fields;
        let mid = int_of(f, "methodId")
            .and_then(|v| i32::try_from(v).ok())
            .unwrap_or(0);
        if !host_method_returns(mid) || self.bugs.ignore_host_calls {
            return;
        }
        let name = host_method_name(mid).unwrap_or("");
        let configured = self.script.host_responses.get(name).cloned();
        let secure = name == "ReadLineAsSecureString";
        let value = match (configured, secure) {
            (Some(Value::String(s)), true) => json!({ "SS": s }),
            (None, true) => json!({ "SS": "" }),
            (Some(Value::String(s)), false) => json!({ "S": s }),
            (Some(v), _) => v,
            (None, false) => match name {
                "GetName" => json!({ "S": "peercheck" }),
                "ReadLine" => json!({ "S": "" }),
                _ => json!("Nil"),
            },
        };
        let response_name = if d.name == "pipeline-host-call" {
            "pipeline-host-response"
        } else {
            "runspacepool-host-response"
        };
        let resp = HeldResponse {
            name: response_name,
            pid: guid_of(f, "pid"),
            ci: f.get("ci").cloned().unwrap_or(json!(0)),
            method_id: mid,
            value,
        };
        if secure && !self.both_2_4() && self.session_key.is_none() {
            self.held.push(resp);
            if self.phase != Phase::AwaitKey && self.start_exchange(out) {
                self.phase = Phase::AwaitKey;
            }
            return;
        }
        self.send_response(resp, out);
    }

    fn send_response(&mut self, resp: HeldResponse, out: &mut Vec<Output>) {
        let key = if self.both_2_4() { None } else { self.session_key };
        let value = match resp.value.get("SS").and_then(Value::as_str) {
            Some(ss) => json!({ "SS": crypto::seal(key.as_ref(), ss) }),
            None => resp.value,
        };
        let fields = json!({ "ci": resp.ci, "methodId": resp.method_id, "returnValue": value });
        self.send(out, resp.name, resp.pid, fields);
    }

    fn finish(&mut self, out: &mut Vec<Output>) {
        let want = state_number(&self.script.expect_state);
        match (want, self.pipeline_state) {
            (Some(w), Some(s)) if i64::from(w) != s => {
                self.problems.push(format!("pipeline state {s}, expected {w}"))
            }
            _ => {}
        }
        if let Some(n) = self.script.expect_outputs {
            if n != self.outputs {
                self.problems
                    .push(format!("{} outputs, expected {n}", self.outputs));
            }
        }
        if self.t.framing == Framing::OutOfProc {
            if let Some(o) = self.t.control(Control::Close, Guid::NIL) {
                self.emit(out, o);
            }
            self.phase = Phase::Closing;
            self.deadline = Some(self.now + CLOSE_TIMEOUT);
        } else {
            self.done(out);
        }
    }

    fn done(&mut self, out: &mut Vec<Output>) {
        self.phase = Phase::Done;
        let ok = self.problems.is_empty();
        let summary = if ok {
            let pool = if self.pool_results.is_empty() {
                String::new()
            } else {
                format!("; pool requests: {}", self.pool_results.join(", "))
            };
            format!(
                "pipeline finished in state {:?} with {} output(s){pool}",
                self.pipeline_state, self.outputs
            )
        } else {
            self.problems.join("; ")
        };
        out.push(Output::Finished { ok, summary });
        out.push(Output::Close {
            reason: "client done".into(),
        });
    }

    fn fail(&mut self, out: &mut Vec<Output>, why: String) {
        self.problems.push(why);
        self.done(out);
    }

    fn handle(&mut self, d: &Decoded, out: &mut Vec<Output>) {
        let f = &d.fields;
        match d.name.as_str() {
            "session-capability" => {
                self.server_version = f
                    .get("protocolVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                // §3.1.5.4.1.2: "In all other cases, the client MUST change the RunspacePool state
                // to Broken" (this client speaks 2.x only).
                let v = &self.server_version;
                let minor_ok = v
                    .strip_prefix("2.")
                    .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()));
                if !minor_ok {
                    return self.fail(out, format!("unsupported server protocol version `{v}`"));
                }
            }
            "application-private-data" if self.script.connect && self.phase == Phase::Opening => {
                self.opened(out);
            }
            "runspacepool-init-data" => {}
            "runspacepool-state" => match int_of(f, "runspaceState") {
                Some(2) if self.phase == Phase::Opening => self.opened(out),
                Some(2) => {}
                Some(s) => self.fail(out, format!("the pool went to state {s}")),
                None => {}
            },
            "encrypted-session-key" => {
                let blob = f.get("encryptedSessionKey").and_then(Value::as_str).unwrap_or("");
                match self.rsa.as_ref().map(|k| crypto::decrypt_session_key(k, blob)) {
                    Some(Ok(k)) => self.session_key = Some(k),
                    Some(Err(e)) => return self.fail(out, format!("cannot decrypt the session key: {e}")),
                    None => return self.fail(out, "ENCRYPTED_SESSION_KEY without a PUBLIC_KEY".into()),
                }
                for resp in std::mem::take(&mut self.held) {
                    self.send_response(resp, out);
                }
                if self.phase == Phase::AwaitKey {
                    if self.pipeline_started() {
                        self.phase = Phase::Running;
                    } else {
                        self.next_step(out);
                    }
                }
            }
            "public-key-request" => {
                self.start_exchange(out);
            }
            "runspace-availability" => {
                let ci = int_of(f, "ci");
                let Some(Pending::Availability {
                    ci: want,
                    boolean,
                    what,
                }) = self.pending.clone()
                else {
                    return self.fail(out, "RUNSPACE_AVAILABILITY that answers no request".into());
                };
                if ci != Some(want) {
                    return self.fail(out, format!("RUNSPACE_AVAILABILITY ci {ci:?}, expected {want}"));
                }
                let r = f
                    .get("setMinMaxRunspacesResponse")
                    .cloned()
                    .unwrap_or(Value::Null);
                if r.is_boolean() != boolean {
                    self.problems.push(format!("{what} answered with {r}"));
                }
                self.pool_results.push(format!("{what}: {r}"));
                self.next_step(out);
            }
            "oop.command-ack"
                if matches!(self.pending, Some(Pending::Metadata { .. }))
                    && guid_of(f, "psGuid") == self.meta_pid =>
            {
                if let Some(PoolRequest::GetCommandMetadata(names)) = self.pool_queue.pop_front() {
                    let meta = self.meta_pid;
                    self.send(out, "get-command-metadata", meta, json!({ "name": names }));
                }
            }
            "pipeline-output" | "pipeline-state" if guid_of(f, "pid") == self.meta_pid => {
                if let Some(Pending::Metadata { outputs }) = &mut self.pending {
                    if d.name == "pipeline-output" {
                        *outputs += 1;
                        return;
                    }
                    let n = *outputs;
                    self.pool_results
                        .push(format!("GET_COMMAND_METADATA: {n} object(s)"));
                    if int_of(f, "pipelineState") != Some(4) {
                        self.problems.push(format!(
                            "GET_COMMAND_METADATA ended in state {:?}",
                            int_of(f, "pipelineState")
                        ));
                    }
                    self.next_step(out);
                    return;
                }
                return self.fail(out, format!("{} for a metadata request never made", d.name));
            }
            "pipeline-output" => self.outputs += 1,
            // §3.1.5.4.21: "The PowerShell client SHOULD ignore PIPELINE_STATE messages targeted to
            // RunspacePools."
            "pipeline-state" if guid_of(f, "pid").is_nil() => {
                out.push(Output::Log(
                    "psrp client: PIPELINE_STATE for the pool ignored".into(),
                ));
                return;
            }
            "pipeline-state" => {
                let s = int_of(f, "pipelineState");
                if guid_of(f, "pid") != self.pid {
                    self.problems.push(format!(
                        "PIPELINE_STATE for unknown pipeline {}",
                        guid_of(f, "pid")
                    ));
                }
                self.pipeline_state = s;
                if matches!(s, Some(3..=5)) {
                    self.finish(out);
                }
            }
            "pipeline-host-call" | "runspacepool-host-call" => self.answer_host_call(d, out),
            "oop.command-ack" if self.phase == Phase::AwaitCommandAck => self.create_pipeline(out),
            "oop.close-ack" if self.phase == Phase::Closing => self.done(out),
            "oop.data-ack" => {
                self.awaiting_ack = None;
                self.pump(out);
            }
            "oop.command" | "oop.signal" | "oop.close" => {
                // PowerShell's client: IPCUnknownElementReceived.
                return self.fail(out, format!("{} from the server", d.name));
            }
            "unknown" => {
                let t = int_of(f, "messageType").unwrap_or(0);
                return self.fail(out, format!("unknown message type 0x{t:08X} from the server"));
            }
            _ => {}
        }
        if d.name.starts_with("pipeline-") || d.name.ends_with("-record") {
            let pid = guid_of(f, "pid");
            if pid != self.pid && !self.problems.iter().any(|p| p.contains("unknown pipeline")) {
                self.problems
                    .push(format!("{} for unknown pipeline {pid}", d.name));
            }
        }
    }

    fn pipeline_started(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::AwaitCommandAck) || !self.held.is_empty()
    }

    fn opened(&mut self, out: &mut Vec<Output>) {
        if self.script.exchange_key && self.start_exchange(out) {
            self.phase = Phase::AwaitKey;
            return;
        }
        self.next_step(out);
    }
}

impl Peer for PsrpClient {
    fn start(&mut self, now: Duration) -> Vec<Output> {
        self.now = now;
        let mut out = Vec::new();
        if !self.bugs.no_capability {
            self.send(&mut out, "session-capability", Guid::NIL, json!({}));
        }
        if self.script.connect {
            self.send(&mut out, "connect-runspacepool", Guid::NIL, json!({}));
        } else {
            let max = self.script.max_runspaces;
            self.send(
                &mut out,
                "init-runspacepool",
                Guid::NIL,
                json!({ "minRunspaces": 1, "maxRunspaces": max }),
            );
        }
        out
    }

    fn input(&mut self, now: Duration, bytes: &[u8]) -> Vec<Output> {
        self.now = now;
        let mut out = Vec::new();
        if self.phase == Phase::Done {
            return out;
        }
        let (msgs, _acks, err) = self.t.receive(bytes);
        for d in &msgs {
            out.push(Output::Log(format!("psrp client: received {}", d.name)));
            self.handle(d, &mut out);
            if self.phase == Phase::Done {
                return out;
            }
        }
        if let Some(e) = err {
            self.fail(&mut out, format!("malformed server data: {e}"));
        }
        out
    }

    fn timer(&mut self, now: Duration) -> Vec<Output> {
        self.now = now;
        let mut out = Vec::new();
        if self.phase == Phase::Done {
            return out;
        }
        if self.awaiting_ack.is_some_and(|d| now >= d) {
            self.awaiting_ack = None;
            self.fail(&mut out, "no DataAck within 5 s".into());
        } else if self.phase == Phase::Closing && self.deadline.is_some_and(|d| now >= d) {
            self.deadline = None;
            self.fail(&mut out, "no CloseAck within 5 s".into());
        }
        out
    }

    fn next_deadline(&self) -> Option<Duration> {
        if self.phase == Phase::Done {
            return None;
        }
        let close = if self.phase == Phase::Closing {
            self.deadline
        } else {
            None
        };
        match (self.awaiting_ack, close) {
            (Some(a), Some(c)) => Some(a.min(c)),
            (a, c) => a.or(c),
        }
    }

    fn peer_closed(&mut self, _now: Duration) -> Vec<Output> {
        let mut out = Vec::new();
        match self.phase {
            Phase::Done => {}
            Phase::Closing => self.fail(&mut out, "the server closed without a CloseAck".into()),
            _ => self.fail(&mut out, "the server closed the connection early".into()),
        }
        out
    }
}
