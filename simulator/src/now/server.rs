//! The NOW agent (server side of the channel) as a sans-IO mock peer.

use std::collections::BTreeMap;
use std::time::Duration;

use peercheck_now::flags::{
    BatchFlags, DataFlags, ExecCaps, MsgBoxFlags, ProcessFlags, PsFlags, RdmSyncFlags, SessionCaps,
    ShellFlags, SystemCaps, WindowRecEventFlags, WindowRecStartFlags,
};
use peercheck_now::msg::{
    ChannelCapset, ChannelClose, Empty, ExecCancelRsp, ExecData, MsgBoxRsp, RdmAppNotify, RdmCapabilities,
    RdmCodes, RdmSessionNotify, WindowRecEvent,
};
use peercheck_now::primitives::HexBytes;
use peercheck_now::status::NowCode;
use peercheck_now::{Framer, NowMessage, Status};
use peercheck_wire::Role;

use super::script::{self, Chunk, ExecScript, ServerScript};
use super::wire::{default_caps, layout_for, result_msg, started_msg, Encoder};
use super::Misbehave;
use crate::peer::{Output, Peer, PeerConfig, ProcessEvent, ProcessRequest, REAL_COMMANDS_PARAM};

/// Seconds the server assumes when the client gives no heartbeat hint ("60 seconds by default").
const DEFAULT_HEARTBEAT_SECS: u32 = 60;

#[derive(Debug, Clone)]
enum Queued {
    /// A message to write; `session` tags it so CANCEL/ABORT can drop it (u32::MAX = window events).
    Msg { session: Option<u32>, msg: NowMessage },
    /// The session's RESULT went out: its id is free again.
    SessionDone(u32),
}

#[derive(Debug, Clone)]
struct ExecState {
    reply_id: u32,
    io: bool,
    wait_stdin: bool,
    script: ExecScript,
    /// A real process runs this session (`run-real-commands`).
    real: Option<RealProc>,
}

/// A session run by a real process: the driver's process token and whether its output is followed.
#[derive(Debug, Clone, Copy)]
struct RealProc {
    id: u64,
    /// RUN and DETACHED are not followed: STARTED + RESULT as soon as the process is up.
    follow: bool,
}

/// The agent side: answers capsets, runs scripted exec sessions, heartbeats.
#[derive(Debug)]
pub struct NowServer {
    enc: Encoder,
    framer: Framer,
    script: ServerScript,
    misbehave: Option<Misbehave>,
    full_answer: bool,
    own: ChannelCapset,
    negotiated: Option<ChannelCapset>,
    heartbeat_every: Option<Duration>,
    next_heartbeat: Option<Duration>,
    queue: Vec<(Duration, u64, Queued)>,
    seq: u64,
    sessions: BTreeMap<u32, ExecState>,
    closed: bool,
    real_commands: bool,
    next_proc: u64,
    /// Real process token → session id.
    procs: BTreeMap<u64, u32>,
}

fn data(session_id: u32, flags: DataFlags, bytes: &[u8]) -> NowMessage {
    NowMessage::ExecData(ExecData {
        msg_flags: Some(flags),
        session_id,
        data: HexBytes(bytes.to_vec()),
    })
}

fn close(status: Status) -> NowMessage {
    NowMessage::ChannelClose(ChannelClose {
        msg_flags: None,
        status,
    })
}

impl NowServer {
    pub fn new(config: &PeerConfig, misbehave: Option<Misbehave>) -> Result<Self, String> {
        let layout = layout_for(config.profile.as_deref(), &config.params)?;
        let script: ServerScript = script::parse(config.script.as_ref())?;
        let (major, minor) = layout.profile.version();
        let (system_capset, session_capset, exec_capset) = default_caps(layout.profile);
        let mut own = ChannelCapset {
            msg_flags: None,
            version_major: Some(major),
            version_minor: Some(minor),
            system_capset,
            session_capset,
            exec_capset,
            heartbeat_interval: None,
        };
        if let Some(fields) = &script.capset {
            let parsed = peercheck_now::parse_structured(&serde_json::json!({ "channel.capset": fields }))
                .map_err(|e| format!("now script capset: {e}"))?;
            if let NowMessage::ChannelCapset(c) = parsed {
                own = ChannelCapset {
                    version_major: c.version_major.or(Some(major)),
                    version_minor: c.version_minor.or(Some(minor)),
                    ..c
                };
            }
        }
        let full_answer = match config.param("capset-answer") {
            None | Some("intersection") => false,
            Some("full") => true,
            Some(other) => return Err(format!("capset-answer expects intersection|full, got `{other}`")),
        };
        Ok(NowServer {
            enc: Encoder::new(layout, Role::Server, misbehave),
            framer: Framer::new(layout),
            script,
            misbehave,
            full_answer,
            own,
            negotiated: None,
            heartbeat_every: None,
            next_heartbeat: None,
            queue: Vec::new(),
            seq: 0,
            sessions: BTreeMap::new(),
            closed: false,
            real_commands: matches!(
                config.param(REAL_COMMANDS_PARAM),
                Some("true" | "yes" | "on" | "1")
            ),
            next_proc: 1,
            procs: BTreeMap::new(),
        })
    }

