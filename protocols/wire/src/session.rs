//! The protocol-neutral contract between the codecs and everything above them.
//!
//! A codec crate exposes one [`ProtocolDef`]. The runner and the simulator only ever talk to a
//! protocol through it and through the [`WireSession`]s it creates, so neither re-implements a codec.
//!
//! Messages in structured form are JSON values in serde's externally tagged shape,
//! `{ "<message-name>": { <fields> } }` — exactly what a scenario's `send:` step holds. Omitted fields
//! take defaults. Decoded messages come back as [`Decoded`] with the same name and field names.

use crate::error::{DecodeError, EncodeError};
use crate::span::FieldSpan;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A protocol role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Client,
    Server,
}

impl Role {
    pub fn other(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }
}

/// Direction of travel of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    ToServer,
    ToClient,
}

impl Direction {
    /// The role that sends in this direction.
    pub fn sender(self) -> Role {
        match self {
            Direction::ToServer => Role::Client,
            Direction::ToClient => Role::Server,
        }
    }
}

/// Who may send a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sender {
    Client,
    Server,
    Either,
}

impl Sender {
    pub fn allows(self, role: Role) -> bool {
        matches!(
            (self, role),
            (Sender::Either, _) | (Sender::Client, Role::Client) | (Sender::Server, Role::Server)
        )
    }
}

/// One entry of a protocol's message catalogue.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MessageInfo {
    /// The structured-form name, e.g. `channel.capset`, `pipeline-output`, `handshake`.
    pub name: &'static str,
    pub sent_by: Sender,
    /// Spec document and section, e.g. `NOW-PROTO 1.3 §2.2.2.1 NOW_CHANNEL_CAPSET_MSG`.
    pub spec: &'static str,
}

/// How to set up a session.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SessionOptions {
    /// The role *this side* plays (for the runner: the opposite of the implementation under test).
    pub local_role: Option<Role>,
    /// Profile name, e.g. `now-1.6`, `psrp-2.3`, `inedo-v1-aes`. `None` = the protocol's default.
    pub profile: Option<String>,
    /// Protocol-specific settings (e.g. `framing=outofproc`, `key=00ff…`, `server-version=int32x4`).
    pub params: BTreeMap<String, String>,
}

impl SessionOptions {
    pub fn role(&self) -> Role {
        self.local_role.unwrap_or(Role::Client)
    }

    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }
}

/// A message received and decoded, in protocol-neutral form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decoded {
    /// Structured-form name (a key of the protocol's catalogue, or `unknown`).
    pub name: String,
    /// The message's fields (the value under the name in the structured form).
    pub fields: serde_json::Value,
    /// Absolute offset of the first byte in the received stream.
    pub offset: usize,
    /// The message's bytes as they were on the wire.
    #[serde(serialize_with = "ser_hex")]
    pub bytes: Vec<u8>,
    /// Field spans (absolute offsets) for annotated dumps and field-level diffs.
    pub spans: Vec<FieldSpan>,
}

fn ser_hex<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(b))
}

/// A sans-IO, stateful view of one connection from one side: it encodes what this side sends and
/// decodes what the other side sends. State (negotiated version, AES IV chain, PSRP object ids,
/// buffered partial input) lives here; the caller owns the socket or pipe.
pub trait WireSession: Send + std::fmt::Debug {
    /// Encode a structured message (`{ name: { fields } }`) into the bytes this side writes.
    fn encode(&mut self, message: &serde_json::Value) -> Result<Vec<u8>, EncodeError>;

    /// Bytes this side must write that no send step asked for (TLS handshake records, framing
    /// acknowledgements). Called after every `encode` and every `push_received`.
    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        None
    }

    /// Hand over bytes read from the other side (any split: partial messages are buffered).
    fn push_received(&mut self, bytes: &[u8]);

    /// The next complete message from the other side, if one is buffered.
    /// An error is final for the stream (the runner reports it as a malformed peer message).
    fn next_received(&mut self) -> Result<Option<Decoded>, DecodeError>;

    /// At end of input: an error if a partial message is left over.
    fn finish(&mut self) -> Result<(), DecodeError>;

    /// Field spans of bytes this side produced with `encode` (offsets relative to `bytes`), so that
    /// faults can corrupt a named field or lie in a length field.
    fn annotate_sent(&self, bytes: &[u8]) -> Vec<FieldSpan>;
}

/// Everything the runner and simulator need to know about one protocol.
pub trait ProtocolDef: Sync + Send + std::fmt::Debug {
    /// `now`, `psrp` or `inedo` (the scenario id prefix).
    fn name(&self) -> &'static str;
    /// Profiles, default first.
    fn profiles(&self) -> &'static [&'static str];
    /// The message catalogue.
    fn messages(&self) -> &'static [MessageInfo];
    /// Messages an `expect` step skips by default while waiting (keep-alives, framing acks).
    fn ignorable(&self) -> &'static [&'static str] {
        &[]
    }
    /// Name of the span that holds the length of the message (for the `wrong-length` fault).
    fn length_field(&self) -> &'static str;
    /// JSON Schema of the structured message form (for the published scenario schema).
    fn message_schema(&self) -> serde_json::Value;
    /// A new session for one connection.
    fn new_session(&self, options: &SessionOptions) -> Result<Box<dyn WireSession>, String>;
}

/// Split a structured message `{ name: fields }` into its name and fields.
pub fn split_structured(message: &serde_json::Value) -> Result<(&str, &serde_json::Value), EncodeError> {
    match message.as_object() {
        Some(map) if map.len() == 1 => {
            let (k, v) = map
                .iter()
                .next()
                .ok_or_else(|| EncodeError::new("message", "empty"))?;
            Ok((k.as_str(), v))
        }
        _ => Err(EncodeError::new(
            "message",
            "expected a map with exactly one key: the message name",
        )),
    }
}
