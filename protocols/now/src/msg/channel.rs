//! Channel messages (NOW-PROTO 1.3 "Channel Messages"; 1.0 "Negotiation Messages").

use peercheck_wire::{DecodeError, EncodeError, Reader, WriteExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{narrow_u16, narrow_u8, Body, EncodeCx};
use crate::flags::{CapsetFlags, ExecCaps, MsgFlags, SessionCaps, SystemCaps};
use crate::profile::Layout;
use crate::status::Status;

/// NOW_CHANNEL_CAPSET_MSG (0x10/0x01). "This message is first set by the client side, to advertise
/// capabilities. Received client message should be downgraded by the server (remove non-intersecting
/// capabilities) and sent back to the client." Shipped layout: always 14 bytes (ERRATA NOW-2);
/// `now-1.0-text`: 1-byte versions, 4-byte capsets, heartbeatInterval only with the flag (ERRATA NOW-1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ChannelCapset {
    /// Omitted: NOW_CHANNEL_SET_HEARTBEAT when `heartbeatInterval` is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<CapsetFlags>,
    /// Omitted: the profile's version (1.6, 1.3 or 1.0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_major: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_minor: Option<u16>,
    pub system_capset: SystemCaps,
    pub session_capset: SessionCaps,
    pub exec_capset: ExecCaps,
    /// Seconds; "Ignored if NOW_CHANNEL_SET_HEARTBEAT is not set" (but always on the wire since 1.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_interval: Option<u32>,
}

impl ChannelCapset {
    /// The heartbeat interval in force: the value when the flag is set.
    pub fn effective_heartbeat(&self) -> Option<u32> {
        let flags = self.msg_flags.unwrap_or(if self.heartbeat_interval.is_some() {
            CapsetFlags::SET_HEARTBEAT
        } else {
            CapsetFlags::empty()
        });
        if flags.contains(CapsetFlags::SET_HEARTBEAT) {
            self.heartbeat_interval
        } else {
            None
        }
    }
}

impl Body for ChannelCapset {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        let msg_flags = CapsetFlags(flags);
        if l.profile.is_text_10() {
            let version_major = u16::from(r.u8("versionMajor")?);
            let version_minor = u16::from(r.u8("versionMinor")?);
            let system_capset = SystemCaps(r.u32_le("systemCapset")?);
            let session_capset = SessionCaps(r.u32_le("sessionCapset")?);
            let exec_capset = ExecCaps(r.u32_le("execCapset")?);
            // 1.0 text: "NOW_NEGOTIATION_SET_HEATBEAT 0x0001: heartbeat field is present."
            let heartbeat_interval = if msg_flags.contains(CapsetFlags::SET_HEARTBEAT) {
                Some(r.u32_le("heartbeatInterval")?)
            } else {
                None
            };
            return Ok(ChannelCapset {
                msg_flags: Some(msg_flags),
                version_major: Some(version_major),
                version_minor: Some(version_minor),
                system_capset,
                session_capset,
                exec_capset,
                heartbeat_interval,
            });
        }
        Ok(ChannelCapset {
            msg_flags: Some(msg_flags),
            version_major: Some(r.u16_le("versionMajor")?),
            version_minor: Some(r.u16_le("versionMinor")?),
            system_capset: SystemCaps(u32::from(r.u16_le("systemCapset")?)),
            session_capset: SessionCaps(u32::from(r.u16_le("sessionCapset")?)),
            exec_capset: ExecCaps(u32::from(r.u16_le("execCapset")?)),
            heartbeat_interval: Some(r.u32_le("heartbeatInterval")?),
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        let flags = self.msg_flags.unwrap_or(if self.heartbeat_interval.is_some() {
            CapsetFlags::SET_HEARTBEAT
        } else {
            CapsetFlags::empty()
        });
        let (dmaj, dmin) = cx.layout.profile.version();
        let major = self.version_major.unwrap_or(dmaj);
        let minor = self.version_minor.unwrap_or(dmin);
        if cx.layout.profile.is_text_10() {
            out.put_u8(narrow_u8(u32::from(major), "versionMajor")?);
            out.put_u8(narrow_u8(u32::from(minor), "versionMinor")?);
            out.put_u32_le(self.system_capset.0);
            out.put_u32_le(self.session_capset.0);
            out.put_u32_le(self.exec_capset.0);
            if flags.contains(CapsetFlags::SET_HEARTBEAT) {
                out.put_u32_le(self.heartbeat_interval.unwrap_or(60));
            }
        } else {
            out.put_u16_le(major);
            out.put_u16_le(minor);
            out.put_u16_le(narrow_u16(self.system_capset.0, "systemCapset")?);
            out.put_u16_le(narrow_u16(self.session_capset.0, "sessionCapset")?);
            out.put_u16_le(narrow_u16(self.exec_capset.0, "execCapset")?);
            out.put_u32_le(self.heartbeat_interval.unwrap_or(0));
        }
        Ok(flags.0)
    }
}

/// A message whose body is empty: NOW_CHANNEL_HEARTBEAT_MSG, NOW_SESSION_LOCK_MSG,
/// NOW_SESSION_LOGOFF_MSG, NOW_SESSION_WINDOW_REC_STOP_MSG.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Empty {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<MsgFlags>,
}

impl Body for Empty {
    fn decode(_r: &mut Reader<'_>, flags: u16, _l: &Layout) -> Result<Self, DecodeError> {
        Ok(Empty {
            msg_flags: Some(MsgFlags(flags)),
        })
    }

    fn encode(&self, _out: &mut Vec<u8>, _cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}

/// NOW_CHANNEL_CLOSE_MSG (0x10/0x03): "could be sent by either parties at any moment of
/// communication to gracefully close DVC channel"; body = NOW_STATUS.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ChannelClose {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<MsgFlags>,
    pub status: Status,
}

impl Body for ChannelClose {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        let status = r.scope("status", |r| Status::read(r, l))?;
        Ok(ChannelClose {
            msg_flags: Some(MsgFlags(flags)),
            status,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        self.status.write(out, cx.layout)?;
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}
