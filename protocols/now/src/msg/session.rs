//! Session messages (NOW-PROTO 1.3 "Session Messages"; WINDOW_REC_* from 1.5, ERRATA NOW-10).

use peercheck_wire::{DecodeError, EncodeError, Reader, WriteExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Body, EncodeCx};
use crate::flags::{KbdLayoutFlags, MsgBoxFlags, WindowRecEventFlags, WindowRecStartFlags};
use crate::primitives::{read_varstr, write_varstr};
use crate::profile::Layout;
use crate::status::Status;

/// NOW_MSGBOX_RSP_* response codes (NOW-PROTO 1.3 NOW_SESSION_MSGBOX_RSP_MSG).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsgBoxResponse;

impl MsgBoxResponse {
    pub const OK: u32 = 1;
    pub const CANCEL: u32 = 2;
    pub const ABORT: u32 = 3;
    pub const RETRY: u32 = 4;
    pub const IGNORE: u32 = 5;
    pub const YES: u32 = 6;
    pub const NO: u32 = 7;
    pub const TRY_AGAIN: u32 = 10;
    pub const CONTINUE: u32 = 11;
    pub const TIMEOUT: u32 = 32000;
}

/// Common `style` values (Windows MessageBox MB_* types; "MBOK is the default").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsgBoxStyle;

impl MsgBoxStyle {
    pub const OK: u32 = 0x0000_0000;
    pub const OK_CANCEL: u32 = 0x0000_0001;
    pub const ABORT_RETRY_IGNORE: u32 = 0x0000_0002;
    pub const YES_NO_CANCEL: u32 = 0x0000_0003;
    pub const YES_NO: u32 = 0x0000_0004;
    pub const RETRY_CANCEL: u32 = 0x0000_0005;
    pub const CANCEL_TRY_CONTINUE: u32 = 0x0000_0006;
    pub const HELP: u32 = 0x0000_4000;
}

/// NOW_SESSION_MSGBOX_REQ_MSG (0x12/0x03): requestId, style, timeout, then the two strings. As
/// shipped, `title` precedes `text` and is always present (ERRATA NOW-6); the spec diagrams put text
/// first (`msgbox-order=text-first`), and the 1.0 text has title only with NOW_MSGBOX_FLAG_TITLE.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct MsgBoxReq {
    /// Omitted: TITLE/STYLE/TIMEOUT for the fields that are non-default (RESPONSE is never implied).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<MsgBoxFlags>,
    pub request_id: u32,
    pub style: u32,
    pub timeout: u32,
    pub title: String,
    pub text: String,
}

impl MsgBoxReq {
    pub fn flags(&self) -> MsgBoxFlags {
        self.msg_flags.unwrap_or_else(|| {
            let mut f = MsgBoxFlags::empty();
            if !self.title.is_empty() {
                f |= MsgBoxFlags::TITLE;
            }
            if self.style != 0 {
                f |= MsgBoxFlags::STYLE;
            }
            if self.timeout != 0 {
                f |= MsgBoxFlags::TIMEOUT;
            }
            f
        })
    }
}

impl Body for MsgBoxReq {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        let msg_flags = MsgBoxFlags(flags);
        let request_id = r.u32_le("requestId")?;
        let style = r.u32_le("style")?;
        let timeout = r.u32_le("timeout")?;
        let (title, text) = if l.profile.is_text_10() {
            let text = read_varstr(r, "text", l)?;
            let title = if msg_flags.contains(MsgBoxFlags::TITLE) {
                read_varstr(r, "title", l)?
            } else {
                String::new()
            };
            (title, text)
        } else if l.msgbox_title_first {
            let title = read_varstr(r, "title", l)?;
            (title, read_varstr(r, "text", l)?)
        } else {
            let text = read_varstr(r, "text", l)?;
            (read_varstr(r, "title", l)?, text)
        };
        Ok(MsgBoxReq {
            msg_flags: Some(msg_flags),
            request_id,
            style,
            timeout,
            title,
            text,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        let flags = self.flags();
        let l = cx.layout;
        out.put_u32_le(self.request_id);
        out.put_u32_le(self.style);
        out.put_u32_le(self.timeout);
        if l.profile.is_text_10() {
            write_varstr(out, &self.text, "text", l)?;
            if flags.contains(MsgBoxFlags::TITLE) {
                write_varstr(out, &self.title, "title", l)?;
            }
        } else if l.msgbox_title_first {
            write_varstr(out, &self.title, "title", l)?;
            write_varstr(out, &self.text, "text", l)?;
        } else {
            write_varstr(out, &self.text, "text", l)?;
            write_varstr(out, &self.title, "title", l)?;
        }
        Ok(flags.0)
    }
}

/// NOW_SESSION_MSGBOX_RSP_MSG (0x12/0x04): requestId, response, status. The 1.0 text has no
/// `response` (the status code carried it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct MsgBoxRsp {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<crate::flags::MsgFlags>,
    pub request_id: u32,
    /// "If `status` specifies error, this field should be set to `0`." Absent in `now-1.0-text`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<u32>,
    pub status: Status,
}

