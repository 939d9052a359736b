//! `now-pdu-server`: a minimal NOW agent on stdin/stdout whose every byte is decoded and encoded by
//! the published `now-proto-pdu` 0.4.4 codec — for codec-level cross-checks of the suite
//! (`peercheck run scenarios --exec now-pdu-server --role server --filter 'now*'`).
//!
//! Framing: NOW messages back to back; a message is its 8-byte header plus `msgSize` body bytes
//! (bodies over 16 MiB are refused, like now-client's default). Each whole message goes to
//! `NowMessage::decode`.
//!
//! Agent logic (deliberately small; everything a real agent would do beyond this is absent):
//! - CHANNEL_CAPSET: a major version other than 1 → CHANNEL_CLOSE with NOW_CODE_PROTOCOL_VERSION
//!   and exit; otherwise the answer is `NowChannelCapsetMsg::downgrade` (now-proto-pdu's
//!   intersection: lower version, ANDed capabilities, shorter heartbeat) of the agent's own set —
//!   RUN, PROCESS, SHELL, BATCH, WINPS, PWSH, IO_REDIRECTION, UNICODE_CONSOLE; session LOCK,
//!   LOGOFF, MSGBOX, SET_KBD_LAYOUT; no system capability, no heartbeat of its own — with the
//!   client's.
//! - Heartbeats: CHANNEL_HEARTBEAT every negotiated interval (when the answer carries one), timed
//!   from the capset answer.
//! - Exec requests (RUN/PROCESS/SHELL/BATCH/WINPS/PWSH) after negotiation: a style that was not
//!   negotiated → RESULT with NOW_CODE_NOT_IMPLEMENTED; otherwise STARTED, then — only when the
//!   request asks for IO redirection — one stdout DATA (LAST) with the command's text ("echo X"
//!   prints X) and a newline, then RESULT with exit code 0. Nothing is executed, so every session
//!   ends at once and its id is free again (the spec: "terminated as soon as [RESULT] is sent").
//! - SESSION_MSGBOX_REQ expecting a response → MSGBOX_RSP IDOK (1) at once, or NOW_CODE_NOT_IMPLEMENTED
//!   when MSGBOX was not negotiated. LOCK, LOGOFF and SET_KBD_LAYOUT are decoded and ignored
//!   (fire-and-forget in the spec; nothing is locked).
//! - RDM (no RDM installed): CAPABILITIES → CAPABILITIES with the current time, an empty version and
//!   no APP_AVAILABLE; APP_START and APP_ACTION → APP_NOTIFY FAILED / NOT_INSTALLED; SESSION_ACTION
//!   → SESSION_NOTIFY of the same kind (CLOSE for anything but FOCUS) and session id; SESSION_START
//!   is ignored.
//! - CANCEL_REQ → CANCEL_RSP with NOW_CODE_NOT_FOUND (executions finish at once); DATA, ABORT,
//!   HEARTBEAT and session/system/RDM messages are logged and ignored; requests before the capset
//!   are ignored; CHANNEL_CLOSE or stdin EOF ends the process (exit 0).
//! - A message now-proto-pdu cannot decode → CHANNEL_CLOSE with NOW_CODE_INVALID_REQUEST and
//!   exit 1. (now-proto-pdu panics on a few short bodies — see protocols/now/README.md D3 — and
//!   then so does this process: that is the codec's behaviour, left visible on purpose.)

use now_proto_pdu::ironrdp_core::{encode_vec, Decode, ReadCursor};
use now_proto_pdu::{
    NowChannelCapsetMsg, NowChannelCloseMsg, NowChannelHeartbeatMsg, NowChannelMessage, NowExecCancelRspMsg,
    NowExecCapsetFlags, NowExecDataMsg, NowExecDataStreamKind, NowExecMessage, NowExecResultMsg,
    NowExecStartedMsg, NowMessage, NowMsgBoxResponse, NowProtoError, NowRdmAppNotifyMsg, NowRdmAppState,
    NowRdmCapabilitiesMsg, NowRdmMessage, NowRdmReason, NowRdmSessionAction, NowRdmSessionNotifyMsg,
    NowSessionCapsetFlags, NowSessionMessage, NowSessionMsgBoxRspMsg, NowStatusError,
};
use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const HEADER_SIZE: usize = 8;
/// Largest body the shim buffers (now-client's default `max_frame_body_size`).
const MAX_BODY: usize = 16 * 1024 * 1024;

