//! Wire enums that keep unknown values, and the small value types of the structured form.

use peercheck_wire::hexparse::parse_hex;
use schemars::gen::SchemaGenerator;
use schemars::schema::Schema;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A schema from a JSON literal (schemars 0.8 schemas deserialize from JSON).
fn schema_from(value: serde_json::Value) -> Schema {
    serde_json::from_value(value).unwrap_or(Schema::Bool(true))
}

/// A `u8` wire enum: known values serialize as their names, unknown ones as numbers; both forms parse.
macro_rules! named_u8 {
    ($(#[$meta:meta])* $name:ident { $($(#[$cmeta:meta])* $konst:ident = $value:literal => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub u8);

        impl $name {
            $($(#[$cmeta])* pub const $konst: Self = Self($value);)+
            const NAMES: &'static [(u8, &'static str)] = &[$(($value, $text)),+];

            /// The name of a known value.
            pub fn name(self) -> Option<&'static str> {
                Self::NAMES.iter().find(|(v, _)| *v == self.0).map(|(_, n)| *n)
            }

            pub fn from_name(text: &str) -> Option<Self> {
                Self::NAMES.iter().find(|(_, n)| n.eq_ignore_ascii_case(text)).map(|(v, _)| Self(*v))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{n} ({})", self.0),
                    None => write!(f, "unknown ({})", self.0),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self.name() {
                    Some(n) => s.serialize_str(n),
                    None => s.serialize_u8(self.0),
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                match serde_json::Value::deserialize(d)? {
                    serde_json::Value::String(s) => Self::from_name(&s).ok_or_else(|| {
                        let known: Vec<&str> = Self::NAMES.iter().map(|(_, n)| *n).collect();
                        serde::de::Error::custom(format!("unknown name `{s}` (known: {})", known.join(", ")))
                    }),
                    serde_json::Value::Number(n) => n
                        .as_u64()
                        .and_then(|v| u8::try_from(v).ok())
                        .map(Self)
                        .ok_or_else(|| serde::de::Error::custom(format!("{n} does not fit in one byte"))),
                    other => Err(serde::de::Error::custom(format!("expected a name or a number, got {other}"))),
                }
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> String {
                stringify!($name).to_owned()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let names: Vec<&str> = Self::NAMES.iter().map(|(_, n)| *n).collect();
                schema_from(serde_json::json!({
                    "anyOf": [
                        { "type": "string", "enum": names },
                        { "type": "integer", "minimum": 0, "maximum": 255 }
                    ]
                }))
            }
        }
    };
}

named_u8! {
    /// The agent type byte of a v1 client frame (ERRATA Inedo-8; absent in v2, ERRATA Inedo-10).
    AgentType {
        /// Meta commands handled by the agent itself (Update Agent, Get Agent Root Path).
        META = 0 => "meta",
        OTTER = 1 => "otter",
        BUILDMASTER = 2 => "buildmaster",
        HEDGEHOG = 3 => "hedgehog",
    }
}

named_u8! {
    /// "Required encryption mode" of the handshake reply (spec "Handshake", reply offset 0).
    EncryptionMode {
        NONE = 0 => "none",
        SSL = 1 => "ssl",
        AES = 2 => "aes",
    }
}

/// Command codes of the meta agent type (ERRATA Inedo-8). Product command codes are not public.
pub mod meta_command {
    /// Update Agent (payload format not public: carried raw).
    pub const UPDATE_AGENT: i32 = 2;
    /// Get Agent Root Path (request without data; the reply carries one .NET string).
    pub const GET_AGENT_ROOT_PATH: i32 = 3;
}

/// A 16-byte AES initialization vector, as 32 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Iv(pub [u8; 16]);

impl Iv {
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw = parse_hex(text)?;
        let bytes: [u8; 16] = raw
            .try_into()
            .map_err(|v: Vec<u8>| format!("an IV is 16 bytes (32 hex digits), got {}", v.len()))?;
        Ok(Iv(bytes))
    }

    /// The deterministic successor used when a message gives no `nextIv`: the IV plus one, read as a
    /// big-endian 128-bit counter (the codec never draws random numbers, so vectors stay reproducible).
    pub fn successor(self) -> Iv {
        Iv(u128::from_be_bytes(self.0).wrapping_add(1).to_be_bytes())
    }
}

impl Serialize for Iv {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Iv {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Iv::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Iv {
    fn schema_name() -> String {
        "Iv".to_owned()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema_from(serde_json::json!({ "type": "string", "description": "16 bytes as 32 hex digits" }))
    }
}

/// Opaque bytes as a hex string (spaces allowed on input).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct HexBytes(pub Vec<u8>);

impl Serialize for HexBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_hex(&s).map(HexBytes).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for HexBytes {
    fn schema_name() -> String {
        "HexBytes".to_owned()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema_from(serde_json::json!({ "type": "string", "description": "bytes as hex digits" }))
    }
}

/// The server version of the handshake reply, in either reading of ERRATA Inedo-3:
/// `[major, minor, build, revision]` (four int32, `server-version=int32x4`) or one int32
/// (`server-version=int32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ServerVersion {
    Parts([i32; 4]),
    Single(i32),
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn known_values_use_names_and_unknown_ones_round_trip_as_numbers() {
        assert_eq!(
            serde_json::to_value(AgentType::OTTER).unwrap(),
            serde_json::json!("otter")
        );
        assert_eq!(serde_json::to_value(AgentType(9)).unwrap(), serde_json::json!(9));
        let back: AgentType = serde_json::from_value(serde_json::json!(9)).unwrap();
        assert_eq!(back, AgentType(9));
        let named: EncryptionMode = serde_json::from_value(serde_json::json!("AES")).unwrap();
        assert_eq!(named, EncryptionMode::AES);
        assert!(serde_json::from_value::<EncryptionMode>(serde_json::json!("rot13")).is_err());
        assert!(serde_json::from_value::<EncryptionMode>(serde_json::json!(256)).is_err());
    }

    #[test]
    fn iv_parses_exactly_sixteen_bytes_and_counts_up() {
        let iv = Iv::parse("000102030405060708090a0b0c0d0eff").unwrap();
        assert_eq!(
            iv.successor(),
            Iv::parse("000102030405060708090a0b0c0d0f00").unwrap()
        );
        assert!(Iv::parse("0001").is_err());
        assert_eq!(Iv([0xff; 16]).successor(), Iv([0; 16]));
    }

    #[test]
    fn server_version_reads_both_shapes() {
        let four: ServerVersion = serde_json::from_value(serde_json::json!([5, 1, 2, 3])).unwrap();
        assert_eq!(four, ServerVersion::Parts([5, 1, 2, 3]));
        let one: ServerVersion = serde_json::from_value(serde_json::json!(7)).unwrap();
        assert_eq!(one, ServerVersion::Single(7));
    }
}
