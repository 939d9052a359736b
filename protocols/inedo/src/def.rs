//! The protocol definition the runner and simulator see.

use crate::config::PROFILES;
use crate::message::Message;
use crate::session::InedoSession;
use peercheck_wire::{MessageInfo, ProtocolDef, Sender, SessionOptions, WireSession};

const SPEC: &str = "Inedo Agent network protocol v1";

static MESSAGES: &[MessageInfo] = &[
    MessageInfo {
        name: "handshake",
        sent_by: Sender::Client,
        spec: "Inedo Agent network protocol v1 §Handshake; ERRATA Inedo-2, Inedo-10",
    },
    MessageInfo {
        name: "handshake-reply",
        sent_by: Sender::Server,
        spec: "Inedo Agent network protocol v1 §Handshake; ERRATA Inedo-3, Inedo-5, Inedo-10",
    },
    MessageInfo {
        name: "command",
        sent_by: Sender::Client,
        spec: "Inedo Agent network protocol v1 §Client to Server Message; ERRATA Inedo-6, Inedo-7",
    },
    MessageInfo {
        name: "response",
        sent_by: Sender::Server,
        spec: "Inedo Agent network protocol v1 §Server to Client Message; ERRATA Inedo-4, Inedo-6",
    },
    MessageInfo {
        name: "meta.update-agent",
        sent_by: Sender::Client,
        spec: "ERRATA Inedo-8 (meta command 2)",
    },
    MessageInfo {
        name: "meta.get-agent-root-path",
        sent_by: Sender::Client,
        spec: "ERRATA Inedo-8 (meta command 3)",
    },
    MessageInfo {
        name: "meta.get-agent-root-path-reply",
        sent_by: Sender::Server,
        spec: "ERRATA Inedo-1, Inedo-8 (mock-peer reading)",
    },
    MessageInfo {
        name: "unknown",
        sent_by: Sender::Either,
        spec: SPEC,
    },
];

/// The Inedo protocol definition.
#[derive(Debug)]
pub struct Inedo;

static INEDO: Inedo = Inedo;

/// The protocol definition for the runner and the simulator.
pub fn protocol() -> &'static dyn ProtocolDef {
    &INEDO
}

impl ProtocolDef for Inedo {
    fn name(&self) -> &'static str {
        "inedo"
    }

    fn profiles(&self) -> &'static [&'static str] {
        PROFILES
    }

    fn messages(&self) -> &'static [MessageInfo] {
        MESSAGES
    }

    /// Plain frames, and AES frames (the length covers the ciphertext): both name it `length`.
    fn length_field(&self) -> &'static str {
        "length"
    }

    fn message_schema(&self) -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Message)).unwrap_or(serde_json::Value::Null)
    }

    fn new_session(&self, options: &SessionOptions) -> Result<Box<dyn WireSession>, String> {
        Ok(Box::new(InedoSession::new(options)?))
    }
}
