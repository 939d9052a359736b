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
//!   RUN, PROCESS, SHELL, BATCH, WINPS, PWSH, IO_REDIRECTION, UNICODE_CONSOLE; no session or
//!   system capabilities — with the client's.
//! - Exec requests (RUN/PROCESS/SHELL/BATCH/WINPS/PWSH) after negotiation: a style that was not
//!   negotiated → RESULT with NOW_CODE_NOT_IMPLEMENTED; a session id already used on this channel
//!   → RESULT with NOW_CODE_IN_USE; otherwise STARTED, then — only when the request asks for IO
//!   redirection — one stdout DATA (LAST) with the command's text ("echo X" prints X) and a
//!   newline, then RESULT with exit code 0. Nothing is executed.
//! - CANCEL_REQ → CANCEL_RSP with NOW_CODE_NOT_FOUND (executions finish at once); DATA, ABORT,
//!   HEARTBEAT and session/system/RDM messages are logged and ignored; requests before the capset
//!   are ignored; CHANNEL_CLOSE or stdin EOF ends the process (exit 0).
//! - A message now-proto-pdu cannot decode → CHANNEL_CLOSE with NOW_CODE_INVALID_REQUEST and
//!   exit 1. (now-proto-pdu panics on a few short bodies — see protocols/now/README.md D3 — and
//!   then so does this process: that is the codec's behaviour, left visible on purpose.)
//! - No heartbeats are sent (the runs are shorter than any negotiated interval).

use now_proto_pdu::ironrdp_core::{encode_vec, Decode, ReadCursor};
use now_proto_pdu::{
    NowChannelCapsetMsg, NowChannelCloseMsg, NowChannelMessage, NowExecCancelRspMsg, NowExecCapsetFlags,
    NowExecDataMsg, NowExecDataStreamKind, NowExecMessage, NowExecResultMsg, NowExecStartedMsg, NowMessage,
    NowProtoError, NowStatusError,
};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::process::ExitCode;

const HEADER_SIZE: usize = 8;
/// Largest body the shim buffers (now-client's default `max_frame_body_size`).
const MAX_BODY: usize = 16 * 1024 * 1024;

fn log(msg: &str) {
    eprintln!("now-pdu-server: {msg}");
}

/// The agent's own capability set before the downgrade.
fn agent_capset() -> NowChannelCapsetMsg {
    NowChannelCapsetMsg::default().with_exec_capset(
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
    used_sessions: HashSet<u32>,
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
        if !self.used_sessions.insert(sid) {
            let r = error(NowProtoError::InUse)?;
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

fn serve() -> Result<u8, String> {
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut agent = Agent::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
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
            stdout
                .write_all(&agent.out)
                .and_then(|()| stdout.flush())
                .map_err(|e| format!("stdout: {e}"))?;
            agent.out.clear();
            if let Next::Exit(code) = next {
                return Ok(code);
            }
        }
        let n = stdin.read(&mut chunk).map_err(|e| format!("stdin: {e}"))?;
        if n == 0 {
            if !buf.is_empty() {
                log(&format!(
                    "stdin closed with {} bytes of a partial message",
                    buf.len()
                ));
            }
            return Ok(0);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
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
