//! MS-PSRP (PowerShell Remoting Protocol) codec, sans-IO.
//!
//! Layers, bottom up: [`fragment`] and [`defragment`] (§2.2.4), [`header`] (§2.2.1), [`clixml`]
//! (§2.2.5), [`messages`] (typed bodies, §2.2.2), [`outofproc`] (PowerShell's stdin/stdout framing),
//! and [`session`], the `WireSession` the runner and simulator use.
//! Where shipped PowerShell differs from the spec text the ERRATA.md entry is cited.
#![forbid(unsafe_code)]

pub mod clixml;
pub mod defragment;
pub mod fragment;
pub mod header;
pub mod limits;
pub mod messages;
pub mod outofproc;
pub mod session;

pub use clixml::ClixmlValue;
pub use header::{Destination, Message, MessageType};

use peercheck_wire::session::{MessageInfo, ProtocolDef, Sender, SessionOptions, WireSession};
use std::sync::OnceLock;

/// Profiles, default first: the protocol version this side announces in SESSION_CAPABILITY.
/// ERRATA PSRP-5: 2.4 (PowerShell 7.6) drops the session-key exchange when both sides speak it.
pub const PROFILES: &[&str] = &["psrp-2.3", "psrp-2.0", "psrp-2.1", "psrp-2.2", "psrp-2.4"];

/// The protocol version of a profile (`None` = the default profile).
pub fn profile_version(profile: Option<&str>) -> Result<&'static str, String> {
    match profile.unwrap_or("psrp-2.3") {
        "psrp-2.0" => Ok("2.0"),
        "psrp-2.1" => Ok("2.1"),
        "psrp-2.2" => Ok("2.2"),
        "psrp-2.3" => Ok("2.3"),
        "psrp-2.4" => Ok("2.4"),
        other => Err(format!(
            "unknown psrp profile `{other}` (known: {})",
            PROFILES.join(", ")
        )),
    }
}

/// The PSRP protocol definition.
#[derive(Debug)]
pub struct Psrp;

static PSRP: Psrp = Psrp;

/// The protocol's definition for the runner and the simulator.
pub fn protocol() -> &'static dyn ProtocolDef {
    &PSRP
}

fn catalogue() -> &'static [MessageInfo] {
    static CATALOGUE: OnceLock<Vec<MessageInfo>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let mut v: Vec<MessageInfo> = MessageType::ALL
            .iter()
            .map(|(_, name, sent_by, spec)| MessageInfo {
                name,
                sent_by: *sent_by,
                spec,
            })
            .collect();
        v.push(MessageInfo {
            name: messages::UNKNOWN,
            sent_by: Sender::Either,
            spec: "MS-PSRP §2.2.1 (unknown MessageType)",
        });
        let oop = [
            (outofproc::DATA_ACK, Sender::Server),
            (outofproc::COMMAND, Sender::Client),
            (outofproc::COMMAND_ACK, Sender::Server),
            (outofproc::SIGNAL, Sender::Client),
            (outofproc::SIGNAL_ACK, Sender::Server),
            (outofproc::CLOSE, Sender::Client),
            (outofproc::CLOSE_ACK, Sender::Server),
        ];
        for (name, sent_by) in oop {
            v.push(MessageInfo {
                name,
                sent_by,
                spec: "PowerShell OutOfProc framing (DESIGN.md)",
            });
        }
        v
    })
}

impl ProtocolDef for Psrp {
    fn name(&self) -> &'static str {
        "psrp"
    }
    fn profiles(&self) -> &'static [&'static str] {
        PROFILES
    }
    fn messages(&self) -> &'static [MessageInfo] {
        catalogue()
    }
    /// PowerShell's server answers every Data line with a DataAck, a Command with a CommandAck and a
    /// Signal with a SignalAck; none carries PSRP content.
    fn ignorable(&self) -> &'static [&'static str] {
        &[outofproc::DATA_ACK, outofproc::COMMAND_ACK, outofproc::SIGNAL_ACK]
    }
    fn length_field(&self) -> &'static str {
        fragment::SPAN_BLOB_LENGTH
    }
    fn message_schema(&self) -> serde_json::Value {
        messages::schema()
    }
    fn new_session(&self, options: &SessionOptions) -> Result<Box<dyn WireSession>, String> {
        Ok(Box::new(session::PsrpSession::new(options)?))
    }
}
