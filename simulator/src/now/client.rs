//! The RDP-client side of the NOW channel as a sans-IO mock peer: capset first, then scripted
//! requests, each answer checked.

use std::collections::BTreeSet;
use std::time::Duration;

use peercheck_now::flags::{DataFlags, MsgBoxFlags};
use peercheck_now::msg::{ChannelCapset, ChannelClose, ExecData};
use peercheck_now::primitives::HexBytes;
use peercheck_now::{Framer, NowMessage, Status};
use peercheck_wire::Role;

use super::script::{self, ClientScript, Request};
use super::wire::{data_flags_from_10, default_caps, layout_for, result_exit_code, Encoder};
use super::Misbehave;
use crate::peer::{Output, Peer, PeerConfig};

/// What the current request waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    ExecResult(u32),
    MsgBoxRsp(u32),
    CancelRsp(u32),
    RdmCapabilities,
    RdmAppNotify,
    RdmSessionNotify,
}

#[derive(Debug, Clone)]
struct Pending {
    expect: Expect,
    request: Request,
    deadline: Duration,
    started: bool,
    stdout: Vec<u8>,
}

#[derive(Debug)]
pub struct NowClient {
    enc: Encoder,
    framer: Framer,
    script: ClientScript,
    misbehave: Option<Misbehave>,
    strict_capset: bool,
    caps: ChannelCapset,
    awaiting_capset: Option<Duration>,
    next: usize,
    current: Option<Pending>,
    /// Sessions started with `wait: false`-style requests (their traffic is only logged).
    background: BTreeSet<u32>,
    failures: Vec<String>,
    notes: Vec<String>,
    heartbeat: Option<Duration>,
    last_alive: Duration,
    done: bool,
}

fn exec_session(msg: &NowMessage) -> Option<u32> {
    match msg {
        NowMessage::ExecRun(r) => Some(r.session_id),
        NowMessage::ExecProcess(p) => Some(p.session_id),
        NowMessage::ExecShell(s) => Some(s.session_id),
        NowMessage::ExecBatch(b) => Some(b.session_id),
        NowMessage::ExecWinPs(p) | NowMessage::ExecPwsh(p) => Some(p.session_id),
        _ => None,
    }
}

fn set_exec_session(msg: &mut NowMessage, id: u32) {
    match msg {
        NowMessage::ExecRun(r) => r.session_id = id,
        NowMessage::ExecProcess(p) => p.session_id = id,
        NowMessage::ExecShell(s) => s.session_id = id,
        NowMessage::ExecBatch(b) => b.session_id = id,
        NowMessage::ExecWinPs(p) | NowMessage::ExecPwsh(p) => p.session_id = id,
        _ => {}
    }
}

