//! RunspacePool messages (MS-PSRP §2.2.2.1–§2.2.2.14, §2.2.2.28–§2.2.2.29, RESET_RUNSPACE_STATE).

use super::util::*;
use super::Body;
use crate::clixml::{ClixmlObject, ClixmlValue};
use crate::header::MessageType;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// §2.2.2.1 SESSION_CAPABILITY: protocol, PowerShell and serialization versions, optional TimeZone.
/// ERRATA PSRP-5: PowerShell clients require PSVersion 2.0 and SerializationVersion 1.1.0.1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionCapability {
    pub protocol_version: String,
    pub ps_version: String,
    pub serialization_version: String,
    /// §2.2.3.10 TimeZone: bytes of a serialized .NET TimeZone (hex), clients only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl Default for SessionCapability {
    fn default() -> Self {
        Self {
            protocol_version: "2.3".into(),
            ps_version: "2.0".into(),
            serialization_version: "1.1.0.1".into(),
            time_zone: None,
        }
    }
}

impl Body for SessionCapability {
    const TYPE: MessageType = MessageType::SESSION_CAPABILITY;
    fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
        let mut m = vec![
            (
                "protocolversion",
                ClixmlValue::Version(self.protocol_version.clone()),
            ),
            ("PSVersion", ClixmlValue::Version(self.ps_version.clone())),
            (
                "SerializationVersion",
                ClixmlValue::Version(self.serialization_version.clone()),
            ),
        ];
        if let Some(tz) = &self.time_zone {
            m.push((
                "TimeZone",
                ClixmlValue::BA(hex::decode(tz).map_err(|e| format!("timeZone: {e}"))?),
            ));
        }
        Ok(Some(ms(m)))
    }
    fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
        // §2.2.2.1: the three versions are mandatory members.
        Ok(Self {
            protocol_version: require(get_str(v, "protocolversion"), "protocolversion")?,
            ps_version: require(get_str(v, "PSVersion"), "PSVersion")?,
            serialization_version: require(get_str(v, "SerializationVersion"), "SerializationVersion")?,
            time_zone: match member(v, "TimeZone") {
                Some(ClixmlValue::BA(b)) => Some(hex::encode(b)),
                _ => None,
            },
        })
    }
}

/// §2.2.3.14 HostInfo with no host: the four `_is…Null` flags set.
pub(crate) fn null_host_info() -> ClixmlValue {
    ms(vec![
        ("_isHostNull", ClixmlValue::B(true)),
        ("_isHostUINull", ClixmlValue::B(true)),
        ("_isHostRawUINull", ClixmlValue::B(true)),
        ("_useRunspaceHost", ClixmlValue::B(true)),
    ])
}

/// §2.2.3.7 ApartmentState names.
pub(crate) fn apartment_state_name(v: i32) -> &'static str {
    match v {
        0 => "STA",
        1 => "MTA",
        _ => "Unknown",
    }
}

/// §2.2.2.2 INIT_RUNSPACEPOOL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct InitRunspacePool {
    pub min_runspaces: i32,
    pub max_runspaces: i32,
    /// §2.2.3.6 PSThreadOptions: 0 Default, 1 UseNewThread, 2 ReuseThread, 3 UseCurrentThread.
    pub ps_thread_options: i32,
    /// §2.2.3.7 ApartmentState: 0 STA, 1 MTA, 2 Unknown.
    pub apartment_state: i32,
    /// §2.2.3.14 HostInfo (default: no host).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_info: Option<ClixmlValue>,
    /// §2.2.3.13 ApplicationArguments (a PSPrimitiveDictionary) or absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_arguments: Option<ClixmlValue>,
}

impl Default for InitRunspacePool {
    fn default() -> Self {
        Self {
            min_runspaces: 1,
            max_runspaces: 1,
            ps_thread_options: 0,
            apartment_state: 2,
            host_info: None,
            application_arguments: None,
        }
    }
}

fn thread_options_name(v: i32) -> &'static str {
    match v {
        1 => "UseNewThread",
        2 => "ReuseThread",
        3 => "UseCurrentThread",
        _ => "Default",
    }
}

