//! Typed message bodies (MS-PSRP §2.2.2) and the structured form of a whole message.
//!
//! Structured form: `{ "<kebab name>": { destination, rpid, pid, objectId, bom, data, clixml,
//! …typed body fields (camelCase)… } }`. On encode, `clixml` (raw text) wins over `data` (the
//! generic [`ClixmlValue`]), which wins over the typed fields. On decode every message carries the
//! typed fields *and* `data`, so re-encoding a decoded message reproduces its CLIXML.

pub mod host;
pub mod pipeline;
pub mod records;
pub mod runspacepool;
mod util;

use crate::clixml::{self, ClixmlValue};
use crate::header::{Destination, Message, MessageType, MessageView};
use peercheck_wire::{EncodeError, Guid};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A message body with a typed view.
pub trait Body: Sized + Default + Serialize + DeserializeOwned + JsonSchema {
    const TYPE: MessageType;
    /// The body as CLIXML (`None` = empty Data).
    fn to_clixml(&self) -> Result<Option<ClixmlValue>, String>;
    /// [`Body::to_clixml`] of an owned body: the same value, moving what can be moved (a body that
    /// holds a large value overrides it so the value is not copied).
    fn into_clixml(self) -> Result<Option<ClixmlValue>, String> {
        self.to_clixml()
    }
    /// The typed view of a decoded body; an error names a mandatory member that is missing.
    fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String>;
}

macro_rules! registry {
    ($($ty:ident => $body:ty),* $(,)?) => {
        /// Encode typed body fields of a known message type.
        pub fn encode_body(t: MessageType, fields: Value) -> Result<Option<ClixmlValue>, String> {
            match t {
                $(MessageType::$ty => {
                    let b: $body = serde_json::from_value(fields).map_err(|e| e.to_string())?;
                    b.into_clixml()
                })*
                _ => Err(format!("no typed body for message type 0x{:08X}", t.0)),
            }
        }

        /// The typed view of a decoded body as JSON (`None` for an unknown type).
        pub fn decode_body(t: MessageType, v: Option<&ClixmlValue>) -> Result<Option<Value>, String> {
            match t {
                $(MessageType::$ty => {
                    let b = <$body>::from_clixml(v)?;
                    serde_json::to_value(b).map(Some).map_err(|e| e.to_string())
                })*
                _ => Ok(None),
            }
        }

        /// The JSON schema of a message type's typed fields.
        /// The JSON schema (an object schema with `properties`) of a message type's typed fields.
        fn body_schema(gen: &mut schemars::gen::SchemaGenerator, t: MessageType) -> Option<Value> {
            match t {
                $(MessageType::$ty => serde_json::to_value(gen.root_schema_for::<$body>().schema).ok(),)*
                _ => None,
            }
        }
    };
}

registry! {
    SESSION_CAPABILITY => runspacepool::SessionCapability,
    INIT_RUNSPACEPOOL => runspacepool::InitRunspacePool,
    PUBLIC_KEY => runspacepool::PublicKey,
    ENCRYPTED_SESSION_KEY => runspacepool::EncryptedSessionKey,
    PUBLIC_KEY_REQUEST => runspacepool::PublicKeyRequest,
    CONNECT_RUNSPACEPOOL => runspacepool::ConnectRunspacePool,
    RUNSPACEPOOL_INIT_DATA => runspacepool::RunspacePoolInitData,
    RESET_RUNSPACE_STATE => runspacepool::ResetRunspaceState,
    SET_MAX_RUNSPACES => runspacepool::SetMaxRunspaces,
    SET_MIN_RUNSPACES => runspacepool::SetMinRunspaces,
    RUNSPACE_AVAILABILITY => runspacepool::RunspaceAvailability,
    RUNSPACEPOOL_STATE => runspacepool::RunspacePoolState,
    CREATE_PIPELINE => pipeline::CreatePipeline,
    GET_AVAILABLE_RUNSPACES => runspacepool::GetAvailableRunspaces,
    USER_EVENT => runspacepool::UserEvent,
    APPLICATION_PRIVATE_DATA => runspacepool::ApplicationPrivateData,
    GET_COMMAND_METADATA => runspacepool::GetCommandMetadata,
    RUNSPACEPOOL_HOST_CALL => host::RunspacePoolHostCall,
    RUNSPACEPOOL_HOST_RESPONSE => host::RunspacePoolHostResponse,
    PIPELINE_INPUT => pipeline::PipelineInput,
    END_OF_PIPELINE_INPUT => pipeline::EndOfPipelineInput,
    PIPELINE_OUTPUT => pipeline::PipelineOutput,
    ERROR_RECORD => records::ErrorRecord,
    PIPELINE_STATE => pipeline::PipelineState,
    DEBUG_RECORD => records::DebugRecord,
    VERBOSE_RECORD => records::VerboseRecord,
    WARNING_RECORD => records::WarningRecord,
    PROGRESS_RECORD => records::ProgressRecord,
    INFORMATION_RECORD => records::InformationRecord,
    PIPELINE_HOST_CALL => host::PipelineHostCall,
    PIPELINE_HOST_RESPONSE => host::PipelineHostResponse,
}