fn log(msg: &str) {
    eprintln!("now-pdu-server: {msg}");
}

/// The agent's own capability set before the downgrade.
fn agent_capset() -> NowChannelCapsetMsg {
    NowChannelCapsetMsg::default()
        .with_session_capset(
            NowSessionCapsetFlags::LOCK
                | NowSessionCapsetFlags::LOGOFF
                | NowSessionCapsetFlags::MSGBOX
                | NowSessionCapsetFlags::SET_KBD_LAYOUT,
        )
        .with_exec_capset(
            NowExecCapsetFlags::STYLE_RUN
                | NowExecCapsetFlags::STYLE_PROCESS
                | NowExecCapsetFlags::STYLE_SHELL
                | NowExecCapsetFlags::STYLE_BATCH
                | NowExecCapsetFlags::STYLE_WINPS
                | NowExecCapsetFlags::STYLE_PWSH
                | NowExecCapsetFlags::IO_REDIRECTION
                | NowExecCapsetFlags::UNICODE_CONSOLE,
        )
}

/// What to do after a message.
enum Next {
    Continue,
    Exit(u8),
}

/// One exec request, as far as the agent cares.
struct ExecRequest {
    session_id: u32,
    style: NowExecCapsetFlags,
    text: String,
    io_redirection: bool,
}

fn exec_request(msg: &NowExecMessage<'_>) -> Option<ExecRequest> {
    let (session_id, style, text, io_redirection) = match msg {
        NowExecMessage::Run(m) => (
            m.session_id(),
            NowExecCapsetFlags::STYLE_RUN,
            m.command().to_owned(),
            false,
        ),
        NowExecMessage::Process(m) => (
            m.session_id(),
            NowExecCapsetFlags::STYLE_PROCESS,
            match m.parameters() {
                Some(p) if !p.is_empty() => format!("{} {p}", m.filename()),
                _ => m.filename().to_owned(),
            },
            m.is_with_io_redirection(),
        ),
        NowExecMessage::Shell(m) => (
            m.session_id(),
            NowExecCapsetFlags::STYLE_SHELL,
            m.command().to_owned(),
            m.is_with_io_redirection(),
        ),
        NowExecMessage::Batch(m) => (
            m.session_id(),
            NowExecCapsetFlags::STYLE_BATCH,
            m.command().to_owned(),
            m.is_with_io_redirection(),
        ),
        NowExecMessage::WinPs(m) => (
            m.session_id(),
            NowExecCapsetFlags::STYLE_WINPS,
            m.command().to_owned(),
            m.is_with_io_redirection(),
        ),
        NowExecMessage::Pwsh(m) => (
            m.session_id(),
            NowExecCapsetFlags::STYLE_PWSH,
            m.command().to_owned(),
            m.is_with_io_redirection(),
        ),
        _ => return None,
    };
    Some(ExecRequest {
        session_id,
        style,
        text,
        io_redirection,
    })
}

/// The deterministic "output" of a command: `echo X` prints X, anything else prints itself.
fn output_of(text: &str) -> String {
    let shown = text.strip_prefix("echo ").unwrap_or(text);
    format!("{shown}\n")
}

#[derive(Default)]
struct Agent {
    negotiated: Option<NowChannelCapsetMsg>,
    /// When the next CHANNEL_HEARTBEAT is due, and the interval.
    heartbeat: Option<(Instant, Duration)>,
    out: Vec<u8>,
}

impl Agent {
    fn send(&mut self, msg: impl Into<NowMessage<'static>>) -> Result<(), String> {
        let bytes = encode_vec(&msg.into()).map_err(|e| format!("encode: {e}"))?;
        self.out.extend_from_slice(&bytes);
        Ok(())
    }

