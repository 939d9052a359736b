//! The PSRP message header (MS-PSRP §2.2.1): Destination, MessageType, RPID, PID, then Data.
//! All integers little-endian (ERRATA PSRP-2); GUIDs in .NET byte order (ERRATA PSRP-3).

use peercheck_wire::{DecodeError, Guid, Reader, WriteExt};
use serde::{Deserialize, Serialize};

/// Length of the fixed part of a message: 4 + 4 + 16 + 16.
pub const MESSAGE_HEADER_LEN: usize = 40;

/// The UTF-8 byte order mark PowerShell writes before Data (ERRATA PSRP-4).
pub const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// §2.2.1 Destination: "0x00000001 The message is targeted to a client. 0x00000002 … to a server."
/// Unknown values are kept so they round-trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Destination(pub u32);

impl Destination {
    pub const CLIENT: Self = Self(1);
    pub const SERVER: Self = Self(2);

    pub fn name(self) -> Option<&'static str> {
        match self {
            Self::CLIENT => Some("client"),
            Self::SERVER => Some("server"),
            _ => None,
        }
    }
}

impl Serialize for Destination {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.name() {
            Some(n) => s.serialize_str(n),
            None => s.serialize_u32(self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Destination {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            N(u32),
            S(String),
        }
        match Repr::deserialize(d)? {
            Repr::N(n) => Ok(Self(n)),
            Repr::S(s) => match s.as_str() {
                "client" => Ok(Self::CLIENT),
                "server" => Ok(Self::SERVER),
                other => Err(serde::de::Error::custom(format!(
                    "unknown destination `{other}` (client | server | number)"
                ))),
            },
        }
    }
}

impl schemars::JsonSchema for Destination {
    fn schema_name() -> String {
        "Destination".into()
    }
    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        let v = serde_json::json!({ "description": "client | server | a number", "anyOf": [
            { "type": "string", "enum": ["client", "server"] }, { "type": "integer", "minimum": 0 } ] });
        serde_json::from_value(v).unwrap_or(schemars::schema::Schema::Bool(true))
    }
}

/// §2.2.1 MessageType. Values from the current table (ERRATA PSRP-1: the 2013 table is wrong for
/// CONNECT_RUNSPACEPOOL, RUNSPACEPOOL_INIT_DATA and RESET_RUNSPACE_STATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct MessageType(pub u32);

macro_rules! message_types {
    ($($konst:ident = $val:literal, $name:literal, $sender:ident, $spec:literal;)*) => {
        impl MessageType {
            $(pub const $konst: Self = Self($val);)*

            /// Every known message type: (type, structured-form name, sender, spec section).
            pub const ALL: &'static [(MessageType, &'static str, peercheck_wire::Sender, &'static str)] = &[
                $((Self::$konst, $name, peercheck_wire::Sender::$sender, $spec),)*
            ];
        }
    };
}

