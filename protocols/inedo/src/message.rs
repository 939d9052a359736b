//! The structured form: serde's externally tagged enum, `{ "<message-name>": { <fields> } }`.
//!
//! Field names are camelCase after the spec's table descriptions. Fields that only exist in one
//! profile or one encryption mode are optional; decoding fills exactly the ones on the wire.

use crate::handshake::PROTOCOL_ID;
use crate::types::{AgentType, EncryptionMode, HexBytes, Iv, ServerVersion};
use peercheck_wire::Guid;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Every message of the protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub enum Message {
    /// Client → server, first bytes of the connection (spec "Handshake"; v2: ERRATA Inedo-10).
    #[serde(rename = "handshake")]
    Handshake(Handshake),
    /// Server → client answer to the handshake (spec "Handshake", second table; ERRATA Inedo-3/5).
    #[serde(rename = "handshake-reply")]
    HandshakeReply(HandshakeReply),
    /// Client → server frame (spec "Client to Server Message").
    #[serde(rename = "command")]
    Command(Command),
    /// Server → client frame (spec "Server to Client Message"; ERRATA Inedo-4).
    #[serde(rename = "response")]
    Response(Response),
    /// Meta command 2, Update Agent (ERRATA Inedo-8); payload format not public, carried raw.
    #[serde(rename = "meta.update-agent")]
    UpdateAgent(UpdateAgent),
    /// Meta command 3, Get Agent Root Path (ERRATA Inedo-8), no data.
    #[serde(rename = "meta.get-agent-root-path")]
    GetAgentRootPath(GetAgentRootPath),
    /// The server's answer to Get Agent Root Path: a response frame with command 3 whose data is one
    /// .NET string (ERRATA Inedo-1, Inedo-8; the layout is the mock peers' reading).
    #[serde(rename = "meta.get-agent-root-path-reply")]
    GetAgentRootPathReply(GetAgentRootPathReply),
    /// Raw bytes written as they are (through TLS once it is up): for what the structured form
    /// cannot say. Never produced by decoding.
    #[serde(rename = "unknown")]
    Unknown(Unknown),
}

/// The client handshake. v1 uses `protocolVersion` + `sessionId`, v2 `minVersion` + `maxVersion`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Handshake {
    /// Protocol ID, 6CEBD24E-4AF7-4A13-B9AF-81D3DFC644BE, wire bytes in .NET order (ERRATA Inedo-2).
    #[schemars(with = "String")]
    pub protocol_id: Guid,
    /// v1: "Protocol Version: 1000 (currently hardcoded)". Default 1000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<i32>,
    /// v1: Session ID. Default 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<i32>,
    /// v2: lowest protocol version the client speaks. Default 1000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_version: Option<i32>,
    /// v2: highest protocol version the client speaks. Default 2000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_version: Option<i32>,
}

impl Default for Handshake {
    fn default() -> Self {
        Handshake {
            protocol_id: PROTOCOL_ID,
            protocol_version: None,
            session_id: None,
            min_version: None,
            max_version: None,
        }
    }
}

/// The server's handshake reply. `iv` exists only with AES; v1 returns `sessionId`, v2 the chosen
/// `protocolVersion` (ERRATA Inedo-10) in the same place.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct HandshakeReply {
    /// Required encryption mode (0 none, 1 SSL, 2 AES). Default: the `encryption` param.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_mode: Option<EncryptionMode>,
    /// AES only: the first IV. Default: the `iv` param, else 000102…0f.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iv: Option<Iv>,
    /// v1: the session id (may differ from the request). Default 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<i32>,
    /// v2: the chosen protocol version. Default 2000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<i32>,
    /// `[major, minor, build, revision]` with `server-version=int32x4`, one number with
    /// `server-version=int32` (ERRATA Inedo-3). Default `[1, 0, 0, 0]` / `0`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<ServerVersion>,
}

/// A client → server frame. `agentType` exists in v1 only (ERRATA Inedo-10); `nextIv` in AES only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Command {
    /// v1: 0 meta, 1 otter, 2 buildmaster, 3 hedgehog (ERRATA Inedo-8). Default meta.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_type: Option<AgentType>,
    pub command: i32,
    pub data: HexBytes,
    /// AES only: the IV for the next message (default: this frame's IV plus one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_iv: Option<Iv>,
}

/// A server → client frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Response {
    pub command: i32,
    pub data: HexBytes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_iv: Option<Iv>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateAgent {
    pub data: HexBytes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_iv: Option<Iv>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct GetAgentRootPath {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_iv: Option<Iv>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct GetAgentRootPathReply {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_iv: Option<Iv>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Unknown {
    pub data: HexBytes,
}

impl Message {
    /// The structured-form name.
    pub fn name(&self) -> &'static str {
        match self {
            Message::Handshake(_) => "handshake",
            Message::HandshakeReply(_) => "handshake-reply",
            Message::Command(_) => "command",
            Message::Response(_) => "response",
            Message::UpdateAgent(_) => "meta.update-agent",
            Message::GetAgentRootPath(_) => "meta.get-agent-root-path",
            Message::GetAgentRootPathReply(_) => "meta.get-agent-root-path-reply",
            Message::Unknown(_) => "unknown",
        }
    }

    /// The fields in structured form (the value under the name).
    pub fn fields(&self) -> serde_json::Value {
        let whole = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        whole.get(self.name()).cloned().unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn omitted_fields_take_defaults_and_unknown_fields_are_refused() {
        let m: Message = serde_json::from_value(serde_json::json!({ "handshake": {} })).unwrap();
        assert_eq!(m, Message::Handshake(Handshake::default()));
        let bad = serde_json::from_value::<Message>(serde_json::json!({ "command": { "cmd": 3 } }));
        assert!(bad.is_err());
    }

    #[test]
    fn fields_use_camel_case_and_skip_absent_options() {
        let m = Message::Command(Command {
            agent_type: Some(AgentType::OTTER),
            command: 7,
            data: HexBytes(vec![1, 2]),
            next_iv: None,
        });
        assert_eq!(
            m.fields(),
            serde_json::json!({ "agentType": "otter", "command": 7, "data": "0102" })
        );
    }
}