    fn profile(&self) -> peercheck_now::Profile {
        self.enc.layout.profile
    }

    fn result_ok(&self, session_id: u32, exit_code: u32) -> NowMessage {
        result_msg(self.profile(), session_id, exit_code, Status::success())
    }

    fn result_err(&self, session_id: u32, status: Status) -> NowMessage {
        result_msg(self.profile(), session_id, 0, status)
    }

    /// The 1.0 text's MSGBOX_RSP has no `response`: "`status.code` contains message box response code".
    fn msgbox_rsp_layout(&self, mut rsp: MsgBoxRsp) -> MsgBoxRsp {
        if self.profile().is_text_10() {
            if let Some(r) = rsp.response.take() {
                if !rsp.status.is_error() {
                    rsp.status.code = r;
                }
            }
        }
        rsp
    }

    fn at(&mut self, when: Duration, session: Option<u32>, msg: NowMessage) {
        self.seq += 1;
        self.queue.push((when, self.seq, Queued::Msg { session, msg }));
        self.queue.sort_by_key(|(t, s, _)| (*t, *s));
    }

    fn caps(&self) -> &ChannelCapset {
        self.negotiated.as_ref().unwrap_or(&self.own)
    }

    fn shutdown(&mut self, out: &mut Vec<Output>, status: Status, reason: &str) {
        // The 1.0 text has no CHANNEL_CLOSE: the channel just goes away.
        if !self.profile().is_text_10() {
            out.push(self.enc.send(&close(status)));
        }
        out.push(Output::Close {
            reason: reason.to_owned(),
        });
        self.closed = true;
        self.queue.clear();
    }

    fn on_capset(&mut self, now: Duration, c: &ChannelCapset, out: &mut Vec<Output>) {
        let own_major = self.own.version_major.unwrap_or(1);
        let major = c.version_major.unwrap_or(1);
        if major != own_major && self.misbehave != Some(Misbehave::NoCloseOnVersionMismatch) {
            // "DVC channel should be closed if protocol versions are not compatible."
            let status = Status::now_error(NowCode::PROTOCOL_VERSION)
                .with_message(format!("protocol version {major}.x is not supported"));
            self.shutdown(out, status, "incompatible protocol version");
            return;
        }
        if self.profile().is_text_10() {
            // 1.0 text: the server advertised first; this is the client's downgraded copy. No answer,
            // and no channel heartbeat (1.0 only has per-session EXEC_HEARTBEAT).
            self.negotiated = Some(c.clone());
            return;
        }
        let hint = c.effective_heartbeat().unwrap_or(DEFAULT_HEARTBEAT_SECS);
        let answer = if self.misbehave == Some(Misbehave::CapsetNotDowngraded) {
            c.clone()
        } else if self.full_answer {
            // ERRATA NOW-11: the real agent answers with its own capabilities and version.
            ChannelCapset {
                heartbeat_interval: Some(hint),
                msg_flags: None,
                ..self.own.clone()
            }
        } else {
            let ours = (
                self.own.version_major.unwrap_or(1),
                self.own.version_minor.unwrap_or(0),
            );
            let theirs = (major, c.version_minor.unwrap_or(0));
            let (vmaj, vmin) = ours.min(theirs);
            ChannelCapset {
                msg_flags: None,
                version_major: Some(vmaj),
                version_minor: Some(vmin),
                system_capset: self.own.system_capset & c.system_capset,
                session_capset: self.own.session_capset & c.session_capset,
                exec_capset: self.own.exec_capset & c.exec_capset,
                heartbeat_interval: Some(hint),
            }
        };
        let interval = answer.effective_heartbeat().unwrap_or(0);
        self.heartbeat_every = match (interval, self.misbehave) {
            (0, _) | (_, Some(Misbehave::HeartbeatNever)) => None,
            (n, Some(Misbehave::HeartbeatTooSlow)) => Some(Duration::from_secs(u64::from(n) * 3)),
            (n, _) => Some(Duration::from_secs(u64::from(n))),
        };
        self.next_heartbeat = self.heartbeat_every.map(|d| now + d);
        out.push(self.enc.send(&NowMessage::ChannelCapset(answer.clone())));
        self.negotiated = Some(answer);
    }

