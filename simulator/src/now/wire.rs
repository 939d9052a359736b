//! Encoding for the peers: the codec's encoder, plus the byte-level deviations some misbehaviours
//! need (they change the layout, which the structured form cannot express on purpose).

use peercheck_now::flags::DataFlags;
use peercheck_now::{encode_message, EncodeCx, Layout, NowMessage, Profile};
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
        if let (Some(Misbehave::DataFlags10Layout), NowMessage::ExecData(d)) = (self.misbehave, &mut msg) {
            // Shipped → 1.0 text values (ERRATA NOW-3): LAST 1→2, STDOUT 4→8, STDERR 8→0x10, plus FIRST.
            let f = d.msg_flags.unwrap_or(DataFlags::STDOUT);
            let mut old = 0u16;
            if f.contains(DataFlags::LAST) {
                old |= 0x0002;
            }
            if f.contains(DataFlags::STDIN) {
                old |= 0x0004;
            }
            if f.contains(DataFlags::STDOUT) {
                old |= 0x0008;
            }
            if f.contains(DataFlags::STDERR) {
                old |= 0x0010;
            }
            if self.first_sent.insert(d.session_id) {
                old |= 0x0001;
            }
            d.msg_flags = Some(DataFlags(old));
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