impl NowClient {
    pub fn new(config: &PeerConfig, misbehave: Option<Misbehave>) -> Result<Self, String> {
        let layout = layout_for(config.profile.as_deref(), &config.params)?;
        let script: ClientScript = script::parse(config.script.as_ref())?;
        let (major, minor) = layout.profile.version();
        let mut caps = ChannelCapset {
            msg_flags: None,
            version_major: Some(major),
            version_minor: Some(minor),
            system_capset: default_caps(layout.profile).0,
            session_capset: default_caps(layout.profile).1,
            exec_capset: default_caps(layout.profile).2,
            heartbeat_interval: Some(60),
        };
        if let Some(fields) = &script.capset {
            if let NowMessage::ChannelCapset(c) =
                peercheck_now::parse_structured(&serde_json::json!({ "channel.capset": fields }))
                    .map_err(|e| format!("now script capset: {e}"))?
            {
                caps = ChannelCapset {
                    version_major: c.version_major.or(Some(major)),
                    version_minor: c.version_minor.or(Some(minor)),
                    ..c
                };
            }
        }
        for r in &script.requests {
            peercheck_now::parse_structured(&r.send).map_err(|e| format!("now script request: {e}"))?;
        }
        Ok(NowClient {
            enc: Encoder::new(layout, Role::Client, misbehave),
            framer: Framer::new(layout),
            script,
            misbehave,
            strict_capset: config.param("strict-capset") == Some("true"),
            caps,
            awaiting_capset: None,
            next: 0,
            current: None,
            background: BTreeSet::new(),
            failures: Vec::new(),
            notes: Vec::new(),
            heartbeat: None,
            last_alive: Duration::ZERO,
            done: false,
        })
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.script.timeout_ms)
    }

    fn fail(&mut self, why: impl Into<String>) {
        self.failures.push(why.into());
    }

    fn finish(&mut self, out: &mut Vec<Output>) {
        if self.done {
            return;
        }
        self.done = true;
        let ok = self.failures.is_empty();
        let mut summary = if ok {
            format!("{} request(s) answered as expected", self.next)
        } else {
            self.failures.join("; ")
        };
        if !self.notes.is_empty() {
            summary.push_str(&format!(" (notes: {})", self.notes.join("; ")));
        }
        out.push(Output::Finished { ok, summary });
        // The 1.0 text has no CHANNEL_CLOSE.
        if !self.enc.layout.profile.is_text_10() {
            let close = ChannelClose {
                msg_flags: None,
                status: Status::success(),
            };
            out.push(self.enc.send(&NowMessage::ChannelClose(close)));
        }
        out.push(Output::Close {
            reason: "client script finished".into(),
        });
    }

    /// Send requests until one needs an answer (or the script ends).
    fn advance(&mut self, now: Duration, out: &mut Vec<Output>) {
        while self.current.is_none() && !self.done {
            let Some(request) = self.script.requests.get(self.next).cloned() else {
                self.finish(out);
                return;
            };
            self.next += 1;
            let Ok(mut msg) = peercheck_now::parse_structured(&request.send) else {
                continue;
            };
            if self.misbehave == Some(Misbehave::ClientSessionIdReuse) && exec_session(&msg).is_some() {
                set_exec_session(&mut msg, 1);
            }
            let expect = match &msg {
                m if exec_session(m).is_some() => exec_session(m).map(Expect::ExecResult),
                NowMessage::SessionMsgBoxReq(b) if b.flags().contains(MsgBoxFlags::RESPONSE) => {
                    Some(Expect::MsgBoxRsp(b.request_id))
                }
                NowMessage::ExecCancelReq(c) => Some(Expect::CancelRsp(c.session_id)),
                NowMessage::RdmCapabilities(_) => Some(Expect::RdmCapabilities),
                NowMessage::RdmAppStart(_) | NowMessage::RdmAppAction(_) => Some(Expect::RdmAppNotify),
                NowMessage::RdmSessionAction(_) => Some(Expect::RdmSessionNotify),
                _ => None,
            };
            out.push(self.enc.send(&msg));
            if request.wait == Some(false) {
                if let Some(Expect::ExecResult(id)) = expect {
                    self.background.insert(id);
                }
                continue;
            }
            if let Some(expect) = expect {
                self.current = Some(Pending {
                    expect,
                    request,
                    deadline: now + self.timeout(),
                    started: false,
                    stdout: Vec::new(),
                });
            }
        }
    }

    fn on_capset(&mut self, now: Duration, c: &ChannelCapset, out: &mut Vec<Output>) {
        if self.awaiting_capset.take().is_none() {
            self.notes.push("unsolicited capset".into());
            return;
        }
        let ours = (
            self.caps.version_major.unwrap_or(1),
            self.caps.version_minor.unwrap_or(0),
        );
        let theirs = (c.version_major.unwrap_or(0), c.version_minor.unwrap_or(0));
        if self.enc.layout.profile.is_text_10() {
            // 1.0 text: "Received server message should be downgraded by the client (remove
            // non-intersecting capabilities) and sent back to the server".
            if theirs.0 != ours.0 {
                self.fail(format!("server offered version {}.{}", theirs.0, theirs.1));
                self.finish(out);
                return;
            }
            let (vmaj, vmin) = ours.min(theirs);
            let answer = ChannelCapset {
                msg_flags: None,
                version_major: Some(vmaj),
                version_minor: Some(vmin),
                system_capset: self.caps.system_capset & c.system_capset,
                session_capset: self.caps.session_capset & c.session_capset,
                exec_capset: self.caps.exec_capset & c.exec_capset,
                heartbeat_interval: c.effective_heartbeat(),
            };
            out.push(self.enc.send(&NowMessage::ChannelCapset(answer)));
            self.last_alive = now;
            self.advance(now, out);
            return;
        }
        if theirs.0 != ours.0 {
            self.fail(format!(
                "server answered version {}.{} to our {}.{}",
                theirs.0, theirs.1, ours.0, ours.1
            ));
            self.finish(out);
            return;
        }
        // "Received client message should be downgraded by the server" — a SHOULD (ERRATA NOW-11).
        let extra = |o: u32, t: u32| t & !o != 0;
        if theirs > ours
            || extra(self.caps.system_capset.0, c.system_capset.0)
            || extra(self.caps.session_capset.0, c.session_capset.0)
            || extra(self.caps.exec_capset.0, c.exec_capset.0)
        {
            let why = "capset answer not downgraded to the intersection (SHOULD; ERRATA NOW-11)".to_owned();
            if self.strict_capset {
                self.fail(why);
            } else {
                self.notes.push(why);
            }
        }
        self.heartbeat = c
            .effective_heartbeat()
            .filter(|s| *s > 0)
            .map(|s| Duration::from_secs(u64::from(s)));
        self.last_alive = now;
        self.advance(now, out);
    }

    fn complete(&mut self, now: Duration, out: &mut Vec<Output>) {
        self.current = None;
        self.advance(now, out);
    }

    fn handle(&mut self, now: Duration, msg: NowMessage, out: &mut Vec<Output>) {
        let expect = self.current.as_ref().map(|p| p.expect.clone());
        match (&msg, expect) {
            (NowMessage::ChannelCapset(c), _) => self.on_capset(now, c, out),
            (NowMessage::ChannelHeartbeat(_), _) => self.last_alive = now,
            (NowMessage::ChannelClose(c), _) => {
                if c.status.is_error() {
                    self.fail(format!(
                        "server closed the channel: code {} {}",
                        c.status.code, c.status.error_message
                    ));
                } else if self.current.is_some() || self.next < self.script.requests.len() {
                    self.fail("server closed the channel before the script finished");
                }
                self.finish(out);
            }
            (NowMessage::ExecStarted(s) | NowMessage::ExecHeartbeat(s), Some(Expect::ExecResult(id)))
                if s.session_id == id && !self.current.as_ref().is_some_and(|p| p.started) =>
            {
                let stdin = self.current.as_mut().and_then(|p| {
                    p.started = true;
                    p.request.stdin.clone()
                });
                if let Some(text) = stdin {
                    let d = ExecData {
                        msg_flags: Some(DataFlags::STDIN | DataFlags::LAST),
                        session_id: id,
                        data: HexBytes(text.into_bytes()),
                    };
                    out.push(self.enc.send(&NowMessage::ExecData(d)));
                }
            }
            (NowMessage::ExecData(d), Some(Expect::ExecResult(id))) if d.session_id == id => {
                let mut f = d.msg_flags.unwrap_or_default();
                if self.enc.layout.profile.is_text_10() {
                    f = data_flags_from_10(f);
                }
                let streams = [DataFlags::STDIN, DataFlags::STDOUT, DataFlags::STDERR];
                if streams.iter().filter(|s| f.contains(**s)).count() != 1 || f.contains(DataFlags::STDIN) {
                    self.fail(format!(
                        "exec.data flags {:#06x}: not exactly one of STDOUT/STDERR",
                        f.0
                    ));
                }
                let started = self.current.as_ref().is_some_and(|p| p.started);
                if !started {
                    self.fail(format!("exec.data for session {id} before exec.started"));
                }
                if let Some(p) = self.current.as_mut() {
                    if f.contains(DataFlags::STDOUT) {
                        p.stdout.extend_from_slice(&d.data.0);
                    }
                }
            }
            (NowMessage::ExecResult(r), Some(Expect::ExecResult(id))) if r.session_id == id => {
                let Some(p) = self.current.clone() else { return };
                if !p.started && !r.status.is_error() {
                    self.fail(format!("exec.result for session {id} before exec.started"));
                }
                if r.status.is_error() {
                    self.notes.push(format!(
                        "session {id} failed: kind {} code {}",
                        r.status.kind, r.status.code
                    ));
                }
                if let Some(want) = p.request.expect_exit_code {
                    match result_exit_code(self.enc.layout.profile, r) {
                        Some(got) if got == want => {}
                        got => self.fail(format!("session {id}: exit code {got:?}, expected {want}")),
                    }
                }
                if let Some(want) = &p.request.expect_stdout {
                    let got = String::from_utf8_lossy(&p.stdout);
                    if !got.contains(want.as_str()) {
                        self.fail(format!("session {id}: stdout {got:?} does not contain {want:?}"));
                    }
                }
                self.complete(now, out);
            }
            (NowMessage::SessionMsgBoxRsp(r), Some(Expect::MsgBoxRsp(id))) if r.request_id == id => {
                self.complete(now, out)
            }
            (NowMessage::ExecCancelRsp(r), Some(Expect::CancelRsp(id))) if r.session_id == id => {
                self.background.insert(id);
                self.complete(now, out);
            }
            (NowMessage::RdmCapabilities(_), Some(Expect::RdmCapabilities))
            | (NowMessage::RdmAppNotify(_), Some(Expect::RdmAppNotify))
            | (NowMessage::RdmSessionNotify(_), Some(Expect::RdmSessionNotify)) => self.complete(now, out),
            (NowMessage::ExecHeartbeat(h), _)
                if self
                    .current
                    .as_ref()
                    .is_some_and(|p| p.expect == Expect::ExecResult(h.session_id)) =>
            {
                // 1.0 text: periodic EXEC_HEARTBEAT of a running session.
                self.last_alive = now;
            }
            (NowMessage::ExecStarted(_) | NowMessage::ExecData(_) | NowMessage::ExecResult(_), _) => {
                let id = match &msg {
                    NowMessage::ExecStarted(s) => s.session_id,
                    NowMessage::ExecData(d) => d.session_id,
                    NowMessage::ExecResult(r) => r.session_id,
                    _ => 0,
                };
                if self.background.contains(&id) {
                    out.push(Output::Log(format!("{} for finished session {id}", msg.name())));
                } else {
                    self.fail(format!("{} for unexpected session {id}", msg.name()));
                }
            }
            (other, _) => out.push(Output::Log(format!("received {} (not awaited)", other.name()))),
        }
    }
}