    fn exec_request(&mut self, now: Duration, msg: &NowMessage, out: &mut Vec<Output>) {
        let (session_id, style, command, io, detached, is_run) = match msg {
            NowMessage::ExecRun(r) => (
                r.session_id,
                ExecCaps::STYLE_RUN,
                r.command.clone(),
                false,
                false,
                true,
            ),
            NowMessage::ExecProcess(p) => {
                let f = p.flags();
                let cmd = format!("{} {}", p.filename, p.parameters).trim().to_owned();
                (
                    p.session_id,
                    ExecCaps::STYLE_PROCESS,
                    cmd,
                    f.contains(ProcessFlags::IO_REDIRECTION),
                    f.contains(ProcessFlags::DETACHED),
                    false,
                )
            }
            NowMessage::ExecShell(s) => {
                let f = s.flags();
                (
                    s.session_id,
                    ExecCaps::STYLE_SHELL,
                    s.command.clone(),
                    f.contains(ShellFlags::IO_REDIRECTION),
                    f.contains(ShellFlags::DETACHED),
                    false,
                )
            }
            NowMessage::ExecBatch(b) => {
                let f = b.msg_flags.unwrap_or_default();
                (
                    b.session_id,
                    ExecCaps::STYLE_BATCH,
                    b.command.clone(),
                    f.contains(BatchFlags::IO_REDIRECTION),
                    f.contains(BatchFlags::DETACHED),
                    false,
                )
            }
            NowMessage::ExecWinPs(p) | NowMessage::ExecPwsh(p) => {
                let f = p.flags();
                let style = if matches!(msg, NowMessage::ExecWinPs(_)) {
                    ExecCaps::STYLE_WINPS
                } else {
                    ExecCaps::STYLE_PWSH
                };
                (
                    p.session_id,
                    style,
                    p.command.clone(),
                    f.contains(PsFlags::IO_REDIRECTION),
                    f.contains(PsFlags::DETACHED),
                    false,
                )
            }
            _ => return,
        };
        // 1.0 had no IO_REDIRECTION flag (added in 1.1): output was always sent.
        let io = io || self.profile().is_text_10();
        let reply_id = if self.misbehave == Some(Misbehave::IgnoreSessionId) {
            0
        } else {
            session_id
        };
        if !self.caps().exec_capset.contains(style) {
            let status = Status::now_error(NowCode::NOT_IMPLEMENTED)
                .with_message(format!("{} was not negotiated", msg.name()));
            out.push(self.enc.send(&self.result_err(reply_id, status)));
            return;
        }
        if self.sessions.contains_key(&session_id) {
            let status =
                Status::now_error(NowCode::IN_USE).with_message(format!("session {session_id} is in use"));
            out.push(self.enc.send(&self.result_err(reply_id, status)));
            return;
        }
        if self.real_commands {
            self.real_exec(msg, session_id, reply_id, io, !(is_run || detached), out);
            return;
        }
        let entry = self
            .script
            .exec
            .iter()
            .find(|e| e.matches.as_deref().is_none_or(|m| command.contains(m)))
            .cloned()
            .unwrap_or_default();
        if let Some(fail) = &entry.fail {
            let mut status = Status {
                kind: fail.kind,
                code: fail.code,
                ..Status::now_error(fail.code)
            };
            if !fail.message.is_empty() {
                status = status.with_message(fail.message.clone());
            }
            out.push(self.enc.send(&self.result_err(reply_id, status)));
            return;
        }
        let started = started_msg(self.profile(), reply_id);
        // RUN is "not followed and does not send back the output"; DETACHED (1.4) is not followed either.
        if is_run || detached {
            let result = self.result_ok(reply_id, 0);
            if self.misbehave == Some(Misbehave::ResultBeforeStarted) {
                out.push(self.enc.send(&result));
                out.push(self.enc.send(&started));
            } else {
                out.push(self.enc.send(&started));
                out.push(self.enc.send(&result));
            }
            return;
        }
        if self.misbehave == Some(Misbehave::ResultBeforeStarted) {
            out.push(self.enc.send(&self.result_ok(reply_id, entry.exit_code)));
        }
        out.push(self.enc.send(&started));
        let state = ExecState {
            reply_id,
            io,
            wait_stdin: entry.wait_stdin && io,
            script: entry.clone(),
            real: None,
        };
        let mut t = now;
        if io {
            let chunks = entry.output.clone().unwrap_or_else(|| {
                vec![Chunk {
                    stdout: Some(format!("{command}\n")),
                    stderr: None,
                    delay_ms: 0,
                }]
            });
            let last_out = chunks.iter().rposition(|c| c.stdout.is_some());
            let last_err = chunks.iter().rposition(|c| c.stderr.is_some());
            for (i, c) in chunks.iter().enumerate() {
                t += Duration::from_millis(c.delay_ms);
                if let Some(text) = &c.stdout {
                    let mut f = DataFlags::STDOUT;
                    if Some(i) == last_out && !state.wait_stdin {
                        f |= DataFlags::LAST;
                    }
                    self.at(t, Some(session_id), data(reply_id, f, text.as_bytes()));
                }
                if let Some(text) = &c.stderr {
                    let mut f = DataFlags::STDERR;
                    if Some(i) == last_err {
                        f |= DataFlags::LAST;
                    }
                    self.at(t, Some(session_id), data(reply_id, f, text.as_bytes()));
                }
            }
        }
        let finish_now = !state.wait_stdin && !entry.hang;
        self.sessions.insert(session_id, state);
        if finish_now {
            self.schedule_finish(t + Duration::from_millis(entry.delay_ms), session_id);
        }
    }