/// Name of the structured form for messages of an unknown type.
pub const UNKNOWN: &str = "unknown";

/// Fields every PSRP message has in the structured form, beside its typed body fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Envelope {
    /// §2.2.1 Destination (default: the other side).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    /// §2.2.1 RPID (default: the session's `rpid` param).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub rpid: Option<Guid>,
    /// §2.2.1 PID (default: all zero, the pool).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub pid: Option<Guid>,
    /// §2.2.4 ObjectId (default: the session's counter, from 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_id: Option<u64>,
    /// Number of fragments (reported on decode; ignored on encode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fragment_count: Option<u64>,
    /// UTF-8 BOM before Data (ERRATA PSRP-4; default: the session's `bom` param).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bom: Option<bool>,
    /// The whole body as a generic CLIXML value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<ClixmlValue>,
    /// The whole body as raw CLIXML text (encode only; wins over everything else).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clixml: Option<String>,
    /// `unknown` messages only: the MessageType number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_type: Option<u32>,
    /// Data as hex: for `unknown` messages whose Data is not CLIXML, and for known messages that
    /// arrived with an empty Data where their type has a body (so the form round-trips).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

const ENVELOPE_KEYS: [&str; 10] = [
    "destination",
    "rpid",
    "pid",
    "objectId",
    "fragmentCount",
    "bom",
    "data",
    "clixml",
    "messageType",
    "raw",
];

/// Session-level defaults used where the structured form leaves a field out.
#[derive(Debug, Clone)]
pub struct EncodeDefaults {
    pub destination: Destination,
    pub rpid: Guid,
    pub bom: bool,
    pub protocol_version: String,
}

/// A message ready for fragmenting, plus the object id the structured form asked for.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub message: Message,
    pub object_id: Option<u64>,
}

/// Split the fields into the envelope and the body.
fn split_fields(fields: Value) -> Result<(Envelope, Value), EncodeError> {
    let map = match fields {
        Value::Null => Map::new(),
        Value::Object(m) => m,
        _ => return Err(EncodeError::new("fields", "expected a map of fields")),
    };
    let (env, body): (Map<String, Value>, Map<String, Value>) = map
        .into_iter()
        .partition(|(k, _)| ENVELOPE_KEYS.contains(&k.as_str()));
    let env: Envelope =
        serde_json::from_value(Value::Object(env)).map_err(|e| EncodeError::new("fields", e.to_string()))?;
    Ok((env, Value::Object(body)))
}

/// Build the message for `{ name: fields }`.
pub fn encode_structured(name: &str, fields: &Value, d: &EncodeDefaults) -> Result<Encoded, EncodeError> {
    encode_structured_owned(name, fields.clone(), d)
}