impl Body for InitRunspacePool {
    const TYPE: MessageType = MessageType::INIT_RUNSPACEPOOL;
    fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
        Ok(Some(ms(vec![
            ("MinRunspaces", ClixmlValue::I32(self.min_runspaces)),
            ("MaxRunspaces", ClixmlValue::I32(self.max_runspaces)),
            (
                "PSThreadOptions",
                enum_obj(
                    "System.Management.Automation.Runspaces.PSThreadOptions",
                    thread_options_name(self.ps_thread_options),
                    self.ps_thread_options,
                ),
            ),
            (
                "ApartmentState",
                enum_obj(
                    "System.Threading.ApartmentState",
                    apartment_state_name(self.apartment_state),
                    self.apartment_state,
                ),
            ),
            ("HostInfo", self.host_info.clone().unwrap_or_else(null_host_info)),
            ("ApplicationArguments", opt(&self.application_arguments)),
        ])))
    }
    fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
        Ok(Self {
            min_runspaces: require(get_i32(v, "MinRunspaces"), "MinRunspaces")?,
            max_runspaces: require(get_i32(v, "MaxRunspaces"), "MaxRunspaces")?,
            ps_thread_options: get_i32(v, "PSThreadOptions").unwrap_or(0),
            apartment_state: get_i32(v, "ApartmentState").unwrap_or(2),
            host_info: get_value(v, "HostInfo"),
            application_arguments: get_value(v, "ApplicationArguments"),
        })
    }
}

macro_rules! single_string_body {
    ($(#[$doc:meta])* $name:ident, $ty:ident, $field:ident, $member:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
        #[serde(default, deny_unknown_fields, rename_all = "camelCase")]
        pub struct $name {
            pub $field: String,
        }

        impl Body for $name {
            const TYPE: MessageType = MessageType::$ty;
            fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
                Ok(Some(ms(vec![($member, s(&self.$field))])))
            }
            fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
                Ok(Self { $field: require(get_str(v, $member), $member)? })
            }
        }
    };
}

single_string_body!(
    /// §2.2.2.3 PUBLIC_KEY: base64 of the client's RSA public key blob.
    PublicKey, PUBLIC_KEY, public_key, "PublicKey"
);
single_string_body!(
    /// §2.2.2.4 ENCRYPTED_SESSION_KEY: base64 of the session key encrypted with the client's key.
    EncryptedSessionKey, ENCRYPTED_SESSION_KEY, encrypted_session_key, "EncryptedSessionKey"
);

macro_rules! empty_string_body {
    ($(#[$doc:meta])* $name:ident, $ty:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {}

        impl Body for $name {
            const TYPE: MessageType = MessageType::$ty;
            fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
                Ok(Some(s("")))
            }
            fn from_clixml(_: Option<&ClixmlValue>) -> Result<Self, String> {
                Ok(Self {})
            }
        }
    };
}

empty_string_body!(
    /// §2.2.2.5 PUBLIC_KEY_REQUEST: an empty string.
    PublicKeyRequest, PUBLIC_KEY_REQUEST
);

/// §2.2.2.28 CONNECT_RUNSPACEPOOL (ERRATA PSRP-1): optionally the new min/max runspaces; an empty
/// string when the client keeps them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectRunspacePool {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_runspaces: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_runspaces: Option<i32>,
}

impl Body for ConnectRunspacePool {
    const TYPE: MessageType = MessageType::CONNECT_RUNSPACEPOOL;
    fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
        match (self.min_runspaces, self.max_runspaces) {
            (None, None) => Ok(Some(s(""))),
            (min, max) => Ok(Some(ms(vec![
                ("MinRunspaces", ClixmlValue::I32(min.unwrap_or(1))),
                ("MaxRunspaces", ClixmlValue::I32(max.unwrap_or(1))),
            ]))),
        }
    }
    fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
        Ok(Self {
            min_runspaces: get_i32(v, "MinRunspaces"),
            max_runspaces: get_i32(v, "MaxRunspaces"),
        })
    }
}

/// §2.2.2.29 RUNSPACE_INIT_DATA, RUNSPACEPOOL_INIT_DATA in the current table (ERRATA PSRP-1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RunspacePoolInitData {
    pub min_runspaces: i32,
    pub max_runspaces: i32,
}

impl Default for RunspacePoolInitData {
    fn default() -> Self {
        Self {
            min_runspaces: 1,
            max_runspaces: 1,
        }
    }
}

impl Body for RunspacePoolInitData {
    const TYPE: MessageType = MessageType::RUNSPACEPOOL_INIT_DATA;
    fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
        Ok(Some(ms(vec![
            ("MinRunspaces", ClixmlValue::I32(self.min_runspaces)),
            ("MaxRunspaces", ClixmlValue::I32(self.max_runspaces)),
        ])))
    }
    fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
        Ok(Self {
            min_runspaces: require(get_i32(v, "MinRunspaces"), "MinRunspaces")?,
            max_runspaces: require(get_i32(v, "MaxRunspaces"), "MaxRunspaces")?,
        })
    }
}