    fn schedule_finish(&mut self, when: Duration, session_id: u32) {
        let Some(state) = self.sessions.get(&session_id).cloned() else {
            return;
        };
        if self.misbehave != Some(Misbehave::ResultBeforeStarted) {
            // (with that misbehaviour RESULT already went out before STARTED)
            self.at(
                when,
                Some(session_id),
                self.result_ok(state.reply_id, state.script.exit_code),
            );
        }
        if self.misbehave == Some(Misbehave::DataAfterResult) {
            self.at(
                when,
                Some(session_id),
                data(state.reply_id, DataFlags::STDOUT, b"late\n"),
            );
        }
        self.seq += 1;
        self.queue.push((when, self.seq, Queued::SessionDone(session_id)));
        self.queue.sort_by_key(|(t, s, _)| (*t, *s));
    }

    fn drop_session(&mut self, session_id: u32) {
        if let Some(ExecState { real: Some(p), .. }) = self.sessions.remove(&session_id) {
            self.procs.remove(&p.id);
        }
        self.queue
            .retain(|(_, _, q)| !matches!(q, Queued::Msg { session: Some(s), .. } if *s == session_id));
        self.queue
            .retain(|(_, _, q)| !matches!(q, Queued::SessionDone(s) if *s == session_id));
    }

    /// CANCEL / ABORT of a session a real process runs: kill its process group.
    fn kill_real(&mut self, state: &ExecState, out: &mut Vec<Output>) {
        if let Some(p) = state.real {
            out.push(Output::Process(ProcessRequest::Kill { id: p.id }));
        }
    }

    /// `run-real-commands`: ask the driver to start the requested command. STARTED goes out when
    /// the process is up; output, stdin and RESULT follow the process's events.
    fn real_exec(
        &mut self,
        msg: &NowMessage,
        session_id: u32,
        reply_id: u32,
        io: bool,
        follow: bool,
        out: &mut Vec<Output>,
    ) {
        let Some((program, args, directory)) = real_command(msg) else {
            return;
        };
        let id = self.next_proc;
        self.next_proc += 1;
        self.procs.insert(id, session_id);
        self.sessions.insert(
            session_id,
            ExecState {
                reply_id,
                io,
                wait_stdin: false,
                script: ExecScript::default(),
                real: Some(RealProc { id, follow }),
            },
        );
        out.push(Output::Log(format!(
            "session {session_id}: running `{program}` {args:?} for real"
        )));
        out.push(Output::Process(ProcessRequest::Start {
            id,
            program,
            args,
            directory,
            io: io && follow,
        }));
    }