impl Peer for NowClient {
    fn start(&mut self, now: Duration) -> Vec<Output> {
        let mut out = Vec::new();
        self.last_alive = now;
        if self.misbehave == Some(Misbehave::ClientNoCapset) {
            self.advance(now, &mut out);
            return out;
        }
        // NOW-PROTO 1.3: the capset "is first set by the client side" (the 1.0 text: by the server).
        if self.enc.layout.profile.is_text_10() {
            self.awaiting_capset = Some(now + self.timeout());
            return out;
        }
        out.push(self.enc.send(&NowMessage::ChannelCapset(self.caps.clone())));
        self.awaiting_capset = Some(now + self.timeout());
        out
    }

    fn input(&mut self, now: Duration, bytes: &[u8]) -> Vec<Output> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        self.framer.push(bytes);
        loop {
            match self.framer.next_frame() {
                Ok(Some(frame)) => {
                    self.handle(now, frame.message, &mut out);
                    if self.done {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    self.fail(format!("malformed message from the server: {e}"));
                    self.finish(&mut out);
                    break;
                }
            }
        }
        out
    }

    fn timer(&mut self, now: Duration) -> Vec<Output> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        if self.awaiting_capset.is_some_and(|d| now >= d) {
            self.fail("no capset answer");
            self.finish(&mut out);
        } else if let Some(p) = self.current.as_ref().filter(|p| now >= p.deadline) {
            let why = format!("timed out waiting for the answer to {:?}", p.expect);
            self.fail(why);
            self.finish(&mut out);
        } else if self.heartbeat.is_some_and(|h| now >= self.last_alive + h * 2) {
            // ERRATA NOW-12: now-client treats the link as dead after 2x the interval.
            self.fail("no heartbeat within 2x the negotiated interval (ERRATA NOW-12)");
            self.finish(&mut out);
        }
        out
    }

    fn next_deadline(&self) -> Option<Duration> {
        if self.done {
            return None;
        }
        [
            self.awaiting_capset,
            self.current.as_ref().map(|p| p.deadline),
            self.heartbeat.map(|h| self.last_alive + h * 2),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn peer_closed(&mut self, _now: Duration) -> Vec<Output> {
        let mut out = Vec::new();
        if !self.done {
            self.fail("server closed the connection before the script finished");
            self.finish(&mut out);
        }
        out
    }
}
