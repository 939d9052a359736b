//! Encoding for the peers: the codec's encoder, plus the byte-level deviations some misbehaviours
//! need (they change the layout, which the structured form cannot express on purpose).

use peercheck_now::flags::{DataFlags, ExecCaps, SessionCaps, SystemCaps};
use peercheck_now::msg::{ExecResult, ExecSessionId};
use peercheck_now::{encode_message, EncodeCx, Layout, NowMessage, Profile, Status};
use peercheck_wire::Role;
use std::collections::BTreeMap;

use super::Misbehave;
use crate::peer::Output;

/// Session parameters a peer passes on to its layout.
pub(crate) fn layout_for(profile: Option<&str>, params: &BTreeMap<String, String>) -> Result<Layout, String> {
    let profile = match profile {
        Some(p) => Profile::parse(p)?,
        None => Profile::Now16,
    };
    let mut layout = Layout::new(profile);
    for (k, v) in params {
        layout.apply_param(k, v)?;
    }
    Ok(layout)
}

#[derive(Debug, Clone)]
pub(crate) struct Encoder {
    pub layout: Layout,
    pub role: Role,
    pub misbehave: Option<Misbehave>,
    /// Sessions that already sent their first DATA (for the 1.0 FIRST flag).
    first_sent: std::collections::BTreeSet<u32>,
}

impl Encoder {
    pub fn new(layout: Layout, role: Role, misbehave: Option<Misbehave>) -> Self {
        Encoder {
            layout,
            role,
            misbehave,
            first_sent: Default::default(),
        }
    }

    pub fn encode(&mut self, msg: &NowMessage) -> Result<Vec<u8>, String> {
        let mut layout = self.layout;
        if self.misbehave == Some(Misbehave::VarstrNoNul) {
            layout.varstr_nul = false;
        }
        let mut msg = msg.clone();
        let want_10 = self.misbehave == Some(Misbehave::DataFlags10Layout) || layout.profile.is_text_10();
        if let (true, NowMessage::ExecData(d)) = (want_10, &mut msg) {
            // Shipped → 1.0 text values (ERRATA NOW-1, NOW-3), plus FIRST on a session's first chunk.
            let first = self.first_sent.insert(d.session_id);
            let default = if self.role == Role::Client {
                DataFlags::STDIN
            } else {
                DataFlags::STDOUT
            };
            d.msg_flags = Some(data_flags_to_10(d.msg_flags.unwrap_or(default), first));
        }
        let mut bytes = encode_message(
            &msg,
            &EncodeCx {
                layout: &layout,
                role: self.role,
            },
        )
        .map_err(|e| e.to_string())?;
        if let (Some(Misbehave::ExitCodeMissing), NowMessage::ExecResult(_)) = (self.misbehave, &msg) {
            // Drop exitCode (bytes 12..16: after the header and sessionId) and shrink msgSize.
            if bytes.len() >= 16 {
                bytes.drain(12..16);
                set_msg_size(&mut bytes, -4);
            }
        }
        if self.misbehave == Some(Misbehave::MsgSizeCountsHeader) {
            set_msg_size(&mut bytes, 8);
        }
        Ok(bytes)
    }

    /// `Output::Send` for a message, or a log line when it cannot be encoded.
    pub fn send(&mut self, msg: &NowMessage) -> Output {
        match self.encode(msg) {
            Ok(bytes) => Output::Send {
                label: msg.name().to_owned(),
                bytes,
            },
            Err(e) => Output::Log(format!("cannot encode {}: {e}", msg.name())),
        }
    }
}

/// Add `delta` to the msgSize field of an encoded message.
fn set_msg_size(bytes: &mut [u8], delta: i64) {
    if let Some(field) = bytes.get_mut(..4) {
        let mut b = [0u8; 4];
        b.copy_from_slice(field);
        let v = i64::from(u32::from_le_bytes(b)) + delta;
        let v = u32::try_from(v.max(0)).unwrap_or(u32::MAX);
        field.copy_from_slice(&v.to_le_bytes());
    }
}

/// The capabilities a peer offers by default in a profile (what that version defines).
pub(crate) fn default_caps(profile: Profile) -> (SystemCaps, SessionCaps, ExecCaps) {
    match profile {
        Profile::Now16 => (SystemCaps::SHUTDOWN, SessionCaps(0x1F), ExecCaps(0x107F)),
        Profile::Now13 => (SystemCaps::SHUTDOWN, SessionCaps(0x0F), ExecCaps(0x103F)),
        Profile::Now10Text => (SystemCaps::SHUTDOWN, SessionCaps(0x07), ExecCaps(0x3F)),
    }
}

/// RESULT in the profile's layout: the 1.0 text has no exitCode, "`status.code` contains process
/// exit code on success".
pub(crate) fn result_msg(
    profile: Profile,
    session_id: u32,
    exit_code: u32,
    mut status: Status,
) -> NowMessage {
    let exit_code = if profile.is_text_10() {
        if !status.is_error() {
            status.code = exit_code;
        }
        None
    } else {
        Some(exit_code)
    };
    NowMessage::ExecResult(ExecResult {
        msg_flags: None,
        session_id,
        exit_code,
        status,
    })
}

/// The exit code a RESULT carries, in either layout.
pub(crate) fn result_exit_code(profile: Profile, r: &ExecResult) -> Option<u32> {
    match r.exit_code {
        Some(c) => Some(c),
        None if profile.is_text_10() && !r.status.is_error() => Some(r.status.code),
        None => None,
    }
}

/// "The session started": EXEC_STARTED (1.3+); the 1.0 text sends EXEC_HEARTBEAT "immediately after
/// execution session has started".
pub(crate) fn started_msg(profile: Profile, session_id: u32) -> NowMessage {
    let body = ExecSessionId {
        msg_flags: None,
        session_id,
    };
    if profile.is_text_10() {
        NowMessage::ExecHeartbeat(body)
    } else {
        NowMessage::ExecStarted(body)
    }
}

/// DATA flags in the 1.0 text's values: FIRST 1, LAST 2, STDIN 4, STDOUT 8, STDERR 0x10.
pub(crate) fn data_flags_to_10(f: DataFlags, first: bool) -> DataFlags {
    let pairs = [
        (DataFlags::LAST, 0x0002),
        (DataFlags::STDIN, 0x0004),
        (DataFlags::STDOUT, 0x0008),
        (DataFlags::STDERR, 0x0010),
    ];
    let mut old = if first { 0x0001 } else { 0 };
    for (new, v) in pairs {
        if f.contains(new) {
            old |= v;
        }
    }
    DataFlags(old)
}

/// DATA flags read in the 1.0 text's values, as the shipped constants (FIRST dropped).
pub(crate) fn data_flags_from_10(f: DataFlags) -> DataFlags {
    let pairs = [
        (0x0002, DataFlags::LAST),
        (0x0004, DataFlags::STDIN),
        (0x0008, DataFlags::STDOUT),
        (0x0010, DataFlags::STDERR),
    ];
    let mut out = DataFlags::empty();
    for (v, new) in pairs {
        if f.0 & v != 0 {
            out |= new;
        }
    }
    out
}