    fn on_process_event(&mut self, ev: ProcessEvent, out: &mut Vec<Output>) {
        let id = match &ev {
            ProcessEvent::Started { id, .. }
            | ProcessEvent::Failed { id, .. }
            | ProcessEvent::Stdout { id, .. }
            | ProcessEvent::Stderr { id, .. }
            | ProcessEvent::Eof { id, .. }
            | ProcessEvent::Exited { id, .. } => *id,
        };
        // Events of a cancelled or aborted session's process are dropped: its RESULT went out.
        let Some(&session_id) = self.procs.get(&id) else {
            return;
        };
        let Some(state) = self.sessions.get(&session_id).cloned() else {
            return;
        };
        let follow = state.real.is_some_and(|p| p.follow);
        let reply_id = state.reply_id;
        match ev {
            ProcessEvent::Started { pid, .. } => {
                out.push(Output::Log(format!(
                    "session {session_id}: process {pid} started"
                )));
                out.push(self.enc.send(&started_msg(self.profile(), reply_id)));
                if !follow {
                    // RUN / DETACHED: not followed; the driver still kills it when the channel ends.
                    out.push(self.enc.send(&self.result_ok(reply_id, 0)));
                    self.drop_session(session_id);
                }
            }
            ProcessEvent::Failed { not_found, error, .. } => {
                let code = if not_found {
                    NowCode::NOT_FOUND
                } else {
                    NowCode::INTERNAL
                };
                let status = Status::now_error(code).with_message(error);
                out.push(self.enc.send(&self.result_err(reply_id, status)));
                self.drop_session(session_id);
            }
            ProcessEvent::Stdout { bytes, .. } if state.io => {
                out.push(self.enc.send(&data(reply_id, DataFlags::STDOUT, &bytes)));
            }
            ProcessEvent::Stderr { bytes, .. } if state.io => {
                out.push(self.enc.send(&data(reply_id, DataFlags::STDERR, &bytes)));
            }
            ProcessEvent::Eof { stderr, .. } if state.io => {
                // The stream's end is only known when the pipe closes: an empty LAST chunk.
                let stream = if stderr {
                    DataFlags::STDERR
                } else {
                    DataFlags::STDOUT
                };
                out.push(self.enc.send(&data(reply_id, stream | DataFlags::LAST, &[])));
            }
            ProcessEvent::Exited { code, .. } => {
                out.push(Output::Log(format!("session {session_id}: exit code {code}")));
                out.push(self.enc.send(&self.result_ok(reply_id, code)));
                self.drop_session(session_id);
            }
            ProcessEvent::Stdout { .. } | ProcessEvent::Stderr { .. } | ProcessEvent::Eof { .. } => {}
        }
    }

