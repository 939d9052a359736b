//! RDM messages (NOW-PROTO 1.3 "RDM Messages", the RDM Jump extension).

use peercheck_wire::{DecodeError, EncodeError, Guid, Reader, WriteExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Body, EncodeCx};
use crate::flags::{MsgFlags, RdmLaunchFlags, RdmSyncFlags};
use crate::primitives::{read_guid, read_varstr, write_guid, write_varstr};
use crate::profile::Layout;

/// NOW_RDM_APP_ACTION_*_ID, NOW_RDM_APP_STATE_*_ID, NOW_RDM_REASON_*_ID, NOW_RDM_SESSION_*_ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RdmCodes;

impl RdmCodes {
    pub const APP_ACTION_CLOSE: u32 = 1;
    pub const APP_ACTION_MINIMIZE: u32 = 2;
    pub const APP_ACTION_MAXIMIZE: u32 = 3;
    pub const APP_ACTION_RESTORE: u32 = 4;
    pub const APP_ACTION_FULLSCREEN: u32 = 5;
    pub const APP_STATE_READY: u32 = 1;
    pub const APP_STATE_FAILED: u32 = 2;
    pub const APP_STATE_CLOSED: u32 = 3;
    pub const APP_STATE_MINIMIZED: u32 = 4;
    pub const APP_STATE_MAXIMIZED: u32 = 5;
    pub const APP_STATE_RESTORED: u32 = 6;
    pub const APP_STATE_FULLSCREEN: u32 = 7;
    pub const REASON_NOT_SPECIFIED: u32 = 0;
    pub const REASON_USER_INITIATED: u32 = 1;
    pub const REASON_NOT_INSTALLED: u32 = 2;
    pub const REASON_STARTUP_FAILURE: u32 = 3;
    pub const REASON_LAUNCH_TIMEOUT: u32 = 4;
    pub const SESSION_ACTION_CLOSE: u32 = 1;
    pub const SESSION_ACTION_FOCUS: u32 = 2;
    pub const SESSION_NOTIFY_CLOSE: u32 = 1;
    pub const SESSION_NOTIFY_FOCUS: u32 = 2;
}

/// NOW_RDM_CAPABILITIES_MSG (0x14/0x01): timestamp i64 (Unix seconds), syncFlags u32, rdmVersion,
/// versionExtra. Sent by the client "expecting an immediate response back".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RdmCapabilities {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<MsgFlags>,
    pub timestamp: i64,
    pub sync_flags: RdmSyncFlags,
    pub rdm_version: String,
    pub version_extra: String,
}