message_types! {
    SESSION_CAPABILITY = 0x0001_0002, "session-capability", Either, "MS-PSRP §2.2.2.1 SESSION_CAPABILITY";
    INIT_RUNSPACEPOOL = 0x0001_0004, "init-runspacepool", Client, "MS-PSRP §2.2.2.2 INIT_RUNSPACEPOOL";
    PUBLIC_KEY = 0x0001_0005, "public-key", Client, "MS-PSRP §2.2.2.3 PUBLIC_KEY";
    ENCRYPTED_SESSION_KEY = 0x0001_0006, "encrypted-session-key", Server, "MS-PSRP §2.2.2.4 ENCRYPTED_SESSION_KEY";
    PUBLIC_KEY_REQUEST = 0x0001_0007, "public-key-request", Server, "MS-PSRP §2.2.2.5 PUBLIC_KEY_REQUEST";
    CONNECT_RUNSPACEPOOL = 0x0001_0008, "connect-runspacepool", Client, "MS-PSRP §2.2.2.28 CONNECT_RUNSPACEPOOL; ERRATA PSRP-1";
    RUNSPACEPOOL_INIT_DATA = 0x0002_100B, "runspacepool-init-data", Server, "MS-PSRP §2.2.2.29 RUNSPACE_INIT_DATA; ERRATA PSRP-1";
    RESET_RUNSPACE_STATE = 0x0002_100C, "reset-runspace-state", Client, "MS-PSRP (current) §2.2.1 table RESET_RUNSPACE_STATE (not in the 2013 text); ERRATA PSRP-1";
    SET_MAX_RUNSPACES = 0x0002_1002, "set-max-runspaces", Client, "MS-PSRP §2.2.2.6 SET_MAX_RUNSPACES";
    SET_MIN_RUNSPACES = 0x0002_1003, "set-min-runspaces", Client, "MS-PSRP §2.2.2.7 SET_MIN_RUNSPACES";
    RUNSPACE_AVAILABILITY = 0x0002_1004, "runspace-availability", Server, "MS-PSRP §2.2.2.8 RUNSPACE_AVAILABILITY";
    RUNSPACEPOOL_STATE = 0x0002_1005, "runspacepool-state", Server, "MS-PSRP §2.2.2.9 RUNSPACEPOOL_STATE";
    CREATE_PIPELINE = 0x0002_1006, "create-pipeline", Client, "MS-PSRP §2.2.2.10 CREATE_PIPELINE";
    GET_AVAILABLE_RUNSPACES = 0x0002_1007, "get-available-runspaces", Client, "MS-PSRP §2.2.2.11 GET_AVAILABLE_RUNSPACES";
    USER_EVENT = 0x0002_1008, "user-event", Server, "MS-PSRP §2.2.2.12 USER_EVENT";
    APPLICATION_PRIVATE_DATA = 0x0002_1009, "application-private-data", Server, "MS-PSRP §2.2.2.13 APPLICATION_PRIVATE_DATA";
    GET_COMMAND_METADATA = 0x0002_100A, "get-command-metadata", Client, "MS-PSRP §2.2.2.14 GET_COMMAND_METADATA";
    RUNSPACEPOOL_HOST_CALL = 0x0002_1100, "runspacepool-host-call", Server, "MS-PSRP §2.2.2.15 RUNSPACEPOOL_HOST_CALL";
    RUNSPACEPOOL_HOST_RESPONSE = 0x0002_1101, "runspacepool-host-response", Client, "MS-PSRP §2.2.2.16 RUNSPACEPOOL_HOST_RESPONSE";
    PIPELINE_INPUT = 0x0004_1002, "pipeline-input", Client, "MS-PSRP §2.2.2.17 PIPELINE_INPUT";
    END_OF_PIPELINE_INPUT = 0x0004_1003, "end-of-pipeline-input", Client, "MS-PSRP §2.2.2.18 END_OF_PIPELINE_INPUT";
    PIPELINE_OUTPUT = 0x0004_1004, "pipeline-output", Server, "MS-PSRP §2.2.2.19 PIPELINE_OUTPUT";
    ERROR_RECORD = 0x0004_1005, "error-record", Server, "MS-PSRP §2.2.2.20 ERROR_RECORD";
    PIPELINE_STATE = 0x0004_1006, "pipeline-state", Server, "MS-PSRP §2.2.2.21 PIPELINE_STATE";
    DEBUG_RECORD = 0x0004_1007, "debug-record", Server, "MS-PSRP §2.2.2.22 DEBUG_RECORD";
    VERBOSE_RECORD = 0x0004_1008, "verbose-record", Server, "MS-PSRP §2.2.2.23 VERBOSE_RECORD";
    WARNING_RECORD = 0x0004_1009, "warning-record", Server, "MS-PSRP §2.2.2.24 WARNING_RECORD";
    PROGRESS_RECORD = 0x0004_1010, "progress-record", Server, "MS-PSRP §2.2.2.25 PROGRESS_RECORD";
    INFORMATION_RECORD = 0x0004_1011, "information-record", Server, "MS-PSRP (current) §2.2.1 table INFORMATION_RECORD (protocol 2.3; not in the 2013 text)";
    PIPELINE_HOST_CALL = 0x0004_1100, "pipeline-host-call", Server, "MS-PSRP §2.2.2.26 PIPELINE_HOST_CALL";
    PIPELINE_HOST_RESPONSE = 0x0004_1101, "pipeline-host-response", Client, "MS-PSRP §2.2.2.27 PIPELINE_HOST_RESPONSE";
}

impl MessageType {
    /// The 2013 text's (wrong) values for CONNECT_RUNSPACEPOOL and RUNSPACEPOOL_INIT_DATA (ERRATA PSRP-1),
    /// kept so a misbehaving peer can be imitated.
    pub const CONNECT_RUNSPACEPOOL_2013: Self = Self(0x0001_0030);
    pub const RUNSPACEPOOL_INIT_DATA_2013: Self = Self(0x0001_0031);

    /// The structured-form name (kebab-case of the spec name), `None` when unknown.
    pub fn name(self) -> Option<&'static str> {
        Self::ALL.iter().find(|(t, ..)| *t == self).map(|(_, n, ..)| *n)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n, ..)| *n == name).map(|(t, ..)| *t)
    }

    /// §2.2.1: messages with type 0x0004xxxx target a pipeline, the rest the RunspacePool.
    pub fn targets_pipeline(self) -> bool {
        self.0 & 0x000F_0000 == 0x0004_0000
    }
}

/// A decoded PSRP message: the header fields and the raw Data (BOM included, as on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub destination: Destination,
    pub message_type: MessageType,
    pub rpid: Guid,
    pub pid: Guid,
    pub data: Vec<u8>,
}

/// A decoded message whose Data is borrowed from the bytes it was decoded from (no copy of Data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageView<'a> {
    pub destination: Destination,
    pub message_type: MessageType,
    pub rpid: Guid,
    pub pid: Guid,
    pub data: &'a [u8],
}