    fn handle(&mut self, now: Duration, msg: NowMessage, out: &mut Vec<Output>) {
        if self.negotiated.is_none()
            && !matches!(msg, NowMessage::ChannelCapset(_) | NowMessage::ChannelClose(_))
        {
            out.push(Output::Log(format!(
                "{} before any capset: using the agent's own capabilities",
                msg.name()
            )));
        }
        match &msg {
            NowMessage::ChannelCapset(c) => self.on_capset(now, c, out),
            NowMessage::ChannelHeartbeat(_) => {}
            NowMessage::ChannelClose(c) => {
                out.push(Output::Log(format!("client closed the channel: {:?}", c.status)));
                out.push(Output::Close {
                    reason: "client sent channel.close".into(),
                });
                self.closed = true;
            }
            NowMessage::SystemShutdown(s) => {
                if self.caps().system_capset.contains(SystemCaps::SHUTDOWN) {
                    out.push(Output::Log(format!("shutdown requested: {:?}", s.message)));
                    self.shutdown(out, Status::success(), "system shutdown");
                } else {
                    out.push(Output::Log("shutdown ignored: capability not negotiated".into()));
                }
            }
            NowMessage::SessionLock(_)
            | NowMessage::SessionLogoff(_)
            | NowMessage::SessionSetKbdLayout(_) => {
                out.push(Output::Log(format!("{} done (fire and forget)", msg.name())));
            }
            NowMessage::SessionMsgBoxReq(b) => {
                if !b.flags().contains(MsgBoxFlags::RESPONSE) {
                    out.push(Output::Log("message box shown, no response requested".into()));
                } else if !self.caps().session_capset.contains(SessionCaps::MSGBOX) {
                    let rsp = MsgBoxRsp {
                        msg_flags: None,
                        request_id: b.request_id,
                        response: Some(0),
                        status: Status::now_error(NowCode::NOT_IMPLEMENTED),
                    };
                    let rsp = self.msgbox_rsp_layout(rsp);
                    out.push(self.enc.send(&NowMessage::SessionMsgBoxRsp(rsp)));
                } else {
                    let rsp = MsgBoxRsp {
                        msg_flags: None,
                        request_id: b.request_id,
                        response: Some(self.script.msgbox.response),
                        status: Status::success(),
                    };
                    let rsp = self.msgbox_rsp_layout(rsp);
                    self.at(
                        now + Duration::from_millis(self.script.msgbox.delay_ms),
                        None,
                        NowMessage::SessionMsgBoxRsp(rsp),
                    );
                }
            }
            NowMessage::SessionWindowRecStart(w) => {
                if !self.caps().session_capset.contains(SessionCaps::WINDOW_RECORDING) {
                    out.push(Output::Log("window recording not negotiated: ignored".into()));
                    return;
                }
                let ws = self.script.window.clone();
                let ts = 1_700_000_000 + now.as_secs();
                let ev = WindowRecEvent {
                    msg_flags: Some(WindowRecEventFlags::ACTIVE_WINDOW),
                    timestamp: ts,
                    process_id: ws.process_id,
                    title: ws.title.clone(),
                    executable_path: ws.executable_path,
                };
                out.push(self.enc.send(&NowMessage::SessionWindowRecEvent(ev)));
                if w.msg_flags
                    .unwrap_or_default()
                    .contains(WindowRecStartFlags::TRACK_TITLE_CHANGE)
                {
                    let poll = Duration::from_millis(u64::from(if w.poll_interval == 0 {
                        1000
                    } else {
                        w.poll_interval
                    }));
                    let ev = WindowRecEvent {
                        msg_flags: Some(WindowRecEventFlags::TITLE_CHANGED),
                        timestamp: ts + poll.as_secs(),
                        process_id: 0,
                        title: format!("* {}", ws.title),
                        executable_path: String::new(),
                    };
                    self.at(now + poll, Some(u32::MAX), NowMessage::SessionWindowRecEvent(ev));
                }
            }
            NowMessage::SessionWindowRecStop(_) => {
                self.queue.retain(|(_, _, q)| {
                    !matches!(
                        q,
                        Queued::Msg {
                            session: Some(u32::MAX),
                            ..
                        }
                    )
                });
            }
            NowMessage::ExecRun(_)
            | NowMessage::ExecProcess(_)
            | NowMessage::ExecShell(_)
            | NowMessage::ExecBatch(_)
            | NowMessage::ExecWinPs(_)
            | NowMessage::ExecPwsh(_) => self.exec_request(now, &msg, out),
            NowMessage::ExecData(d) => {
                let mut f = d.msg_flags.unwrap_or_default();
                if self.profile().is_text_10() {
                    f = super::wire::data_flags_from_10(f);
                }
                match self.sessions.get(&d.session_id).cloned() {
                    Some(ExecState {
                        io: true,
                        real: Some(p),
                        ..
                    }) if p.follow && f.contains(DataFlags::STDIN) => {
                        out.push(Output::Process(ProcessRequest::Stdin {
                            id: p.id,
                            bytes: d.data.0.clone(),
                            last: f.contains(DataFlags::LAST),
                        }));
                    }
                    Some(s) if s.io && f.contains(DataFlags::STDIN) => {
                        if s.wait_stdin {
                            let mut flags = DataFlags::STDOUT;
                            if f.contains(DataFlags::LAST) {
                                flags |= DataFlags::LAST;
                            }
                            out.push(self.enc.send(&data(s.reply_id, flags, &d.data.0)));
                            if f.contains(DataFlags::LAST) {
                                self.schedule_finish(
                                    now + Duration::from_millis(s.script.delay_ms),
                                    d.session_id,
                                );
                            }
                        }
                    }
                    Some(_) => out.push(Output::Log(format!(
                        "stdin for session {} ignored (no IO redirection)",
                        d.session_id
                    ))),
                    None => out.push(Output::Log(format!("data for unknown session {}", d.session_id))),
                }
            }
            NowMessage::ExecCancelReq(c) => {
                if self.misbehave == Some(Misbehave::CancelNoResponse) {
                    out.push(Output::Log("cancel ignored (misbehaviour)".into()));
                    return;
                }
                let id = c.session_id;
                let Some(state) = self.sessions.get(&id).cloned() else {
                    let rsp = ExecCancelRsp {
                        msg_flags: None,
                        session_id: id,
                        status: Status::now_error(NowCode::NOT_FOUND),
                    };
                    out.push(self.enc.send(&NowMessage::ExecCancelRsp(rsp)));
                    return;
                };
                self.kill_real(&state, out);
                self.drop_session(id);
                let rsp = ExecCancelRsp {
                    msg_flags: None,
                    session_id: state.reply_id,
                    status: Status::success(),
                };
                out.push(self.enc.send(&NowMessage::ExecCancelRsp(rsp)));
                out.push(
                    self.enc
                        .send(&self.result_err(state.reply_id, Status::now_error(NowCode::ABORTED))),
                );
            }
            NowMessage::ExecAbort(a) => {
                // "The session is considered aborted as soon as this message is sent": no answer.
                if let Some(state) = self.sessions.get(&a.session_id).cloned() {
                    self.kill_real(&state, out);
                }
                self.drop_session(a.session_id);
            }
            NowMessage::RdmCapabilities(_) => {
                let rdm = &self.script.rdm;
                let rsp = RdmCapabilities {
                    msg_flags: None,
                    timestamp: rdm.timestamp + i64::try_from(now.as_secs()).unwrap_or(0),
                    sync_flags: if rdm.available {
                        RdmSyncFlags::APP_AVAILABLE
                    } else {
                        RdmSyncFlags::empty()
                    },
                    rdm_version: if rdm.available {
                        rdm.version.clone()
                    } else {
                        String::new()
                    },
                    version_extra: String::new(),
                };
                out.push(self.enc.send(&NowMessage::RdmCapabilities(rsp)));
            }
            NowMessage::RdmAppStart(_) => {
                let (state, reason) = if self.script.rdm.available {
                    (RdmCodes::APP_STATE_READY, RdmCodes::REASON_NOT_SPECIFIED)
                } else {
                    (RdmCodes::APP_STATE_FAILED, RdmCodes::REASON_NOT_INSTALLED)
                };
                let n = RdmAppNotify {
                    msg_flags: None,
                    app_state: state,
                    reason_code: reason,
                    notify_data: String::new(),
                };
                out.push(self.enc.send(&NowMessage::RdmAppNotify(n)));
            }
            NowMessage::RdmAppAction(a) => {
                let state = match a.app_action {
                    RdmCodes::APP_ACTION_CLOSE => RdmCodes::APP_STATE_CLOSED,
                    RdmCodes::APP_ACTION_MINIMIZE => RdmCodes::APP_STATE_MINIMIZED,
                    RdmCodes::APP_ACTION_MAXIMIZE => RdmCodes::APP_STATE_MAXIMIZED,
                    RdmCodes::APP_ACTION_RESTORE => RdmCodes::APP_STATE_RESTORED,
                    RdmCodes::APP_ACTION_FULLSCREEN => RdmCodes::APP_STATE_FULLSCREEN,
                    other => {
                        out.push(Output::Log(format!("unknown RDM app action {other}")));
                        return;
                    }
                };
                let n = RdmAppNotify {
                    msg_flags: None,
                    app_state: state,
                    reason_code: RdmCodes::REASON_USER_INITIATED,
                    notify_data: String::new(),
                };
                out.push(self.enc.send(&NowMessage::RdmAppNotify(n)));
            }
            NowMessage::RdmSessionStart(s) => {
                out.push(Output::Log(format!("RDM session {} started", s.session_id)))
            }
            NowMessage::RdmSessionAction(s) => {
                let notify = match s.session_action {
                    RdmCodes::SESSION_ACTION_CLOSE => RdmCodes::SESSION_NOTIFY_CLOSE,
                    _ => RdmCodes::SESSION_NOTIFY_FOCUS,
                };
                let n = RdmSessionNotify {
                    msg_flags: None,
                    session_notify: notify,
                    session_id: s.session_id,
                    log_data: String::new(),
                };
                out.push(self.enc.send(&NowMessage::RdmSessionNotify(n)));
            }
            other => out.push(Output::Log(format!(
                "unexpected {} from the client: ignored",
                other.name()
            ))),
        }
    }