impl Body for RdmCapabilities {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        Ok(RdmCapabilities {
            msg_flags: Some(MsgFlags(flags)),
            timestamp: r.i64_le("timestamp")?,
            sync_flags: RdmSyncFlags(r.u32_le("syncFlags")?),
            rdm_version: read_varstr(r, "rdmVersion", l)?,
            version_extra: read_varstr(r, "versionExtra", l)?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        out.put_i64_le(self.timestamp);
        out.put_u32_le(self.sync_flags.0);
        write_varstr(out, &self.rdm_version, "rdmVersion", cx.layout)?;
        write_varstr(out, &self.version_extra, "versionExtra", cx.layout)?;
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}

/// NOW_RDM_APP_START_MSG (0x14/0x02): launchFlags u32, timeout u32 (seconds; 45 recommended).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RdmAppStart {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<MsgFlags>,
    pub launch_flags: RdmLaunchFlags,
    pub timeout: u32,
}

impl Body for RdmAppStart {
    fn decode(r: &mut Reader<'_>, flags: u16, _l: &Layout) -> Result<Self, DecodeError> {
        Ok(RdmAppStart {
            msg_flags: Some(MsgFlags(flags)),
            launch_flags: RdmLaunchFlags(r.u32_le("launchFlags")?),
            timeout: r.u32_le("timeout")?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, _cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        out.put_u32_le(self.launch_flags.0);
        out.put_u32_le(self.timeout);
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}

/// NOW_RDM_APP_ACTION_MSG (0x14/0x03; the text's "APP_NOTIFY_MSG_ID" is a slip, ERRATA NOW-13):
/// appAction u32, actionData NOW_VARSTR.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RdmAppAction {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<MsgFlags>,
    pub app_action: u32,
    pub action_data: String,
}

impl Body for RdmAppAction {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        Ok(RdmAppAction {
            msg_flags: Some(MsgFlags(flags)),
            app_action: r.u32_le("appAction")?,
            action_data: read_varstr(r, "actionData", l)?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        out.put_u32_le(self.app_action);
        write_varstr(out, &self.action_data, "actionData", cx.layout)?;
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}

/// NOW_RDM_APP_NOTIFY_MSG (0x14/0x04): appState u32, reasonCode u32, notifyData NOW_VARSTR.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RdmAppNotify {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<MsgFlags>,
    pub app_state: u32,
    pub reason_code: u32,
    pub notify_data: String,
}

impl Body for RdmAppNotify {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        Ok(RdmAppNotify {
            msg_flags: Some(MsgFlags(flags)),
            app_state: r.u32_le("appState")?,
            reason_code: r.u32_le("reasonCode")?,
            notify_data: read_varstr(r, "notifyData", l)?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        out.put_u32_le(self.app_state);
        out.put_u32_le(self.reason_code);
        write_varstr(out, &self.notify_data, "notifyData", cx.layout)?;
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}

/// NOW_RDM_SESSION_START_MSG (0x14/0x05): sessionId NOW_GUID, connectionId NOW_GUID,
/// connectionData NOW_VARSTR.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RdmSessionStart {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<MsgFlags>,
    #[schemars(with = "String")]
    pub session_id: Guid,
    #[schemars(with = "String")]
    pub connection_id: Guid,
    pub connection_data: String,
}

impl Body for RdmSessionStart {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        Ok(RdmSessionStart {
            msg_flags: Some(MsgFlags(flags)),
            session_id: read_guid(r, "sessionId", l)?,
            connection_id: read_guid(r, "connectionId", l)?,
            connection_data: read_varstr(r, "connectionData", l)?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        write_guid(out, &self.session_id, "sessionId", cx.layout)?;
        write_guid(out, &self.connection_id, "connectionId", cx.layout)?;
        write_varstr(out, &self.connection_data, "connectionData", cx.layout)?;
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}

/// NOW_RDM_SESSION_ACTION_MSG (0x14/0x06): sessionAction u32, sessionId NOW_GUID.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RdmSessionAction {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<MsgFlags>,
    pub session_action: u32,
    #[schemars(with = "String")]
    pub session_id: Guid,
}

impl Body for RdmSessionAction {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        Ok(RdmSessionAction {
            msg_flags: Some(MsgFlags(flags)),
            session_action: r.u32_le("sessionAction")?,
            session_id: read_guid(r, "sessionId", l)?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        out.put_u32_le(self.session_action);
        write_guid(out, &self.session_id, "sessionId", cx.layout)?;
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}

/// NOW_RDM_SESSION_NOTIFY_MSG (0x14/0x07): sessionNotify u32, sessionId NOW_GUID, logData NOW_VARSTR.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RdmSessionNotify {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<MsgFlags>,
    pub session_notify: u32,
    #[schemars(with = "String")]
    pub session_id: Guid,
    pub log_data: String,
}

impl Body for RdmSessionNotify {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        Ok(RdmSessionNotify {
            msg_flags: Some(MsgFlags(flags)),
            session_notify: r.u32_le("sessionNotify")?,
            session_id: read_guid(r, "sessionId", l)?,
            log_data: read_varstr(r, "logData", l)?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        out.put_u32_le(self.session_notify);
        write_guid(out, &self.session_id, "sessionId", cx.layout)?;
        write_varstr(out, &self.log_data, "logData", cx.layout)?;
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}