/// [`encode_structured`] taking the fields by value: large strings move into the message instead
/// of being copied (the same message, the same errors).
pub fn encode_structured_owned(
    name: &str,
    fields: Value,
    d: &EncodeDefaults,
) -> Result<Encoded, EncodeError> {
    let (env, mut body) = split_fields(fields)?;
    let message_type = if name == UNKNOWN {
        MessageType(
            env.message_type
                .ok_or_else(|| EncodeError::new("messageType", "an unknown message needs its number"))?,
        )
    } else {
        MessageType::from_name(name)
            .ok_or_else(|| EncodeError::new("message", format!("unknown PSRP message `{name}`")))?
    };
    if message_type == MessageType::SESSION_CAPABILITY {
        if let Some(m) = body.as_object_mut() {
            m.entry("protocolVersion")
                .or_insert_with(|| Value::String(d.protocol_version.clone()));
        }
    }
    let bom = env.bom.unwrap_or(d.bom);
    let with_text = |write: &dyn Fn(&mut String)| bom_and_text(bom, Vec::new(), write);
    let data = if let Some(raw) = env.clixml {
        match (bom, raw.is_empty()) {
            (false, _) | (true, true) => raw.into_bytes(),
            (true, false) => with_text(&|t| t.push_str(&raw)),
        }
    } else if let Some(v) = &env.data {
        with_text(&|t| clixml::write_into(t, v))
    } else if let Some(raw) = &env.raw {
        return Ok(Encoded {
            message: Message {
                destination: env.destination.unwrap_or(d.destination),
                message_type,
                rpid: env.rpid.unwrap_or(d.rpid),
                pid: env.pid.unwrap_or(Guid::NIL),
                data: hex::decode(raw).map_err(|e| EncodeError::new("raw", e.to_string()))?,
            },
            object_id: env.object_id,
        });
    } else if name == UNKNOWN {
        Vec::new()
    } else {
        match encode_body(message_type, body).map_err(|e| EncodeError::new(name.to_owned(), e))? {
            Some(v) => with_text(&|t| clixml::write_into(t, &v)),
            None => Vec::new(),
        }
    };
    Ok(Encoded {
        message: Message {
            destination: env.destination.unwrap_or(d.destination),
            message_type,
            rpid: env.rpid.unwrap_or(d.rpid),
            pid: env.pid.unwrap_or(Guid::NIL),
            data,
        },
        object_id: env.object_id,
    })
}

/// Data as the BOM (ERRATA PSRP-4) and the text `write` appends, in one buffer (`buf`, cleared
/// first, so a spent Data can be reused); the BOM goes only before a non-empty text.
fn bom_and_text(bom: bool, mut buf: Vec<u8>, write: &dyn Fn(&mut String)) -> Vec<u8> {
    buf.clear();
    // An empty buffer is valid UTF-8: no copy, no failure.
    let mut text = String::from_utf8(buf).unwrap_or_default();
    if bom {
        text.push('\u{feff}');
    }
    let start = text.len();
    write(&mut text);
    if text.len() == start {
        text.clear();
    }
    text.into_bytes()
}

/// The Data of a message whose body is one value (PIPELINE_OUTPUT, PIPELINE_INPUT): the same bytes
/// as [`encode_structured`] writes for `{ "value": value }` with `bom`, encoded from a reference
/// into `buf` (cleared first; pass back a spent Data to reuse its memory).
pub fn encode_value_data(value: &ClixmlValue, bom: bool, buf: Vec<u8>) -> Vec<u8> {
    bom_and_text(bom, buf, &|t| clixml::write_into(t, value))
}

/// Why a message body was rejected: the field (`data` or a member) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    pub field: &'static str,
    pub reason: String,
    /// The depth/node limit name when the CLIXML was over one.
    pub limit: Option<(&'static str, u64, u64)>,
}

/// The structured form of a decoded message: its name and fields.
pub fn decode_structured(m: &Message) -> Result<(String, Value), BodyError> {
    decode_structured_view(&m.view())
}

/// Bodies that are one whole value (`{ "value": … }`): their typed field is the `data` JSON itself.
fn is_value_body(t: MessageType) -> bool {
    matches!(t, MessageType::PIPELINE_OUTPUT | MessageType::PIPELINE_INPUT)
}

/// [`decode_structured`] of a message whose Data is borrowed (no copy of Data; the decoded value
/// is converted to JSON once, moving its strings).
pub fn decode_structured_view(m: &MessageView<'_>) -> Result<(String, Value), BodyError> {
    let (bytes, bom) = m.data_without_bom();
    let known = m.message_type.name();
    let parsed = std::str::from_utf8(bytes)
        .map_err(|e| format!("Data is not UTF-8: {e}"))
        .and_then(|text| clixml::parse(text).map_err(|e| e.to_string()));
    let value = match (parsed, known) {
        (Ok(v), _) => v,
        (Err(reason), Some(_)) => {
            let limit = limit_of(bytes);
            return Err(BodyError {
                field: "data",
                reason,
                limit,
            });
        }
        (Err(_), None) => {
            let mut fields = Map::new();
            fields.insert("messageType".into(), Value::from(m.message_type.0));
            put_header(&mut fields, m, bom);
            fields.insert("raw".into(), Value::String(hex::encode(m.data)));
            return Ok((UNKNOWN.into(), Value::Object(fields)));
        }
    };
    let mut fields = Map::new();
    match known {
        Some(name) => {
            let no_value = value.is_none();
            let (body, data) = if is_value_body(m.message_type) {
                // The typed view is `{ "value": <data> }` (`null` for an empty Data): the same JSON
                // as decode_body gives, built from the one conversion of the value.
                let data = value.map(ClixmlValue::into_json);
                let mut b = Map::new();
                b.insert("value".into(), data.clone().unwrap_or(Value::Null));
                (Some(Value::Object(b)), data)
            } else {
                let body = decode_body(m.message_type, value.as_ref()).map_err(|reason| BodyError {
                    field: "data",
                    reason,
                    limit: None,
                })?;
                (body, value.map(ClixmlValue::into_json))
            };
            put_header(&mut fields, m, bom);
            if let Some(Value::Object(b)) = body {
                if no_value && (!m.data.is_empty() || !body_encodes_empty(m.message_type, &b)) {
                    // An empty Data (or a lone BOM) where the typed fields would re-encode to other
                    // bytes (a CLIXML value, no BOM): keep what arrived (fuzz finding F1).
                    fields.insert("raw".into(), Value::String(hex::encode(m.data)));
                }
                fields.extend(b);
            }
            if let Some(v) = data {
                fields.insert("data".into(), v);
            }
            Ok((name.to_owned(), Value::Object(fields)))
        }
        None => {
            fields.insert("messageType".into(), Value::from(m.message_type.0));
            put_header(&mut fields, m, bom);
            if let Some(v) = value {
                fields.insert("data".into(), v.into_json());
            }
            Ok((UNKNOWN.into(), Value::Object(fields)))
        }
    }
}

