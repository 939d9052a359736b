//! NOW_STATUS (NOW-PROTO 1.3 "NOW_STATUS"), as shipped: `kind` and `reserved` read together as one
//! u16 (ERRATA NOW-7) — the same bytes as kind u8 + reserved u8 in little-endian, so `kind` here
//! holds the reserved byte in its high half and round-trips it.

use peercheck_wire::{DecodeError, EncodeError, Reader, WriteExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::flags::StatusFlags;
use crate::primitives::{read_varstr, write_varstr};
use crate::profile::Layout;

/// NOW_STATUS_ERROR_KIND_* values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusKind;

impl StatusKind {
    /// "`code` value is undefined and could be ignored."
    pub const GENERIC: u16 = 0x0000;
    /// "`code` contains NowProto-defined error code."
    pub const NOW: u16 = 0x0001;
    pub const WINAPI: u16 = 0x0002;
    pub const UNIX: u16 = 0x0003;
}

/// NOW_CODE_* values (for `kind` = NOW).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NowCode;

impl NowCode {
    pub const IN_USE: u32 = 0x0001;
    pub const INVALID_REQUEST: u32 = 0x0002;
    pub const ABORTED: u32 = 0x0003;
    pub const NOT_FOUND: u32 = 0x0004;
    pub const ACCESS_DENIED: u32 = 0x0005;
    pub const INTERNAL: u32 = 0x0006;
    pub const NOT_IMPLEMENTED: u32 = 0x0007;
    /// 1.3+: "Incompatible protocol versions."
    pub const PROTOCOL_VERSION: u32 = 0x0008;
}

/// A NOW_STATUS in structured form.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Status {
    /// NOW_STATUS_ERROR 0x1, NOW_STATUS_ERROR_MESSAGE 0x2.
    pub flags: StatusFlags,
    /// Error kind (low byte) and the reserved byte (high byte), ERRATA NOW-7.
    pub kind: u16,
    pub code: u32,
    /// Always on the wire in 1.3+ ("empty string if the flag is not set"); in `now-1.0-text` only
    /// when NOW_EXEC_RESULT_ERROR_MESSAGE is set.
    pub error_message: String,
}

impl Status {
    pub fn success() -> Self {
        Status::default()
    }

    /// An error of kind NOW with a NOW_CODE_* code.
    pub fn now_error(code: u32) -> Self {
        Status {
            flags: StatusFlags::ERROR,
            kind: StatusKind::NOW,
            code,
            error_message: String::new(),
        }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.error_message = message.into();
        self.flags |= StatusFlags::ERROR_MESSAGE;
        self
    }

    pub fn is_error(&self) -> bool {
        self.flags.contains(StatusFlags::ERROR)
    }

    pub(crate) fn read(r: &mut Reader<'_>, layout: &Layout) -> Result<Self, DecodeError> {
        let flags = StatusFlags(r.u16_le("flags")?);
        let kind = r.u16_le("kind")?;
        let code = r.u32_le("code")?;
        let has_message = !layout.profile.is_text_10() || flags.contains(StatusFlags::ERROR_MESSAGE);
        let error_message = if has_message {
            read_varstr(r, "errorMessage", layout)?
        } else {
            String::new()
        };
        Ok(Status {
            flags,
            kind,
            code,
            error_message,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>, layout: &Layout) -> Result<(), EncodeError> {
        out.put_u16_le(self.flags.0);
        out.put_u16_le(self.kind);
        out.put_u32_le(self.code);
        if !layout.profile.is_text_10() || self.flags.contains(StatusFlags::ERROR_MESSAGE) {
            write_varstr(out, &self.error_message, "status.errorMessage", layout)?;
        } else if !self.error_message.is_empty() {
            return Err(EncodeError::new(
                "status.errorMessage",
                "now-1.0-text carries errorMessage only with the error-message flag",
            ));
        }
        Ok(())
    }
}
