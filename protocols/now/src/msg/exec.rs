//! Execution messages (NOW-PROTO 1.3 "Execution Messages"; 1.4 DETACHED and 1.6 encoding flags,
//! ERRATA NOW-10). Requests go client → server; STARTED, RESULT, CANCEL_RSP server → client; DATA
//! both ways.

use peercheck_wire::{DecodeError, EncodeError, Reader, Role, WriteExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Body, EncodeCx};
use crate::flags::{BatchFlags, DataFlags, MsgFlags, ProcessFlags, PsFlags, RunFlags, ShellFlags};
use crate::primitives::{read_varbuf, read_varstr, write_varbuf, write_varstr, HexBytes};
use crate::profile::Layout;
use crate::status::Status;

/// A message whose body is a session id: NOW_EXEC_CANCEL_REQ_MSG, NOW_EXEC_STARTED_MSG and the 1.0
/// text's NOW_EXEC_HEARTBEAT_MSG.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecSessionId {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<MsgFlags>,
    pub session_id: u32,
}

impl Body for ExecSessionId {
    fn decode(r: &mut Reader<'_>, flags: u16, _l: &Layout) -> Result<Self, DecodeError> {
        Ok(ExecSessionId {
            msg_flags: Some(MsgFlags(flags)),
            session_id: r.u32_le("sessionId")?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, _cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        out.put_u32_le(self.session_id);
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}

/// NOW_EXEC_ABORT_MSG (0x13/0x01): sessionId, exitCode. "The session is considered aborted as soon
/// as this message is sent."
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecAbort {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<MsgFlags>,
    pub session_id: u32,
    pub exit_code: u32,
}

impl Body for ExecAbort {
    fn decode(r: &mut Reader<'_>, flags: u16, _l: &Layout) -> Result<Self, DecodeError> {
        Ok(ExecAbort {
            msg_flags: Some(MsgFlags(flags)),
            session_id: r.u32_le("sessionId")?,
            exit_code: r.u32_le("exitCode")?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, _cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        out.put_u32_le(self.session_id);
        out.put_u32_le(self.exit_code);
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}

/// NOW_EXEC_CANCEL_RSP_MSG (0x13/0x03): sessionId, status (variable, not "4 bytes": ERRATA NOW-13).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecCancelRsp {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<MsgFlags>,
    pub session_id: u32,
    pub status: Status,
}

impl Body for ExecCancelRsp {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        let session_id = r.u32_le("sessionId")?;
        let status = r.scope("status", |r| Status::read(r, l))?;
        Ok(ExecCancelRsp {
            msg_flags: Some(MsgFlags(flags)),
            session_id,
            status,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        out.put_u32_le(self.session_id);
        self.status.write(out, cx.layout)?;
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}

/// NOW_EXEC_RESULT_MSG (0x13/0x04): sessionId, exitCode (since the CHANNEL rename, ERRATA NOW-8),
/// status. "The session is considered terminated as soon as this message is sent." The 1.0 text
/// has no exitCode (`status.code` held it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<MsgFlags>,
    pub session_id: u32,
    /// "either process exit code or `0` value if `status` field specifies error". Absent in
    /// `now-1.0-text`; omitted on encode = 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<u32>,
    pub status: Status,
}

impl Body for ExecResult {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        let session_id = r.u32_le("sessionId")?;
        let exit_code = if l.profile.is_text_10() {
            None
        } else {
            Some(r.u32_le("exitCode")?)
        };
        let status = r.scope("status", |r| Status::read(r, l))?;
        Ok(ExecResult {
            msg_flags: Some(MsgFlags(flags)),
            session_id,
            exit_code,
            status,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        out.put_u32_le(self.session_id);
        if cx.layout.profile.is_text_10() {
            if self.exit_code.is_some() {
                return Err(EncodeError::new(
                    "exitCode",
                    "now-1.0-text has no exitCode (use status.code)",
                ));
            }
        } else {
            out.put_u32_le(self.exit_code.unwrap_or(0));
        }
        self.status.write(out, cx.layout)?;
        Ok(self.msg_flags.unwrap_or_default().0)
    }
}

/// NOW_EXEC_DATA_MSG (0x13/0x05): sessionId, data NOW_VARBUF. "Message should contain exactly one
/// of STDIN, STDOUT or STDERR"; flags as shipped (ERRATA NOW-3), numbers in `now-1.0-text`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecData {
    /// Omitted: STDIN when the client sends, STDOUT when the server sends (in the profile's values).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<DataFlags>,
    pub session_id: u32,
    pub data: HexBytes,
}

impl Body for ExecData {
    fn decode(r: &mut Reader<'_>, flags: u16, _l: &Layout) -> Result<Self, DecodeError> {
        Ok(ExecData {
            msg_flags: Some(DataFlags(flags)),
            session_id: r.u32_le("sessionId")?,
            data: HexBytes(read_varbuf(r, "data")?),
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        out.put_u32_le(self.session_id);
        write_varbuf(out, &self.data.0, "data")?;
        // The 1.0 text's STDIN/STDOUT are 0x4/0x8 (ERRATA NOW-1, NOW-3).
        let default = match (cx.role, cx.layout.profile.is_text_10()) {
            (Role::Client, false) => DataFlags::STDIN,
            (Role::Server, false) => DataFlags::STDOUT,
            (Role::Client, true) => DataFlags(0x0004),
            (Role::Server, true) => DataFlags(0x0008),
        };
        Ok(self.msg_flags.unwrap_or(default).0)
    }
}

/// NOW_EXEC_RUN_MSG (0x13/0x10): sessionId, command, directory (1.1+). Shipped decoders take the
/// directory as set when non-empty and ignore the flag (ERRATA NOW-9); a body that ends after the
/// command (pre-1.1 layout) decodes with no `directory`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecRun {
    /// Omitted: DIRECTORY_SET when `directory` is non-empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<RunFlags>,
    pub session_id: u32,
    pub command: String,
    /// Absent from the wire in the 1.0 layout; omitted on encode = empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
}

impl Body for ExecRun {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        let session_id = r.u32_le("sessionId")?;
        let command = read_varstr(r, "command", l)?;
        let directory = if l.profile.is_text_10() || r.is_empty() {
            None
        } else {
            Some(read_varstr(r, "directory", l)?)
        };
        Ok(ExecRun {
            msg_flags: Some(RunFlags(flags)),
            session_id,
            command,
            directory,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        let dir = self.directory.as_deref().unwrap_or("");
        out.put_u32_le(self.session_id);
        write_varstr(out, &self.command, "command", cx.layout)?;
        if cx.layout.profile.is_text_10() {
            if !dir.is_empty() {
                return Err(EncodeError::new("directory", "now-1.0-text RUN has no directory"));
            }
        } else {
            write_varstr(out, dir, "directory", cx.layout)?;
        }
        let computed = if dir.is_empty() {
            RunFlags::empty()
        } else {
            RunFlags::DIRECTORY_SET
        };
        Ok(self.msg_flags.unwrap_or(computed).0)
    }
}

/// Read an optional string: always present in shipped layouts, only with its flag in the 1.0 text.
fn read_opt(r: &mut Reader<'_>, field: &str, l: &Layout, flagged: bool) -> Result<String, DecodeError> {
    if !l.profile.is_text_10() || flagged {
        read_varstr(r, field, l)
    } else {
        Ok(String::new())
    }
}

fn write_opt(
    out: &mut Vec<u8>,
    s: &str,
    field: &'static str,
    cx: &EncodeCx<'_>,
    flagged: bool,
) -> Result<(), EncodeError> {
    if !cx.layout.profile.is_text_10() || flagged {
        write_varstr(out, s, field, cx.layout)
    } else if s.is_empty() {
        Ok(())
    } else {
        Err(EncodeError::new(
            field,
            "now-1.0-text carries this field only when its flag is set",
        ))
    }
}

/// NOW_EXEC_PROCESS_MSG (0x13/0x11): sessionId, filename, parameters, directory (CreateProcess).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecProcess {
    /// Omitted: PARAMETERS_SET / DIRECTORY_SET for the non-empty fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<ProcessFlags>,
    pub session_id: u32,
    pub filename: String,
    pub parameters: String,
    pub directory: String,
}

impl ExecProcess {
    pub fn flags(&self) -> ProcessFlags {
        self.msg_flags.unwrap_or_else(|| {
            let mut f = ProcessFlags::empty();
            if !self.parameters.is_empty() {
                f |= ProcessFlags::PARAMETERS_SET;
            }
            if !self.directory.is_empty() {
                f |= ProcessFlags::DIRECTORY_SET;
            }
            f
        })
    }
}

impl Body for ExecProcess {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        let f = ProcessFlags(flags);
        let session_id = r.u32_le("sessionId")?;
        let filename = read_varstr(r, "filename", l)?;
        let parameters = read_opt(r, "parameters", l, f.contains(ProcessFlags::PARAMETERS_SET))?;
        let directory = read_opt(r, "directory", l, f.contains(ProcessFlags::DIRECTORY_SET))?;
        Ok(ExecProcess {
            msg_flags: Some(f),
            session_id,
            filename,
            parameters,
            directory,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        let f = self.flags();
        out.put_u32_le(self.session_id);
        write_varstr(out, &self.filename, "filename", cx.layout)?;
        write_opt(
            out,
            &self.parameters,
            "parameters",
            cx,
            f.contains(ProcessFlags::PARAMETERS_SET),
        )?;
        write_opt(
            out,
            &self.directory,
            "directory",
            cx,
            f.contains(ProcessFlags::DIRECTORY_SET),
        )?;
        Ok(f.0)
    }
}

/// NOW_EXEC_SHELL_MSG (0x13/0x12): sessionId, command, shell, directory.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecShell {
    /// Omitted: SHELL_SET / DIRECTORY_SET for the non-empty fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<ShellFlags>,
    pub session_id: u32,
    pub command: String,
    pub shell: String,
    pub directory: String,
}

impl ExecShell {
    pub fn flags(&self) -> ShellFlags {
        self.msg_flags.unwrap_or_else(|| {
            let mut f = ShellFlags::empty();
            if !self.shell.is_empty() {
                f |= ShellFlags::SHELL_SET;
            }
            if !self.directory.is_empty() {
                f |= ShellFlags::DIRECTORY_SET;
            }
            f
        })
    }
}

impl Body for ExecShell {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        let f = ShellFlags(flags);
        let session_id = r.u32_le("sessionId")?;
        let command = read_varstr(r, "command", l)?;
        let shell = read_opt(r, "shell", l, f.contains(ShellFlags::SHELL_SET))?;
        let directory = read_opt(r, "directory", l, f.contains(ShellFlags::DIRECTORY_SET))?;
        Ok(ExecShell {
            msg_flags: Some(f),
            session_id,
            command,
            shell,
            directory,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        let f = self.flags();
        out.put_u32_le(self.session_id);
        write_varstr(out, &self.command, "command", cx.layout)?;
        write_opt(out, &self.shell, "shell", cx, f.contains(ShellFlags::SHELL_SET))?;
        write_opt(
            out,
            &self.directory,
            "directory",
            cx,
            f.contains(ShellFlags::DIRECTORY_SET),
        )?;
        Ok(f.0)
    }
}

/// The 1.0 text's NOW_EXEC_FLAG_BATCH_DIRECTORY_SET (1.3 moved it to 0x0001).
const BATCH_DIRECTORY_SET_10: u16 = 0x0002;

/// NOW_EXEC_BATCH_MSG (0x13/0x13): sessionId, command, directory.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecBatch {
    /// Omitted: DIRECTORY_SET when `directory` is non-empty (0x0002 in `now-1.0-text`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<BatchFlags>,
    pub session_id: u32,
    pub command: String,
    pub directory: String,
}

impl Body for ExecBatch {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        let session_id = r.u32_le("sessionId")?;
        let command = read_varstr(r, "command", l)?;
        let directory = read_opt(r, "directory", l, flags & BATCH_DIRECTORY_SET_10 != 0)?;
        Ok(ExecBatch {
            msg_flags: Some(BatchFlags(flags)),
            session_id,
            command,
            directory,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        let dir_flag = if cx.layout.profile.is_text_10() {
            BATCH_DIRECTORY_SET_10
        } else {
            BatchFlags::DIRECTORY_SET.0
        };
        let flags = self
            .msg_flags
            .map(|f| f.0)
            .unwrap_or(if self.directory.is_empty() { 0 } else { dir_flag });
        out.put_u32_le(self.session_id);
        write_varstr(out, &self.command, "command", cx.layout)?;
        write_opt(
            out,
            &self.directory,
            "directory",
            cx,
            flags & BATCH_DIRECTORY_SET_10 != 0,
        )?;
        Ok(flags)
    }
}

/// NOW_EXEC_WINPS_MSG (0x13/0x14) and NOW_EXEC_PWSH_MSG (0x13/0x15): sessionId, command, directory,
/// executionPolicy, configurationName (the 1.0 text has no directory, and the last two only with
/// their flags).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecPowerShell {
    /// Omitted: DIRECTORY_SET / EXECUTION_POLICY / CONFIGURATION_NAME for the non-empty fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_flags: Option<PsFlags>,
    pub session_id: u32,
    pub command: String,
    pub directory: String,
    pub execution_policy: String,
    pub configuration_name: String,
}

impl ExecPowerShell {
    pub fn flags(&self) -> PsFlags {
        self.msg_flags.unwrap_or_else(|| {
            let mut f = PsFlags::empty();
            if !self.directory.is_empty() {
                f |= PsFlags::DIRECTORY_SET;
            }
            if !self.execution_policy.is_empty() {
                f |= PsFlags::EXECUTION_POLICY;
            }
            if !self.configuration_name.is_empty() {
                f |= PsFlags::CONFIGURATION_NAME;
            }
            f
        })
    }
}

impl Body for ExecPowerShell {
    fn decode(r: &mut Reader<'_>, flags: u16, l: &Layout) -> Result<Self, DecodeError> {
        let f = PsFlags(flags);
        let session_id = r.u32_le("sessionId")?;
        let command = read_varstr(r, "command", l)?;
        let directory = if l.profile.is_text_10() {
            String::new()
        } else {
            read_varstr(r, "directory", l)?
        };
        let execution_policy = read_opt(r, "executionPolicy", l, f.contains(PsFlags::EXECUTION_POLICY))?;
        let configuration_name =
            read_opt(r, "configurationName", l, f.contains(PsFlags::CONFIGURATION_NAME))?;
        Ok(ExecPowerShell {
            msg_flags: Some(f),
            session_id,
            command,
            directory,
            execution_policy,
            configuration_name,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, cx: &EncodeCx<'_>) -> Result<u16, EncodeError> {
        let f = self.flags();
        out.put_u32_le(self.session_id);
        write_varstr(out, &self.command, "command", cx.layout)?;
        if cx.layout.profile.is_text_10() {
            if !self.directory.is_empty() {
                return Err(EncodeError::new(
                    "directory",
                    "now-1.0-text PowerShell messages have no directory",
                ));
            }
        } else {
            write_varstr(out, &self.directory, "directory", cx.layout)?;
        }
        write_opt(
            out,
            &self.execution_policy,
            "executionPolicy",
            cx,
            f.contains(PsFlags::EXECUTION_POLICY),
        )?;
        write_opt(
            out,
            &self.configuration_name,
            "configurationName",
            cx,
            f.contains(PsFlags::CONFIGURATION_NAME),
        )?;
        Ok(f.0)
    }
}
