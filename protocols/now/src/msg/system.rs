//! System messages (NOW-PROTO 1.3 "System Messages"). INFO_REQ/INFO_RSP (0x01/0x02) are listed but
//! never defined (ERRATA NOW-13): they decode as `unknown`.

use peercheck_wire::{DecodeError, EncodeError, Reader, WriteExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Body, EncodeCx};
use crate::flags::ShutdownFlags;
use crate::primitives::{read_varstr, write_varstr};
use crate::profile::Layout;

/// NOW_SYSTEM_SHUTDOWN_MSG (0x11/0x03): timeout u32 (seconds), message NOW_VARSTR.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct SystemShutdown {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<ShutdownFlags>,
    pub timeout: u32,
    pub message: String,
}

impl Body for SystemShutdown {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        Ok(SystemShutdown {
            msg_flags: Some(ShutdownFlags(flags)),
            timeout: r.u32_le("timeout")?,
            message: read_varstr(r, "message", l)?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        out.put_u32_le(self.timeout);
        write_varstr(out, &self.message, "message", cx.layout)?;
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}
