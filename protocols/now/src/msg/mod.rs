//! The message catalogue: one enum over every message of every profile, its structured names, who
//! sends what, and the dispatch from (msgClass, msgType) to a body decoder.

pub mod channel;
pub mod exec;
pub mod rdm;
pub mod session;
pub mod system;
pub mod unknown;

use peercheck_wire::{DecodeError, EncodeError, FieldSpan, MessageInfo, Reader, Role, Sender};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::header::{Header, MsgClass};
use crate::limits::HEADER_SIZE;
use crate::profile::{Layout, Profile};

pub use channel::{ChannelCapset, ChannelClose, Empty};
pub use exec::{
    ExecAbort, ExecBatch, ExecCancelRsp, ExecData, ExecPowerShell, ExecProcess, ExecResult, ExecRun,
    ExecSessionId, ExecShell,
};
pub use rdm::{
    RdmAppAction, RdmAppNotify, RdmAppStart, RdmCapabilities, RdmCodes, RdmSessionAction, RdmSessionNotify,
    RdmSessionStart,
};
pub use session::{
    MsgBoxReq, MsgBoxResponse, MsgBoxRsp, MsgBoxStyle, SetKbdLayout, WindowRecEvent, WindowRecStart,
};
pub use system::SystemShutdown;
pub use unknown::Unknown;

/// What the encoder needs beyond the message: the layout and which side is writing.
#[derive(Debug, Clone, Copy)]
pub struct EncodeCx<'a> {
    pub layout: &'a Layout,
    pub role: Role,
}

/// A message body: decoded from a reader limited to msgSize bytes, encoded into a body buffer
/// (returning the msgFlags to put in the header).
pub(crate) trait Body: Sized {
    fn decode(r: &mut Reader<'_>, flags: u16, layout: &Layout) -> Result<Self, DecodeError>;
    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError>;
}

pub(crate) fn narrow_u16(v: u32, field: &'static str) -> Result<u16, EncodeError> {
    u16::try_from(v).map_err(|_| EncodeError::new(field, format!("{v:#x} does not fit in 16 bits")))
}

pub(crate) fn narrow_u8(v: u32, field: &'static str) -> Result<u8, EncodeError> {
    u8::try_from(v).map_err(|_| EncodeError::new(field, format!("{v:#x} does not fit in 8 bits")))
}

/// Which profiles define a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Avail {
    /// Every profile.
    All,
    /// 1.3 and 1.6 (not the 1.0 text).
    Since13,
    /// 1.6 only (1.5 additions, ERRATA NOW-10).
    Since16,
    /// Only the 1.0 text.
    Text10,
}

impl Avail {
    pub fn includes(self, p: Profile) -> bool {
        match self {
            Avail::All => true,
            Avail::Since13 => p != Profile::Now10Text,
            Avail::Since16 => p == Profile::Now16,
            Avail::Text10 => p == Profile::Now10Text,
        }
    }
}

/// (name, class, type, availability) of every known message.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub name: &'static str,
    pub class: MsgClass,
    pub msg_type: u8,
    pub avail: Avail,
}