macro_rules! call_id_body {
    ($(#[$doc:meta])* $name:ident, $ty:ident $(, $field:ident : $member:literal)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
        #[serde(default, deny_unknown_fields, rename_all = "camelCase")]
        pub struct $name {
            $(pub $field: i32,)?
            /// Call id, echoed in RUNSPACE_AVAILABILITY.
            pub ci: i64,
        }

        impl Body for $name {
            const TYPE: MessageType = MessageType::$ty;
            fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
                Ok(Some(ms(vec![$(($member, ClixmlValue::I32(self.$field)),)? ("ci", ClixmlValue::I64(self.ci))])))
            }
            fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
                Ok(Self { $($field: require(get_i32(v, $member), $member)?,)? ci: require(get_i64(v, "ci"), "ci")? })
            }
        }
    };
}

call_id_body!(
    /// §2.2.2.6 SET_MAX_RUNSPACES.
    SetMaxRunspaces, SET_MAX_RUNSPACES, max_runspaces: "MaxRunspaces"
);
call_id_body!(
    /// §2.2.2.7 SET_MIN_RUNSPACES.
    SetMinRunspaces, SET_MIN_RUNSPACES, min_runspaces: "MinRunspaces"
);
call_id_body!(
    /// §2.2.2.11 GET_AVAILABLE_RUNSPACES.
    GetAvailableRunspaces, GET_AVAILABLE_RUNSPACES
);
call_id_body!(
    /// RESET_RUNSPACE_STATE (current §2.2.1 table; ERRATA PSRP-1).
    ResetRunspaceState, RESET_RUNSPACE_STATE
);

/// §2.2.2.8 RUNSPACE_AVAILABILITY: a Boolean for set min/max, a count for GET_AVAILABLE_RUNSPACES.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Availability {
    Accepted(bool),
    Count(i64),
}

impl Default for Availability {
    fn default() -> Self {
        Self::Accepted(true)
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RunspaceAvailability {
    pub set_min_max_runspaces_response: Availability,
    pub ci: i64,
}

impl Body for RunspaceAvailability {
    const TYPE: MessageType = MessageType::RUNSPACE_AVAILABILITY;
    fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
        let r = match self.set_min_max_runspaces_response {
            Availability::Accepted(b) => ClixmlValue::B(b),
            Availability::Count(n) => ClixmlValue::I64(n),
        };
        Ok(Some(ms(vec![
            ("SetMinMaxRunspacesResponse", r),
            ("ci", ClixmlValue::I64(self.ci)),
        ])))
    }
    fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
        let r = match require(
            member(v, "SetMinMaxRunspacesResponse"),
            "SetMinMaxRunspacesResponse",
        )? {
            ClixmlValue::B(b) => Availability::Accepted(*b),
            other => Availability::Count(
                other
                    .as_i64()
                    .ok_or("SetMinMaxRunspacesResponse is neither B nor a number")?,
            ),
        };
        Ok(Self {
            set_min_max_runspaces_response: r,
            ci: require(get_i64(v, "ci"), "ci")?,
        })
    }
}

/// §2.2.3.4 RunspacePoolState values.
pub mod runspace_state {
    pub const BEFORE_OPEN: i32 = 0;
    pub const OPENING: i32 = 1;
    pub const OPENED: i32 = 2;
    pub const CLOSED: i32 = 3;
    pub const CLOSING: i32 = 4;
    pub const BROKEN: i32 = 5;
    pub const NEGOTIATION_SENT: i32 = 6;
    pub const NEGOTIATION_SUCCEEDED: i32 = 7;
    pub const CONNECTING: i32 = 8;
    pub const DISCONNECTED: i32 = 9;
}

/// §2.2.2.9 RUNSPACEPOOL_STATE.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RunspacePoolState {
    /// §2.2.3.4: 2 Opened, 3 Closed, 5 Broken, … (see [`runspace_state`]).
    pub runspace_state: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_as_error_record: Option<ClixmlValue>,
}

impl Body for RunspacePoolState {
    const TYPE: MessageType = MessageType::RUNSPACEPOOL_STATE;
    fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
        let mut m = vec![("RunspaceState", ClixmlValue::I32(self.runspace_state))];
        if let Some(e) = &self.exception_as_error_record {
            m.push(("ExceptionAsErrorRecord", e.clone()));
        }
        Ok(Some(ms(m)))
    }
    fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
        Ok(Self {
            runspace_state: require(get_i32(v, "RunspaceState"), "RunspaceState")?,
            exception_as_error_record: get_value(v, "ExceptionAsErrorRecord"),
        })
    }
}

/// §2.2.2.12 USER_EVENT: a PSEventArgs with `PSEventArgs.*` members.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct UserEvent {
    pub event_identifier: i32,
    pub source_identifier: String,
    pub time_generated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<ClixmlValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_args: Option<ClixmlValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_data: Option<ClixmlValue>,
    pub computer_name: String,
    pub runspace_id: String,
}