impl Body for MsgBoxRsp {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        let request_id = r.u32_le("requestId")?;
        let response = if l.profile.is_text_10() {
            None
        } else {
            Some(r.u32_le("response")?)
        };
        let status = r.scope("status", |r| Status::read(r, l))?;
        Ok(MsgBoxRsp {
            msg_flags: Some(crate::flags::MsgFlags(flags)),
            request_id,
            response,
            status,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        out.put_u32_le(self.request_id);
        if cx.layout.profile.is_text_10() {
            if self.response.is_some() {
                return Err(EncodeError::new(
                    "response",
                    "now-1.0-text has no response field (use status.code)",
                ));
            }
        } else {
            out.put_u32_le(self.response.unwrap_or(0));
        }
        self.status.write(out, cx.layout)?;
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}

/// NOW_SESSION_SET_KBD_LAYOUT_MSG (0x12/0x05): kbdLayoutId NOW_VARSTR. NEXT and PREV "conflict";
/// a message with both is decoded as sent (scenarios judge it), now-proto-pdu rejects it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct SetKbdLayout {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<KbdLayoutFlags>,
    pub kbd_layout_id: String,
}

impl Body for SetKbdLayout {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        Ok(SetKbdLayout {
            msg_flags: Some(KbdLayoutFlags(flags)),
            kbd_layout_id: read_varstr(r, "kbdLayoutId", l)?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        write_varstr(out, &self.kbd_layout_id, "kbdLayoutId", cx.layout)?;
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}

/// NOW_SESSION_WINDOW_REC_START_MSG (0x12/0x06, 1.5; ERRATA NOW-10): pollInterval u32 (ms).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct WindowRecStart {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<WindowRecStartFlags>,
    pub poll_interval: u32,
}

impl Body for WindowRecStart {
    fn decode(r: &mut Reader<'_>, flags: u16, _l: &Layout) -> Result<Self, DecodeError> {
        Ok(WindowRecStart {
            msg_flags: Some(WindowRecStartFlags(flags)),
            poll_interval: r.u32_le("pollInterval")?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, _cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        out.put_u32_le(self.poll_interval);
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}

/// NOW_SESSION_WINDOW_REC_EVENT_MSG (0x12/0x08, 1.5; ERRATA NOW-10): timestamp u64, processId u32,
/// title NOW_VARSTR, executablePath NOW_VARSTR; the flags say which event it is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct WindowRecEvent {
    /// Omitted: ACTIVE_WINDOW with a process or path, else TITLE_CHANGED with a title, else
    /// NO_ACTIVE_WINDOW.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<WindowRecEventFlags>,
    pub timestamp: u64,
    pub process_id: u32,
    pub title: String,
    pub executable_path: String,
}

impl Body for WindowRecEvent {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        Ok(WindowRecEvent {
            msg_flags: Some(WindowRecEventFlags(flags)),
            timestamp: r.u64_le("timestamp")?,
            process_id: r.u32_le("processId")?,
            title: read_varstr(r, "title", l)?,
            executable_path: read_varstr(r, "executablePath", l)?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        let flags = self
            .msg_flags
            .unwrap_or(if self.process_id != 0 || !self.executable_path.is_empty() {
                WindowRecEventFlags::ACTIVE_WINDOW
            } else if !self.title.is_empty() {
                WindowRecEventFlags::TITLE_CHANGED
            } else {
                WindowRecEventFlags::NO_ACTIVE_WINDOW
            });
        out.put_u64_le(self.timestamp);
        out.put_u32_le(self.process_id);
        write_varstr(out, &self.title, "title", cx.layout)?;
        write_varstr(out, &self.executable_path, "executablePath", cx.layout)?;
        Ok(flags.0)
    }
}