macro_rules! catalogue {
    ($( $variant:ident($ty:ty) = $name:literal, $class:ident / $typ:literal, $avail:ident, $sender:ident, $spec:literal; )*) => {
        /// Every NOW message, in serde's externally tagged form `{ "<class.message>": { fields } }`.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        pub enum NowMessage {
            $( #[serde(rename = $name)] $variant($ty), )*
            /// A class/type the profile does not define, kept verbatim.
            #[serde(rename = "unknown")]
            Unknown(Unknown),
        }

        /// Class, type and profiles of every known message.
        pub const KINDS: &[Kind] = &[
            $( Kind { name: $name, class: MsgClass::$class, msg_type: $typ, avail: Avail::$avail }, )*
        ];

        /// The catalogue for [`peercheck_wire::ProtocolDef::messages`].
        pub const MESSAGES: &[MessageInfo] = &[
            $( MessageInfo { name: $name, sent_by: Sender::$sender, spec: $spec }, )*
            MessageInfo { name: "unknown", sent_by: Sender::Either, spec: "any class/type the profile does not define" },
        ];

        impl NowMessage {
            /// The structured-form name.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => $name, )*
                    Self::Unknown(_) => "unknown",
                }
            }

            fn decode_known(h: &Header, r: &mut Reader<'_>, l: &Layout) -> Option<Result<Self, DecodeError>> {
                // One `match` (a jump on class/type) rather than a chain of comparisons.
                match (h.msg_class, h.msg_type) {
                    $(
                        (MsgClass::$class, $typ) if Avail::$avail.includes(l.profile) => {
                            Some(<$ty as Body>::decode(r, h.msg_flags, l).map(Self::$variant))
                        }
                    )*
                    _ => None,
                }
            }

            /// Encode the body; returns (class, type, flags).
            fn encode_body(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<(MsgClass, u8, u16), EncodeError> {
                match self {
                    $(
                        Self::$variant(m) => {
                            if !Avail::$avail.includes(cx.layout.profile) {
                                return Err(EncodeError::new($name, format!(
                                    "not defined in profile {} (send it as `unknown` to force it)",
                                    cx.layout.profile.name()
                                )));
                            }
                            let flags = m.encode(out, cx)?;
                            Ok((MsgClass::$class, $typ, flags))
                        }
                    )*
                    Self::Unknown(u) => {
                        out.extend_from_slice(&u.body.0);
                        Ok((MsgClass(u.msg_class), u.msg_type, u.msg_flags))
                    }
                }
            }
        }
    };
}