    fn flush(&mut self, now: Duration, out: &mut Vec<Output>) {
        while self.queue.first().is_some_and(|(t, _, _)| *t <= now) {
            let (_, _, q) = self.queue.remove(0);
            match q {
                Queued::Msg { msg, .. } => out.push(self.enc.send(&msg)),
                Queued::SessionDone(id) => {
                    self.sessions.remove(&id);
                }
            }
        }
        if let (Some(next), Some(every)) = (self.next_heartbeat, self.heartbeat_every) {
            if next <= now {
                out.push(self.enc.send(&NowMessage::ChannelHeartbeat(Empty::default())));
                // Keep the negotiated period from the schedule, not from when the timer woke, so
                // late wake-ups do not add up (unless it fell a whole period behind).
                let after = next + every;
                self.next_heartbeat = Some(if after > now { after } else { now + every });
            }
        }
    }
}

impl Peer for NowServer {
    fn start(&mut self, _now: Duration) -> Vec<Output> {
        // NOW-PROTO 1.3: "This message is first set by the client side": the agent waits. The 1.0
        // text had it the other way round: "This message is first set by the server side".
        if self.profile().is_text_10() {
            let caps = ChannelCapset {
                heartbeat_interval: Some(DEFAULT_HEARTBEAT_SECS),
                ..self.own.clone()
            };
            return vec![self.enc.send(&NowMessage::ChannelCapset(caps))];
        }
        Vec::new()
    }

