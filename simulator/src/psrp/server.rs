//! The PSRP server peer: a RunspacePool with scripted pipelines (MS-PSRP §3.2).
//!
//! Pool states follow §3.2.5.2 (sequencing rules) and §3.1.5.3.3 ("A SESSION_CAPABILITY message
//! MUST be the first message that is sent to a server from the client"): SESSION_CAPABILITY, then
//! INIT_RUNSPACEPOOL or CONNECT_RUNSPACEPOOL, then pool and pipeline messages once Opened. A message in the wrong state breaks the
//! pool as PowerShell does: RUNSPACEPOOL_STATE Broken, then the connection closes.

use super::crypto;
use super::script::{state_number, HostCallStep, ServerScript, Step};
use super::wire::{guid_of, int_of, Transport};
use crate::peer::{Output, Peer};
use peercheck_psrp::messages::encode_body;
use peercheck_psrp::messages::host::{host_method_name, host_method_returns, HOST_METHODS};
use peercheck_psrp::outofproc::Control;
use peercheck_psrp::session::Framing;
use peercheck_psrp::{ClixmlValue, MessageType};
use peercheck_wire::{Decoded, Guid};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Deviations of the server peer (misbehaviour modes).
#[derive(Debug, Clone, Default)]
pub struct ServerBugs {
    pub no_runspacepool_opened: bool,
    pub pipeline_state_missing: bool,
    pub wrong_pid: bool,
    pub reject_bom: bool,
    pub no_close_ack: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PoolState {
    AwaitCapability,
    AwaitInit,
    Opened,
    Closed,
}

#[derive(Debug, Default)]
struct Pipeline {
    step: usize,
    waiting: Option<(i64, bool)>,
    no_input: bool,
    input_done: bool,
    inputs: Vec<Value>,
    finished: bool,
    /// Waiting for the session key before a SecureString output.
    waiting_key: bool,
}

#[derive(Debug)]
pub struct PsrpServer {
    t: Transport,
    script: ServerScript,
    bugs: ServerBugs,
    state: PoolState,
    rpid: Guid,
    both_2_4: bool,
    /// Both sides speak 2.3 or later: INFORMATION_RECORD exists (current §2.2.1 table, protocol 2.3).
    both_2_3: bool,
    min: i32,
    max: i32,
    rng: ChaCha20Rng,
    session_key: Option<[u8; 32]>,
    pipelines: BTreeMap<Guid, Pipeline>,
    next_ci: i64,
    key_requested: bool,
    /// OutOfProc: pipelines announced with `<Command>`.
    announced: std::collections::BTreeSet<Guid>,
    /// Per script step: the value of an `output` step, parsed once, so every pipeline encodes it
    /// from a reference (`None` for other steps and for values the structured path must judge).
    outputs: Vec<Option<Arc<ClixmlValue>>>,
}

fn error_record(message: &str, id: &str) -> Value {
    encode_body(
        MessageType::ERROR_RECORD,
        json!({ "message": message, "fullyQualifiedErrorId": id }),
    )
    .ok()
    .flatten()
    .and_then(|v| serde_json::to_value(v).ok())
    .unwrap_or(Value::Null)
}

fn version_at_least(v: &str, major: u32, minor: u32) -> bool {
    let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

impl PsrpServer {
    pub fn new(t: Transport, script: ServerScript, bugs: ServerBugs, seed: u64) -> Self {
        let outputs = script
            .steps
            .iter()
            .map(|s| match s {
                Step::Output(v) => serde_json::from_value::<ClixmlValue>(v.clone())
                    .ok()
                    .map(Arc::new),
                _ => None,
            })
            .collect();
        Self {
            outputs,
            t,
            script,
            bugs,
            state: PoolState::AwaitCapability,
            rpid: Guid::NIL,
            both_2_4: false,
            both_2_3: false,
            min: 1,
            max: 1,
            rng: ChaCha20Rng::seed_from_u64(seed),
            session_key: None,
            pipelines: BTreeMap::new(),
            next_ci: 1,
            key_requested: false,
            announced: std::collections::BTreeSet::new(),
        }
    }

    /// The PID this server writes: the pipeline's own, or a wrong one under the `wrong_pid` bug.
    fn pid_on_wire(&self, pid: Guid) -> Guid {
        if self.bugs.wrong_pid && !pid.is_nil() {
            let mut b = pid.0;
            b[15] ^= 0xFF;
            Guid(b)
        } else {
            pid
        }
    }

    fn send(&mut self, out: &mut Vec<Output>, name: &str, pid: Guid, fields: Value) {
        let pid = self.pid_on_wire(pid);
        // §3.2.5.4.4 / §3.2.5.4.5: "The RPID field [...] of this message MUST be zeroed out."
        let rpid = if matches!(name, "encrypted-session-key" | "public-key-request") {
            Guid::NIL
        } else {
            self.rpid
        };
        match self.t.send(name, rpid, pid, fields) {
            Ok(o) => out.push(o),
            Err(e) => out.push(Output::Log(format!("psrp server: cannot encode {name}: {e}"))),
        }
    }

    /// [`PsrpServer::send`] of a PIPELINE_OUTPUT from a parsed value (no copy of the value).
    fn send_output(&mut self, out: &mut Vec<Output>, pid: Guid, value: &ClixmlValue) {
        let pid = self.pid_on_wire(pid);
        match self.t.send_value("pipeline-output", self.rpid, pid, value) {
            Ok(o) => out.push(o),
            Err(e) => out.push(Output::Log(format!(
                "psrp server: cannot encode pipeline-output: {e}"
            ))),
        }
    }

    /// §3.2.5.2: a message the pool cannot take in its state breaks the pool (RUNSPACEPOOL_STATE
    /// Broken, §3.2.5.2 rule 7: "the PowerShell server MUST send a RUNSPACEPOOL_STATE message").
    fn broken(&mut self, out: &mut Vec<Output>, why: &str) {
        out.push(Output::Log(format!("psrp server: {why}")));
        let err = error_record(why, "PSRemotingProtocolViolation");
        self.send(
            out,
            "runspacepool-state",
            Guid::NIL,
            json!({ "runspaceState": 5, "exceptionAsErrorRecord": err }),
        );
        out.push(Output::Close {
            reason: why.to_owned(),
        });
        self.state = PoolState::Closed;
    }

    fn handle(&mut self, d: &Decoded, out: &mut Vec<Output>) {
        let f = &d.fields;
        if self.bugs.reject_bom && f.get("bom") == Some(&Value::Bool(true)) {
            return self.broken(
                out,
                "Data starts with a byte order mark (misbehaviour psrp-reject-bom)",
            );
        }
        let pid = guid_of(f, "pid");
        if self.t.framing == Framing::OutOfProc
            && !pid.is_nil()
            && !d.name.starts_with("oop.")
            && !self.announced.contains(&pid)
        {
            // PowerShell's OutOfProc server acks Data for a PSGuid it has no <Command> for and drops it.
            out.push(Output::Log(format!(
                "psrp server: {} for {pid} without <Command>: dropped",
                d.name
            )));
            return;
        }
        match (d.name.as_str(), self.state) {
            (_, PoolState::Closed) => out.push(Output::Log(format!(
                "psrp server: {} after close, ignored",
                d.name
            ))),
            ("session-capability", PoolState::AwaitCapability) => {
                let v = f
                    .get("protocolVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                if !version_at_least(&v, 2, 0) || !v.starts_with("2.") {
                    return self.broken(out, &format!("unsupported protocol version `{v}`"));
                }
                self.both_2_4 =
                    version_at_least(&v, 2, 4) && version_at_least(self.t.protocol_version(), 2, 4);
                self.both_2_3 =
                    version_at_least(&v, 2, 3) && version_at_least(self.t.protocol_version(), 2, 3);
                // ERRATA PSRP-8: PowerShell's capability carries an all-zero RPID.
                self.send(out, "session-capability", Guid::NIL, json!({}));
                self.state = PoolState::AwaitInit;
            }
            ("init-runspacepool", PoolState::AwaitInit) => {
                self.rpid = guid_of(f, "rpid");
                self.min = int_of(f, "minRunspaces")
                    .and_then(|v| i32::try_from(v).ok())
                    .unwrap_or(1);
                self.max = int_of(f, "maxRunspaces")
                    .and_then(|v| i32::try_from(v).ok())
                    .unwrap_or(1);
                self.send_private_data(out);
                if !self.bugs.no_runspacepool_opened {
                    self.send(
                        out,
                        "runspacepool-state",
                        Guid::NIL,
                        json!({ "runspaceState": 2 }),
                    );
                }
                self.state = PoolState::Opened;
            }
            ("connect-runspacepool", PoolState::AwaitInit) => {
                self.rpid = guid_of(f, "rpid");
                if let Some(v) = int_of(f, "minRunspaces").and_then(|v| i32::try_from(v).ok()) {
                    self.min = v;
                }
                if let Some(v) = int_of(f, "maxRunspaces").and_then(|v| i32::try_from(v).ok()) {
                    self.max = v;
                }
                let (min, max) = (self.min, self.max);
                self.send(
                    out,
                    "runspacepool-init-data",
                    Guid::NIL,
                    json!({ "minRunspaces": min, "maxRunspaces": max }),
                );
                self.send_private_data(out);
                self.state = PoolState::Opened;
            }
            ("public-key", PoolState::Opened | PoolState::AwaitInit) => {
                let pk = f
                    .get("publicKey")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let mut key = [0u8; 32];
                self.rng.fill_bytes(&mut key);
                match crypto::encrypt_session_key(&mut self.rng, &pk, &key) {
                    Ok(blob) => {
                        self.session_key = Some(key);
                        self.key_requested = false;
                        self.send(
                            out,
                            "encrypted-session-key",
                            Guid::NIL,
                            json!({ "encryptedSessionKey": blob }),
                        );
                    }
                    Err(e) => self.broken(out, &format!("bad PUBLIC_KEY: {e}")),
                }
                let waiting: Vec<Guid> = self
                    .pipelines
                    .iter()
                    .filter(|(_, p)| p.waiting_key)
                    .map(|(g, _)| *g)
                    .collect();
                for g in waiting {
                    if let Some(p) = self.pipelines.get_mut(&g) {
                        p.waiting_key = false;
                    }
                    self.advance(g, out);
                }
            }
            ("set-max-runspaces", PoolState::Opened) => {
                let v = int_of(f, "maxRunspaces").unwrap_or(0);
                let ok = v >= i64::from(self.min) && v <= i64::from(self.script.max_runspaces_cap);
                if ok {
                    self.max = i32::try_from(v).unwrap_or(self.max);
                }
                let ci = int_of(f, "ci").unwrap_or(0);
                self.send(
                    out,
                    "runspace-availability",
                    Guid::NIL,
                    json!({ "setMinMaxRunspacesResponse": ok, "ci": ci }),
                );
            }
            ("set-min-runspaces", PoolState::Opened) => {
                let v = int_of(f, "minRunspaces").unwrap_or(0);
                let ok = v >= 1 && v <= i64::from(self.max);
                if ok {
                    self.min = i32::try_from(v).unwrap_or(self.min);
                }
                let ci = int_of(f, "ci").unwrap_or(0);
                self.send(
                    out,
                    "runspace-availability",
                    Guid::NIL,
                    json!({ "setMinMaxRunspacesResponse": ok, "ci": ci }),
                );
            }
            ("get-available-runspaces", PoolState::Opened) => {
                let busy = self.pipelines.values().filter(|p| !p.finished).count();
                let free = i64::from(self.max) - i64::try_from(busy).unwrap_or(0);
                let ci = int_of(f, "ci").unwrap_or(0);
                self.send(
                    out,
                    "runspace-availability",
                    Guid::NIL,
                    json!({ "setMinMaxRunspacesResponse": free.max(0), "ci": ci }),
                );
            }
            ("reset-runspace-state", PoolState::Opened) => {
                let ci = int_of(f, "ci").unwrap_or(0);
                self.send(
                    out,
                    "runspace-availability",
                    Guid::NIL,
                    json!({ "setMinMaxRunspacesResponse": true, "ci": ci }),
                );
            }
            ("get-command-metadata", PoolState::Opened) => self.command_metadata(f, pid, out),
            ("create-pipeline", PoolState::Opened) => {
                if self.pipelines.get(&pid).is_some_and(|p| !p.finished) {
                    return self.broken(out, &format!("CREATE_PIPELINE for running pipeline {pid}"));
                }
                let no_input = f.get("noInput").and_then(Value::as_bool).unwrap_or(true);
                self.pipelines.insert(
                    pid,
                    Pipeline {
                        no_input,
                        input_done: no_input,
                        ..Default::default()
                    },
                );
                self.advance(pid, out);
            }
            ("pipeline-input", PoolState::Opened) => match self.pipelines.get_mut(&pid) {
                Some(p) if !p.no_input && !p.input_done => {
                    p.inputs.push(f.get("value").cloned().unwrap_or(Value::Null))
                }
                _ => out.push(Output::Log(format!(
                    "psrp server: PIPELINE_INPUT for {pid}, which takes no input; ignored"
                ))),
            },
            ("end-of-pipeline-input", PoolState::Opened) => {
                if let Some(p) = self.pipelines.get_mut(&pid) {
                    p.input_done = true;
                }
                self.advance(pid, out);
            }
            ("pipeline-host-response", PoolState::Opened) => {
                let ci = int_of(f, "ci").unwrap_or(0);
                let echo = match self.pipelines.get_mut(&pid) {
                    Some(p) if p.waiting.map(|w| w.0) == Some(ci) => p.waiting.take().is_some_and(|w| w.1),
                    _ => {
                        out.push(Output::Log(format!(
                            "psrp server: unexpected host response ci {ci} for {pid}"
                        )));
                        return;
                    }
                };
                if echo {
                    let value = self.opened_value(f.get("returnValue"));
                    self.send(out, "pipeline-output", pid, json!({ "value": value }));
                }
                self.advance(pid, out);
            }
            ("runspacepool-host-response", PoolState::Opened) => {
                out.push(Output::Log("psrp server: pool host response".into()))
            }
            ("oop.command", _) => {
                let g = guid_of(f, "psGuid");
                self.announced.insert(g);
                out.extend(self.t.control(Control::CommandAck, g));
            }
            ("oop.signal", _) if guid_of(f, "psGuid").is_nil() => {
                // PowerShell: IPCNoSignalForSession (a Signal targets a pipeline, never the pool).
                self.broken(out, "Signal for the pool (IPCNoSignalForSession)");
            }
            ("oop.signal", _) => {
                let g = guid_of(f, "psGuid");
                if let Some(p) = self.pipelines.get_mut(&g) {
                    if !p.finished {
                        p.finished = true;
                        let err = error_record("The pipeline has been stopped.", "PipelineStopped");
                        self.send(
                            out,
                            "pipeline-state",
                            g,
                            json!({ "pipelineState": 3, "exceptionAsErrorRecord": err }),
                        );
                    }
                }
                out.extend(self.t.control(Control::SignalAck, g));
            }
            ("oop.close", _) => {
                let g = guid_of(f, "psGuid");
                if self.bugs.no_close_ack {
                    out.push(Output::Log(
                        "psrp server: Close not acknowledged (misbehaviour psrp-no-close-ack)".into(),
                    ));
                    return;
                }
                out.extend(self.t.control(Control::CloseAck, g));
                if g.is_nil() {
                    self.state = PoolState::Closed;
                    out.push(Output::Close {
                        reason: "pool closed".into(),
                    });
                } else {
                    self.pipelines.remove(&g);
                }
            }
            // PowerShell's server fails with IPCUnknownElementReceived on acks it never asked for.
            (name, _) if name.starts_with("oop.") => {
                self.broken(
                    out,
                    &format!("{name} from the client (IPCUnknownElementReceived)"),
                );
            }
            (name, state) => self.broken(out, &format!("{name} is not allowed in pool state {state:?}")),
        }
    }

    fn send_private_data(&mut self, out: &mut Vec<Output>) {
        self.send(out, "application-private-data", Guid::NIL, json!({}));
    }

    /// §3.1.4.5 Getting Command Metadata: a CommandMetadataCount (§2.2.3.21), one CommandMetadata
    /// (§2.2.3.22) per match, then PIPELINE_STATE Completed.
    fn command_metadata(&mut self, f: &Value, pid: Guid, out: &mut Vec<Output>) {
        let patterns: Vec<String> = f
            .get("name")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_lowercase))
                    .collect()
            })
            .unwrap_or_default();
        let matches = |name: &str| {
            let n = name.to_lowercase();
            patterns.is_empty()
                || patterns.iter().any(|p| match p.strip_suffix('*') {
                    Some(prefix) => n.starts_with(prefix),
                    None => &n == p,
                })
        };
        let found: Vec<String> = self
            .script
            .commands
            .iter()
            .filter(|c| matches(c))
            .cloned()
            .collect();
        let count = json!({ "Obj": { "typeNames": ["Selected.Microsoft.PowerShell.Commands.GenericMeasureInfo", "System.Management.Automation.PSCustomObject", "System.Object"],
            "ms": [ { "name": "Count", "value": { "I32": found.len() } } ] } });
        self.send(out, "pipeline-output", pid, json!({ "value": count }));
        for c in found {
            let meta = json!({ "Obj": { "typeNames": ["Deserialized.System.Management.Automation.CommandInfo", "Deserialized.System.Object"],
                "toString": c, "ms": [ { "name": "Name", "value": { "S": c } }, { "name": "CommandType", "value": { "I32": 8 } } ] } });
            self.send(out, "pipeline-output", pid, json!({ "value": meta }));
        }
        if !self.bugs.pipeline_state_missing {
            self.send(out, "pipeline-state", pid, json!({ "pipelineState": 4 }));
        }
    }

    fn opened_value(&self, v: Option<&Value>) -> Value {
        match v.and_then(|v| v.get("SS")).and_then(Value::as_str) {
            Some(ss) => {
                let key = if self.both_2_4 {
                    None
                } else {
                    self.session_key.as_ref()
                };
                match crypto::open(key, ss) {
                    Ok(text) => json!({ "S": text }),
                    Err(e) => json!({ "S": format!("<cannot open SecureString: {e}>") }),
                }
            }
            None => v.cloned().unwrap_or(json!("Nil")),
        }
    }

    fn host_call(&mut self, pid: Guid, step: &HostCallStep, out: &mut Vec<Output>) -> Option<(i64, bool)> {
        let id = step
            .method_id
            .or_else(|| {
                let m = step.method.as_deref()?;
                m.parse::<i32>().ok().or_else(|| {
                    HOST_METHODS
                        .iter()
                        .position(|n| n.eq_ignore_ascii_case(m))
                        .and_then(|i| i32::try_from(i + 1).ok())
                })
            })
            .unwrap_or(11);
        let returns = host_method_returns(id);
        let ci = if returns {
            self.next_ci += 1;
            self.next_ci - 1
        } else {
            -100
        };
        let name = host_method_name(id);
        self.send(
            out,
            "pipeline-host-call",
            pid,
            json!({ "ci": ci, "methodId": id, "methodName": name, "parameters": step.parameters }),
        );
        returns.then_some((ci, step.echo))
    }

    /// Run the script for pipeline `pid` until it waits or ends.
    fn advance(&mut self, pid: Guid, out: &mut Vec<Output>) {
        loop {
            let Some(p) = self.pipelines.get(&pid) else { return };
            if p.finished || p.waiting.is_some() || p.waiting_key {
                return;
            }
            let at = p.step;
            if let Some(Some(v)) = self.outputs.get(at).cloned() {
                // An output step: encoded from the value parsed at start (the same message as
                // `Step::Output` through `send`).
                if let Some(p) = self.pipelines.get_mut(&pid) {
                    p.step += 1;
                }
                self.send_output(out, pid, &v);
                continue;
            }
            let Some(step) = self.script.steps.get(at).cloned() else {
                break;
            };
            if let Some(p) = self.pipelines.get_mut(&pid) {
                p.step += 1;
            }
            match step {
                Step::Output(v) => self.send(out, "pipeline-output", pid, json!({ "value": v })),
                Step::Error(v) => self.send(out, "error-record", pid, v),
                Step::Debug(m) => self.send(out, "debug-record", pid, json!({ "message": m })),
                Step::Verbose(m) => self.send(out, "verbose-record", pid, json!({ "message": m })),
                Step::Warning(m) => self.send(out, "warning-record", pid, json!({ "message": m })),
                Step::Progress(v) => self.send(out, "progress-record", pid, v),
                Step::Information(v) if self.both_2_3 => self.send(out, "information-record", pid, v),
                Step::Information(_) => out.push(Output::Log(
                    "psrp server: INFORMATION_RECORD skipped, protocol below 2.3 on one side".into(),
                )),
                Step::SecureOutput(text) => {
                    if !self.both_2_4 && self.session_key.is_none() {
                        if !self.key_requested {
                            self.key_requested = true;
                            self.send(out, "public-key-request", Guid::NIL, json!({}));
                        }
                        if let Some(p) = self.pipelines.get_mut(&pid) {
                            p.step -= 1;
                            p.waiting_key = true;
                        }
                        return;
                    }
                    let key = if self.both_2_4 { None } else { self.session_key };
                    let ss = crypto::seal(key.as_ref(), &text);
                    self.send(out, "pipeline-output", pid, json!({ "value": { "SS": ss } }));
                }
                Step::HostCall(h) => {
                    let wait = self.host_call(pid, &h, out);
                    if let Some(p) = self.pipelines.get_mut(&pid) {
                        p.waiting = wait;
                    }
                }
            }
        }
        let Some(p) = self.pipelines.get_mut(&pid) else {
            return;
        };
        if !p.input_done {
            return;
        }
        p.finished = true;
        let inputs = std::mem::take(&mut p.inputs);
        if self.script.echo_input {
            for v in inputs {
                self.send(out, "pipeline-output", pid, json!({ "value": v }));
            }
        }
        if self.bugs.pipeline_state_missing {
            out.push(Output::Log(
                "psrp server: no PIPELINE_STATE (misbehaviour psrp-pipeline-state-missing)".into(),
            ));
            return;
        }
        let state = state_number(&self.script.state).unwrap_or(4);
        let fields = if state == 5 {
            let err = error_record("The scripted pipeline failed.", "ScriptedFailure");
            json!({ "pipelineState": state, "exceptionAsErrorRecord": err })
        } else {
            json!({ "pipelineState": state })
        };
        self.send(out, "pipeline-state", pid, fields);
    }
}

impl Peer for PsrpServer {
    fn start(&mut self, _now: Duration) -> Vec<Output> {
        Vec::new()
    }

    fn input(&mut self, _now: Duration, bytes: &[u8]) -> Vec<Output> {
        let (msgs, acks, err) = self.t.receive(bytes);
        // PowerShell acknowledges a Data line once it has dispatched it; the pipeline it starts runs
        // on its own, so its output follows the ack. (Acking after a long scripted output would
        // starve a client that waits for each DataAck, as PowerShell's does.)
        let mut out: Vec<Output> = acks;
        for d in &msgs {
            if self.state == PoolState::Closed {
                break;
            }
            out.push(Output::Log(format!("psrp server: received {}", d.name)));
            self.handle(d, &mut out);
        }
        if let Some(e) = err {
            if self.state != PoolState::Closed {
                self.broken(&mut out, &format!("malformed client data: {e}"));
            }
        }
        out
    }

    fn timer(&mut self, _now: Duration) -> Vec<Output> {
        Vec::new()
    }

    fn next_deadline(&self) -> Option<Duration> {
        None
    }
}