catalogue! {
    ChannelCapset(ChannelCapset) = "channel.capset", CHANNEL / 0x01, All, Either,
        "NOW-PROTO 1.3 NOW_CHANNEL_CAPSET_MSG (1.0: NOW_NEGOTIATION_CAPSET_MSG); ERRATA NOW-2";
    ChannelHeartbeat(Empty) = "channel.heartbeat", CHANNEL / 0x02, Since13, Server,
        "NOW-PROTO 1.3 NOW_CHANNEL_HEARTBEAT_MSG";
    ChannelClose(ChannelClose) = "channel.close", CHANNEL / 0x03, Since13, Either,
        "NOW-PROTO 1.3 NOW_CHANNEL_CLOSE_MSG";
    SystemShutdown(SystemShutdown) = "system.shutdown", SYSTEM / 0x03, All, Client,
        "NOW-PROTO 1.3 NOW_SYSTEM_SHUTDOWN_MSG";
    SessionLock(Empty) = "session.lock", SESSION / 0x01, All, Client,
        "NOW-PROTO 1.3 NOW_SESSION_LOCK_MSG";
    SessionLogoff(Empty) = "session.logoff", SESSION / 0x02, All, Client,
        "NOW-PROTO 1.3 NOW_SESSION_LOGOFF_MSG";
    SessionMsgBoxReq(MsgBoxReq) = "session.msgbox-req", SESSION / 0x03, All, Client,
        "NOW-PROTO 1.3 NOW_SESSION_MSGBOX_REQ_MSG; ERRATA NOW-6";
    SessionMsgBoxRsp(MsgBoxRsp) = "session.msgbox-rsp", SESSION / 0x04, All, Server,
        "NOW-PROTO 1.3 NOW_SESSION_MSGBOX_RSP_MSG";
    SessionSetKbdLayout(SetKbdLayout) = "session.set-kbd-layout", SESSION / 0x05, Since13, Client,
        "NOW-PROTO 1.3 NOW_SESSION_SET_KBD_LAYOUT_MSG";
    SessionWindowRecStart(WindowRecStart) = "session.window-rec-start", SESSION / 0x06, Since16, Client,
        "NOW-PROTO 1.5 NOW_SESSION_WINDOW_REC_START_MSG; ERRATA NOW-10";
    SessionWindowRecStop(Empty) = "session.window-rec-stop", SESSION / 0x07, Since16, Client,
        "NOW-PROTO 1.5 NOW_SESSION_WINDOW_REC_STOP_MSG; ERRATA NOW-10";
    SessionWindowRecEvent(WindowRecEvent) = "session.window-rec-event", SESSION / 0x08, Since16, Server,
        "NOW-PROTO 1.5 NOW_SESSION_WINDOW_REC_EVENT_MSG; ERRATA NOW-10";
    ExecAbort(ExecAbort) = "exec.abort", EXEC / 0x01, All, Client,
        "NOW-PROTO 1.3 NOW_EXEC_ABORT_MSG";
    ExecCancelReq(ExecSessionId) = "exec.cancel-req", EXEC / 0x02, All, Client,
        "NOW-PROTO 1.3 NOW_EXEC_CANCEL_REQ_MSG";
    ExecCancelRsp(ExecCancelRsp) = "exec.cancel-rsp", EXEC / 0x03, All, Server,
        "NOW-PROTO 1.3 NOW_EXEC_CANCEL_RSP_MSG; ERRATA NOW-13";
    ExecResult(ExecResult) = "exec.result", EXEC / 0x04, All, Server,
        "NOW-PROTO 1.3 NOW_EXEC_RESULT_MSG; ERRATA NOW-8";
    ExecData(ExecData) = "exec.data", EXEC / 0x05, All, Either,
        "NOW-PROTO 1.3 NOW_EXEC_DATA_MSG; ERRATA NOW-3";
    ExecStarted(ExecSessionId) = "exec.started", EXEC / 0x06, Since13, Server,
        "NOW-PROTO 1.3 NOW_EXEC_STARTED_MSG";
    ExecRun(ExecRun) = "exec.run", EXEC / 0x10, All, Client,
        "NOW-PROTO 1.3 NOW_EXEC_RUN_MSG; ERRATA NOW-9";
    ExecProcess(ExecProcess) = "exec.process", EXEC / 0x11, All, Client,
        "NOW-PROTO 1.3 NOW_EXEC_PROCESS_MSG; ERRATA NOW-10";
    ExecShell(ExecShell) = "exec.shell", EXEC / 0x12, All, Client,
        "NOW-PROTO 1.3 NOW_EXEC_SHELL_MSG; ERRATA NOW-10";
    ExecBatch(ExecBatch) = "exec.batch", EXEC / 0x13, All, Client,
        "NOW-PROTO 1.3 NOW_EXEC_BATCH_MSG; ERRATA NOW-10";
    ExecWinPs(ExecPowerShell) = "exec.winps", EXEC / 0x14, All, Client,
        "NOW-PROTO 1.3 NOW_EXEC_WINPS_MSG; ERRATA NOW-10";
    ExecPwsh(ExecPowerShell) = "exec.pwsh", EXEC / 0x15, All, Client,
        "NOW-PROTO 1.3 NOW_EXEC_PWSH_MSG; ERRATA NOW-10";
    ExecHeartbeat(ExecSessionId) = "exec.heartbeat", EXEC / 0x20, Text10, Server,
        "NOW-PROTO 1.0 text NOW_EXEC_HEARTBEAT_MSG (profile now-1.0-text only; ERRATA NOW-1)";
    RdmCapabilities(RdmCapabilities) = "rdm.capabilities", RDM / 0x01, Since13, Either,
        "NOW-PROTO 1.3 NOW_RDM_CAPABILITIES_MSG";
    RdmAppStart(RdmAppStart) = "rdm.app-start", RDM / 0x02, Since13, Client,
        "NOW-PROTO 1.3 NOW_RDM_APP_START_MSG";
    RdmAppAction(RdmAppAction) = "rdm.app-action", RDM / 0x03, Since13, Client,
        "NOW-PROTO 1.3 NOW_RDM_APP_ACTION_MSG; ERRATA NOW-13";
    RdmAppNotify(RdmAppNotify) = "rdm.app-notify", RDM / 0x04, Since13, Server,
        "NOW-PROTO 1.3 NOW_RDM_APP_NOTIFY_MSG";
    RdmSessionStart(RdmSessionStart) = "rdm.session-start", RDM / 0x05, Since13, Client,
        "NOW-PROTO 1.3 NOW_RDM_SESSION_START_MSG; ERRATA NOW-13";
    RdmSessionAction(RdmSessionAction) = "rdm.session-action", RDM / 0x06, Since13, Client,
        "NOW-PROTO 1.3 NOW_RDM_SESSION_ACTION_MSG";
    RdmSessionNotify(RdmSessionNotify) = "rdm.session-notify", RDM / 0x07, Since13, Server,
        "NOW-PROTO 1.3 NOW_RDM_SESSION_NOTIFY_MSG";
}