    fn close_with(&mut self, error: NowProtoError) -> Result<(), String> {
        let close = NowChannelCloseMsg::from_error(NowStatusError::new_proto(error))
            .map_err(|e| format!("encode close: {e}"))?;
        self.send(close)
    }

    fn handle(&mut self, msg: NowMessage<'_>) -> Result<Next, String> {
        match msg {
            NowMessage::Channel(NowChannelMessage::Capset(client)) => {
                let v = client.version();
                if v.major != 1 {
                    log(&format!("client version {}.{}: incompatible", v.major, v.minor));
                    self.close_with(NowProtoError::ProtocolVersion)?;
                    return Ok(Next::Exit(0));
                }
                let answer = agent_capset().downgrade(&client);
                self.heartbeat = answer
                    .heartbeat_interval()
                    .filter(|i| !i.is_zero())
                    .map(|i| (Instant::now() + i, i));
                self.negotiated = Some(answer.clone());
                self.send(answer)?;
            }
            NowMessage::Channel(NowChannelMessage::Close(_)) => {
                log("client closed the channel");
                return Ok(Next::Exit(0));
            }
            NowMessage::Exec(NowExecMessage::CancelReq(m)) => {
                let rsp = NowExecCancelRspMsg::new_error(
                    m.session_id(),
                    NowStatusError::new_proto(NowProtoError::NotFound),
                )
                .map_err(|e| format!("encode cancel rsp: {e}"))?;
                self.send(rsp)?;
            }
            NowMessage::Session(NowSessionMessage::MsgBoxReq(m)) if m.is_response_expected() => {
                let negotiated = self
                    .negotiated
                    .as_ref()
                    .is_some_and(|c| c.session_capset().contains(NowSessionCapsetFlags::MSGBOX));
                let rsp = if negotiated {
                    NowSessionMsgBoxRspMsg::new_success(m.request_id(), NowMsgBoxResponse::new(1))
                } else {
                    NowSessionMsgBoxRspMsg::new_error(
                        m.request_id(),
                        NowStatusError::new_proto(NowProtoError::NotImplemented),
                    )
                    .map_err(|e| format!("encode msgbox rsp: {e}"))?
                };
                self.send(rsp)?;
            }
            NowMessage::Rdm(rdm) => self.rdm(rdm)?,
            NowMessage::Exec(exec) => match exec_request(&exec) {
                Some(req) => self.exec(req)?,
                None => log(&format!("ignored {exec:?}")),
            },
            other => log(&format!("ignored {other:?}")),
        }
        Ok(Next::Continue)
    }

    fn exec(&mut self, req: ExecRequest) -> Result<(), String> {
        let Some(caps) = self.negotiated.as_ref() else {
            log("exec request before the capset: ignored");
            return Ok(());
        };
        let sid = req.session_id;
        let error = |code| {
            NowExecResultMsg::new_error(sid, NowStatusError::new_proto(code))
                .map_err(|e| format!("encode result: {e}"))
        };
        if !caps.exec_capset().contains(req.style) {
            let r = error(NowProtoError::NotImplemented)?;
            return self.send(r);
        }
        let redirect = req.io_redirection && caps.exec_capset().contains(NowExecCapsetFlags::IO_REDIRECTION);
        self.send(NowExecStartedMsg::new(sid))?;
        if redirect {
            let data = NowExecDataMsg::new(
                sid,
                NowExecDataStreamKind::Stdout,
                true,
                output_of(&req.text).into_bytes(),
            )
            .map_err(|e| format!("encode data: {e}"))?;
            self.send(data)?;
        }
        self.send(NowExecResultMsg::new_success(sid, 0))
    }