/// Whether the typed fields decoded from an empty Data encode back to an empty Data (true for
/// the types whose body is empty by the spec, e.g. END_OF_PIPELINE_INPUT).
fn body_encodes_empty(t: MessageType, body: &Map<String, Value>) -> bool {
    matches!(encode_body(t, Value::Object(body.clone())), Ok(None))
}

fn limit_of(bytes: &[u8]) -> Option<(&'static str, u64, u64)> {
    let text = std::str::from_utf8(bytes).ok()?;
    match clixml::parse(text) {
        Err(clixml::ClixmlError::TooDeep { depth, max, limit }) => Some((limit, depth, max)),
        Err(clixml::ClixmlError::TooManyNodes { max, limit }) => Some((limit, max + 1, max)),
        _ => None,
    }
}

fn put_header(fields: &mut Map<String, Value>, m: &MessageView<'_>, bom: bool) {
    fields.insert(
        "destination".into(),
        serde_json::to_value(m.destination).unwrap_or(Value::Null),
    );
    fields.insert("rpid".into(), Value::String(m.rpid.to_string()));
    fields.insert("pid".into(), Value::String(m.pid.to_string()));
    fields.insert("bom".into(), Value::Bool(bom));
}

/// JSON schema of the structured form: one externally tagged variant per message name.
pub fn schema() -> Value {
    let mut gen = schemars::gen::SchemaSettings::draft07().into_generator();
    let envelope = serde_json::to_value(gen.root_schema_for::<Envelope>().schema).unwrap_or(Value::Null);
    let props = |v: &Value| {
        v.get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let envelope_props = props(&envelope);
    // One closed object per message: the envelope's properties merged with the body's, so
    // `additionalProperties: false` holds for the union (an `allOf` of two closed schemas would not).
    let object = |description: &str, extra: Map<String, Value>| {
        let mut p = envelope_props.clone();
        p.extend(extra);
        serde_json::json!({ "description": description, "type": "object", "properties": p, "additionalProperties": false })
    };
    let mut variants = Vec::new();
    for (t, name, _, spec) in MessageType::ALL {
        let body = body_schema(&mut gen, *t).map(|b| props(&b)).unwrap_or_default();
        variants.push(
            serde_json::json!({ "type": "object", "required": [name], "additionalProperties": false,
            "properties": { *name: object(spec, body) } }),
        );
    }
    variants.push(
        serde_json::json!({ "type": "object", "required": [UNKNOWN], "additionalProperties": false,
        "properties": { UNKNOWN: object("MS-PSRP §2.2.1: a MessageType no table defines", Map::new()) } }),
    );
    for name in crate::outofproc::CONTROL_NAMES {
        variants.push(
            serde_json::json!({ "type": "object", "required": [name], "additionalProperties": false,
            "properties": { *name: { "type": "object", "properties": { "psGuid": { "type": "string" } },
                "additionalProperties": false } } }),
        );
    }
    let defs = serde_json::to_value(gen.definitions()).unwrap_or(Value::Null);
    serde_json::json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "PSRP message (structured form)",
        "oneOf": variants,
        "definitions": defs,
    })
}

#[cfg(test)]
mod tests;