/// Encode one message (header + body).
///
/// The body is written after a placeholder header, which is then filled in: one buffer, no copy.
pub fn encode_message(msg: &NowMessage, cx: &EncodeCx<'_>) -> Result<Vec<u8>, EncodeError> {
    // Bulk bytes are known up front, so the buffer is allocated once.
    let bulk = match msg {
        NowMessage::ExecData(d) => d.data.0.len(),
        NowMessage::Unknown(u) => u.body.0.len(),
        _ => 0,
    };
    let mut out = Vec::with_capacity(ENCODE_CAPACITY.saturating_add(bulk));
    out.resize(HEADER_SIZE, 0);
    let (class, msg_type, msg_flags) = msg.encode_body(&mut out, cx)?;
    let msg_size = u32::try_from(out.len() - HEADER_SIZE)
        .map_err(|_| EncodeError::new("msgSize", "body longer than 4 GiB"))?;
    let header = Header {
        msg_size,
        msg_class: class,
        msg_type,
        msg_flags,
    }
    .to_bytes();
    if let Some(slot) = out.get_mut(..HEADER_SIZE) {
        slot.copy_from_slice(&header);
    }
    Ok(out)
}

/// First allocation for an encoded message: holds the header and most control messages whole;
/// variable fields reserve their own length (see `write_varstr` / `write_varbuf`).
const ENCODE_CAPACITY: usize = 128;

/// Decode exactly one whole message (`bytes` = header + msgSize body bytes). `base` is the absolute
/// offset of `bytes[0]` in the stream; spans are recorded when `traced`.
///
/// msgSize delimits the body ("The message size, excluding the header size"): a body decoder may not
/// read past it (a truncation error names the field), and bytes it leaves unread are an error unless
/// `trailing-body=ignore` (now-proto-pdu ignores them, README finding D4).
pub fn decode_message(
    bytes: &[u8],
    base: usize,
    layout: &Layout,
    traced: bool,
) -> Result<(NowMessage, Vec<FieldSpan>), DecodeError> {
    let mut r = Reader::new(bytes).with_base(base);
    if traced {
        r = r.traced();
    }
    let h = Header::read(&mut r)?;
    check_msg_size(h.msg_size, base, layout)?;
    let len =
        usize::try_from(h.msg_size).map_err(|_| r.invalid("header.msgSize", "does not fit in memory"))?;
    let msg = r.with_len(len, "body", layout.ignore_trailing_body, |r| {
        r.scope("body", |r| match NowMessage::decode_known(&h, r, layout) {
            Some(result) => result,
            None => Ok(NowMessage::Unknown(Unknown {
                msg_class: h.msg_class.0,
                msg_type: h.msg_type,
                msg_flags: h.msg_flags,
                body: crate::primitives::HexBytes(r.rest("body").to_vec()),
            })),
        })
    })?;
    r.expect_end("message")?;
    Ok((msg, r.take_spans()))
}

/// msgSize against the layout's limit; the error is positioned at the header.
pub(crate) fn check_msg_size(msg_size: u32, base: usize, layout: &Layout) -> Result<(), DecodeError> {
    if u64::from(msg_size) > layout.max_msg_size.max {
        return Err(DecodeError::new(
            base,
            crate::header::MSG_SIZE_SPAN,
            peercheck_wire::DecodeErrorKind::OverLimit {
                value: u64::from(msg_size),
                max: layout.max_msg_size.max,
                limit: layout.max_msg_size.name,
            },
        ));
    }
    Ok(())
}