    /// RDM: no RDM here, and the answers say so.
    fn rdm(&mut self, msg: NowRdmMessage<'_>) -> Result<(), String> {
        let not_installed = || NowRdmAppNotifyMsg::new(NowRdmAppState::FAILED, NowRdmReason::NOT_INSTALLED);
        match msg {
            NowRdmMessage::Capabilities(_) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default();
                let caps =
                    NowRdmCapabilitiesMsg::new(now, "").map_err(|e| format!("encode rdm caps: {e}"))?;
                self.send(NowMessage::Rdm(NowRdmMessage::Capabilities(caps)))
            }
            NowRdmMessage::AppStart(_) | NowRdmMessage::AppAction(_) => {
                self.send(NowMessage::Rdm(NowRdmMessage::AppNotify(not_installed())))
            }
            NowRdmMessage::SessionAction(m) => {
                let notify = if m.session_action() == NowRdmSessionAction::FOCUS {
                    NowRdmSessionNotifyMsg::new_focus(m.session_id())
                } else {
                    NowRdmSessionNotifyMsg::new_close(m.session_id())
                };
                // now-proto-pdu 0.4.4 has no `From` for RDM messages: wrap by hand.
                self.send(NowMessage::Rdm(NowRdmMessage::SessionNotify(notify)))
            }
            other => {
                log(&format!("ignored {other:?}"));
                Ok(())
            }
        }
    }

    /// Sends the heartbeats that are due; returns how long until the next one.
    fn tick(&mut self) -> Result<Option<Duration>, String> {
        let Some((due, interval)) = self.heartbeat else {
            return Ok(None);
        };
        let now = Instant::now();
        if now < due {
            return Ok(Some(due - now));
        }
        self.send(NowChannelHeartbeatMsg::default())?;
        self.heartbeat = Some((now + interval, interval));
        Ok(Some(interval))
    }
}

/// Length of the first whole message in `buf`, if it is all there.
fn frame_len(buf: &[u8]) -> Result<Option<usize>, String> {
    let Some(header) = buf.get(..HEADER_SIZE) else {
        return Ok(None);
    };
    let size_bytes: [u8; 4] = header
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or("short header")?;
    let body = usize::try_from(u32::from_le_bytes(size_bytes)).map_err(|e| e.to_string())?;
    if body > MAX_BODY {
        return Err(format!("msgSize {body} is over {MAX_BODY}"));
    }
    let total = HEADER_SIZE + body;
    Ok((buf.len() >= total).then_some(total))
}

/// Reads stdin on its own thread so the main loop can wake up for heartbeats; an empty chunk
/// means EOF.
fn spawn_reader() -> mpsc::Receiver<Result<Vec<u8>, String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let msg = match stdin.read(&mut chunk) {
                Ok(n) => Ok(chunk.get(..n).unwrap_or_default().to_vec()),
                Err(e) => Err(format!("stdin: {e}")),
            };
            let end = !matches!(&msg, Ok(c) if !c.is_empty());
            if tx.send(msg).is_err() || end {
                return;
            }
        }
    });
    rx
}

fn serve() -> Result<u8, String> {
    let mut stdout = std::io::stdout().lock();
    let mut agent = Agent::default();
    let mut buf: Vec<u8> = Vec::new();
    let input = spawn_reader();
    loop {
        let mut exit = None;
        while let Some(len) = frame_len(&buf)? {
            let frame: Vec<u8> = buf.drain(..len).collect();
            let next = match NowMessage::decode(&mut ReadCursor::new(&frame)) {
                Ok(msg) => agent.handle(msg)?,
                Err(e) => {
                    log(&format!("now-proto-pdu cannot decode {frame:02x?}: {e}"));
                    agent.close_with(NowProtoError::InvalidRequest)?;
                    Next::Exit(1)
                }
            };
            if let Next::Exit(code) = next {
                exit = Some(code);
                break;
            }
        }
        let wait = agent.tick()?;
        stdout
            .write_all(&agent.out)
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("stdout: {e}"))?;
        agent.out.clear();
        if let Some(code) = exit {
            return Ok(code);
        }
        let chunk = match wait {
            Some(d) => match input.recv_timeout(d) {
                Ok(c) => c?,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => Vec::new(),
            },
            None => input.recv().unwrap_or_else(|_| Ok(Vec::new()))?,
        };
        if chunk.is_empty() {
            if !buf.is_empty() {
                log(&format!(
                    "stdin closed with {} bytes of a partial message",
                    buf.len()
                ));
            }
            return Ok(0);
        }
        buf.extend_from_slice(&chunk);
    }
}

fn main() -> ExitCode {
    match serve() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            log(&e);
            ExitCode::FAILURE
        }
    }
}
