//! The [`ProtocolDef`] of NOW-PROTO.

use peercheck_wire::{MessageInfo, ProtocolDef, SessionOptions, WireSession};

use crate::header::MSG_SIZE_SPAN;
use crate::msg::{NowMessage, MESSAGES};
use crate::profile::Profile;
use crate::session::NowSession;

#[derive(Debug, Clone, Copy)]
pub struct NowProtocol;

pub static NOW_PROTOCOL: NowProtocol = NowProtocol;

impl ProtocolDef for NowProtocol {
    fn name(&self) -> &'static str {
        "now"
    }

    fn profiles(&self) -> &'static [&'static str] {
        Profile::NAMES
    }

    fn messages(&self) -> &'static [MessageInfo] {
        MESSAGES
    }

    /// HEARTBEAT may arrive at any time (NOW-PROTO 1.3 NOW_CHANNEL_HEARTBEAT_MSG: "Periodic").
    fn ignorable(&self) -> &'static [&'static str] {
        &["channel.heartbeat"]
    }

    fn length_field(&self) -> &'static str {
        MSG_SIZE_SPAN
    }

    fn message_schema(&self) -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(NowMessage)).unwrap_or(serde_json::Value::Null)
    }

    fn new_session(&self, options: &SessionOptions) -> Result<Box<dyn WireSession>, String> {
        Ok(Box::new(NowSession::new(options)?))
    }
}