    fn input(&mut self, now: Duration, bytes: &[u8]) -> Vec<Output> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        self.framer.push(bytes);
        loop {
            match self.framer.next_frame() {
                Ok(Some(frame)) => {
                    out.push(Output::Log(format!("received {}", frame.message.name())));
                    self.handle(now, frame.message, &mut out);
                    if self.closed {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    out.push(Output::Log(format!("malformed message: {e}")));
                    let status = Status::now_error(NowCode::INVALID_REQUEST).with_message(e.to_string());
                    self.shutdown(&mut out, status, "malformed message");
                    break;
                }
            }
        }
        self.flush(now, &mut out);
        out
    }

    fn timer(&mut self, now: Duration) -> Vec<Output> {
        let mut out = Vec::new();
        if !self.closed {
            self.flush(now, &mut out);
        }
        out
    }

    fn next_deadline(&self) -> Option<Duration> {
        if self.closed {
            return None;
        }
        let q = self.queue.first().map(|(t, _, _)| *t);
        match (q, self.next_heartbeat) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn process_event(&mut self, _now: Duration, event: ProcessEvent) -> Vec<Output> {
        let mut out = Vec::new();
        if !self.closed {
            self.on_process_event(event, &mut out);
        }
        out
    }

    fn peer_closed(&mut self, _now: Duration) -> Vec<Output> {
        self.closed = true;
        vec![Output::Close {
            reason: "client closed the connection".into(),
        }]
    }
}

/// The program, arguments and directory a real exec request runs (POSIX host): RUN, SHELL and
/// BATCH go through `sh -c` (SHELL's `shell` field, when set, replaces `sh`), PROCESS runs its
/// file with its parameters split like a shell's words, WINPS and PWSH run `pwsh -Command`.
fn real_command(msg: &NowMessage) -> Option<(String, Vec<String>, Option<String>)> {
    let dir = |d: &str| (!d.is_empty()).then(|| d.to_owned());
    let sh = |shell: &str, command: &str| {
        let shell = if shell.is_empty() { "sh" } else { shell };
        (shell.to_owned(), vec!["-c".to_owned(), command.to_owned()])
    };
    let (program, args, directory) = match msg {
        NowMessage::ExecRun(r) => {
            let (p, a) = sh("", &r.command);
            (p, a, r.directory.as_deref().and_then(dir))
        }
        NowMessage::ExecShell(x) => {
            let (p, a) = sh(&x.shell, &x.command);
            (p, a, dir(&x.directory))
        }
        NowMessage::ExecBatch(b) => {
            let (p, a) = sh("", &b.command);
            (p, a, dir(&b.directory))
        }
        NowMessage::ExecProcess(p) => (p.filename.clone(), split_words(&p.parameters), dir(&p.directory)),
        NowMessage::ExecWinPs(p) | NowMessage::ExecPwsh(p) => (
            "pwsh".to_owned(),
            [
                "-NoLogo",
                "-NoProfile",
                "-NonInteractive",
                "-Command",
                p.command.as_str(),
            ]
            .map(str::to_owned)
            .to_vec(),
            dir(&p.directory),
        ),
        _ => return None,
    };
    Some((program, args, directory))
}

/// Split PROCESS parameters into words: blanks separate, single and double quotes group, a
/// backslash outside single quotes takes the next character literally. No expansion of any kind.
pub(crate) fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}