impl Body for UserEvent {
    const TYPE: MessageType = MessageType::USER_EVENT;
    fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
        let o = ClixmlObject {
            type_names: Some(vec![
                "System.Management.Automation.PSEventArgs".into(),
                "System.EventArgs".into(),
                "System.Object".into(),
            ]),
            ms: vec![
                crate::clixml::Property::new(
                    "PSEventArgs.EventIdentifier",
                    ClixmlValue::I32(self.event_identifier),
                ),
                crate::clixml::Property::new("PSEventArgs.SourceIdentifier", s(&self.source_identifier)),
                crate::clixml::Property::new(
                    "PSEventArgs.TimeGenerated",
                    ClixmlValue::DT(self.time_generated.clone()),
                ),
                crate::clixml::Property::new("PSEventArgs.Sender", opt(&self.sender)),
                crate::clixml::Property::new("PSEventArgs.SourceArgs", opt(&self.source_args)),
                crate::clixml::Property::new("PSEventArgs.MessageData", opt(&self.message_data)),
                crate::clixml::Property::new("PSEventArgs.ComputerName", s(&self.computer_name)),
                crate::clixml::Property::new(
                    "PSEventArgs.RunspaceId",
                    ClixmlValue::G(self.runspace_id.clone()),
                ),
            ],
            ..Default::default()
        };
        Ok(Some(ClixmlValue::obj(o)))
    }
    fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
        Ok(Self {
            event_identifier: get_i32(v, "PSEventArgs.EventIdentifier").unwrap_or_default(),
            source_identifier: get_str(v, "PSEventArgs.SourceIdentifier").unwrap_or_default(),
            time_generated: get_str(v, "PSEventArgs.TimeGenerated").unwrap_or_default(),
            sender: get_value(v, "PSEventArgs.Sender"),
            source_args: get_value(v, "PSEventArgs.SourceArgs"),
            message_data: get_value(v, "PSEventArgs.MessageData"),
            computer_name: get_str(v, "PSEventArgs.ComputerName").unwrap_or_default(),
            runspace_id: get_str(v, "PSEventArgs.RunspaceId").unwrap_or_default(),
        })
    }
}

/// §2.2.2.13 APPLICATION_PRIVATE_DATA: a PSPrimitiveDictionary, passed on without interpretation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ApplicationPrivateData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_private_data: Option<ClixmlValue>,
}

pub(crate) const PRIMITIVE_DICTIONARY: [&str; 3] = [
    "System.Management.Automation.PSPrimitiveDictionary",
    "System.Collections.Hashtable",
    "System.Object",
];

impl Body for ApplicationPrivateData {
    const TYPE: MessageType = MessageType::APPLICATION_PRIVATE_DATA;
    fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
        let data = self.application_private_data.clone().unwrap_or_else(|| {
            ClixmlValue::obj(ClixmlObject {
                type_names: Some(PRIMITIVE_DICTIONARY.iter().map(|t| (*t).to_owned()).collect()),
                container: Some(crate::clixml::Container::DCT(vec![])),
                ..Default::default()
            })
        });
        Ok(Some(ms(vec![("ApplicationPrivateData", data)])))
    }
    fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
        Ok(Self {
            application_private_data: get_value(v, "ApplicationPrivateData"),
        })
    }
}

/// §2.2.2.14 GET_COMMAND_METADATA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct GetCommandMetadata {
    /// Command name patterns.
    pub name: Vec<String>,
    /// §2.2.3.19 CommandType flags (511 = All as pypsrp writes it).
    pub command_type: i32,
    pub namespace: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argument_list: Option<ClixmlValue>,
}

impl Default for GetCommandMetadata {
    fn default() -> Self {
        Self {
            name: vec!["*".into()],
            command_type: 511,
            namespace: vec![],
            argument_list: None,
        }
    }
}

const STRING_ARRAY: [&str; 3] = ["System.String[]", "System.Array", "System.Object"];

impl Body for GetCommandMetadata {
    const TYPE: MessageType = MessageType::GET_COMMAND_METADATA;
    fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
        let strings = |v: &[String]| {
            if v.is_empty() {
                ClixmlValue::Nil
            } else {
                list_obj(&STRING_ARRAY, v.iter().map(|x| s(x)).collect())
            }
        };
        Ok(Some(ms(vec![
            ("Name", strings(&self.name)),
            ("CommandType", ClixmlValue::I32(self.command_type)),
            ("Namespace", strings(&self.namespace)),
            ("ArgumentList", opt(&self.argument_list)),
        ])))
    }
    fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
        Ok(Self {
            name: get_strings(v, "Name"),
            command_type: get_i32(v, "CommandType").unwrap_or_default(),
            namespace: get_strings(v, "Namespace"),
            argument_list: get_value(v, "ArgumentList"),
        })
    }
}