impl<'a> MessageView<'a> {
    /// §2.2.1 layout, as [`Message::decode`] (same spans, same errors), Data borrowed.
    pub fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let destination = Destination(r.u32_le("destination")?);
        let message_type = MessageType(r.u32_le("messageType")?);
        let rpid = guid(r, "rpid")?;
        let pid = guid(r, "pid")?;
        let data = r.rest("data");
        Ok(Self {
            destination,
            message_type,
            rpid,
            pid,
            data,
        })
    }

    /// Data without the optional UTF-8 BOM (ERRATA PSRP-4), and whether one was there.
    pub fn data_without_bom(&self) -> (&'a [u8], bool) {
        match self.data.strip_prefix(&BOM) {
            Some(rest) => (rest, true),
            None => (self.data, false),
        }
    }

    pub fn to_owned(&self) -> Message {
        Message {
            destination: self.destination,
            message_type: self.message_type,
            rpid: self.rpid,
            pid: self.pid,
            data: self.data.to_vec(),
        }
    }
}

impl Message {
    /// §2.2.1 layout. Spans: `destination`, `messageType`, `rpid`, `pid`, `data`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        MessageView::decode(r).map(|v| v.to_owned())
    }

    pub fn view(&self) -> MessageView<'_> {
        MessageView {
            destination: self.destination,
            message_type: self.message_type,
            rpid: self.rpid,
            pid: self.pid,
            data: &self.data,
        }
    }

    /// The 40 header bytes (§2.2.1) that precede Data in [`Message::encode`].
    pub fn header_bytes(&self) -> [u8; MESSAGE_HEADER_LEN] {
        let mut out = [0u8; MESSAGE_HEADER_LEN];
        let parts: [&[u8]; 4] = [
            &self.destination.0.to_le_bytes(),
            &self.message_type.0.to_le_bytes(),
            &self.rpid.0,
            &self.pid.0,
        ];
        let mut at = 0;
        for p in parts {
            if let Some(dst) = out.get_mut(at..at + p.len()) {
                dst.copy_from_slice(p);
            }
            at += p.len();
        }
        out
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MESSAGE_HEADER_LEN + self.data.len());
        out.put_u32_le(self.destination.0);
        out.put_u32_le(self.message_type.0);
        out.put_bytes(&self.rpid.0);
        out.put_bytes(&self.pid.0);
        out.put_bytes(&self.data);
        out
    }

    /// Data without the optional UTF-8 BOM (ERRATA PSRP-4), and whether one was there.
    pub fn data_without_bom(&self) -> (&[u8], bool) {
        match self.data.strip_prefix(&BOM) {
            Some(rest) => (rest, true),
            None => (&self.data, false),
        }
    }
}

fn guid(r: &mut Reader<'_>, field: &str) -> Result<Guid, DecodeError> {
    let start = r.offset();
    let b: [u8; 16] = {
        let raw = r.bytes_quiet(16, field)?;
        let mut b = [0u8; 16];
        b.copy_from_slice(raw);
        b
    };
    let g = Guid::from_dotnet_bytes(b);
    r.note(start, field, g.to_string());
    Ok(g)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::cast_possible_truncation
    )]
    use super::*;

    #[test]
    fn errata_psrp_1_values_and_names() {
        assert_eq!(MessageType::CONNECT_RUNSPACEPOOL.0, 0x0001_0008);
        assert_eq!(MessageType::RUNSPACEPOOL_INIT_DATA.0, 0x0002_100B);
        assert_eq!(MessageType::RESET_RUNSPACE_STATE.0, 0x0002_100C);
        assert_eq!(
            MessageType::from_name("pipeline-output"),
            Some(MessageType::PIPELINE_OUTPUT)
        );
        assert_eq!(MessageType(0x1234).name(), None);
        assert_eq!(MessageType::ALL.len(), 31);
        assert!(MessageType::PIPELINE_STATE.targets_pipeline());
        assert!(!MessageType::CREATE_PIPELINE.targets_pipeline());
    }

    #[test]
    fn header_round_trip_and_truncation() {
        let m = Message {
            destination: Destination::SERVER,
            message_type: MessageType::SESSION_CAPABILITY,
            rpid: Guid::from_u128(0x1122),
            pid: Guid::NIL,
            data: b"\xEF\xBB\xBF<S>x</S>".to_vec(),
        };
        let bytes = m.encode();
        assert_eq!(&bytes[..8], &[2, 0, 0, 0, 2, 0, 1, 0]);
        let back = Message::decode(&mut Reader::new(&bytes)).unwrap();
        assert_eq!(back, m);
        assert_eq!(&m.header_bytes()[..], &bytes[..MESSAGE_HEADER_LEN]);
        let view = MessageView::decode(&mut Reader::new(&bytes)).unwrap();
        assert_eq!(view, m.view());
        assert_eq!(view.to_owned(), m);
        assert_eq!(back.data_without_bom(), (&b"<S>x</S>"[..], true));
        for n in 0..MESSAGE_HEADER_LEN {
            assert!(
                Message::decode(&mut Reader::new(&bytes[..n])).is_err(),
                "prefix {n}"
            );
        }
    }

    #[test]
    fn destination_json_keeps_unknown_values() {
        let d: Destination = serde_json::from_value(serde_json::json!(7)).unwrap();
        assert_eq!(serde_json::to_value(d).unwrap(), serde_json::json!(7));
        let d: Destination = serde_json::from_value(serde_json::json!("client")).unwrap();
        assert_eq!(d, Destination::CLIENT);
    }
}
