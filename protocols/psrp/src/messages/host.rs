//! Host calls and responses (MS-PSRP §2.2.2.15, §2.2.2.16, §2.2.2.26, §2.2.2.27; §2.2.3.17 methods).

use super::util::*;
use super::Body;
use crate::clixml::ClixmlValue;
use crate::header::MessageType;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// §2.2.3.17 Host method identifiers, 1-based, in the order of RemoteHostMethodId.
pub const HOST_METHODS: [&str; 56] = [
    "GetName",
    "GetVersion",
    "GetInstanceId",
    "GetCurrentCulture",
    "GetCurrentUICulture",
    "SetShouldExit",
    "EnterNestedPrompt",
    "ExitNestedPrompt",
    "NotifyBeginApplication",
    "NotifyEndApplication",
    "ReadLine",
    "ReadLineAsSecureString",
    "Write1",
    "Write2",
    "WriteLine1",
    "WriteLine2",
    "WriteLine3",
    "WriteErrorLine",
    "WriteDebugLine",
    "WriteProgress",
    "WriteVerboseLine",
    "WriteWarningLine",
    "Prompt",
    "PromptForCredential1",
    "PromptForCredential2",
    "PromptForChoice",
    "GetForegroundColor",
    "SetForegroundColor",
    "GetBackgroundColor",
    "SetBackgroundColor",
    "GetCursorPosition",
    "SetCursorPosition",
    "GetWindowPosition",
    "SetWindowPosition",
    "GetCursorSize",
    "SetCursorSize",
    "GetBufferSize",
    "SetBufferSize",
    "GetWindowSize",
    "SetWindowSize",
    "GetWindowTitle",
    "SetWindowTitle",
    "GetMaxWindowSize",
    "GetMaxPhysicalWindowSize",
    "GetKeyAvailable",
    "ReadKey",
    "FlushInputBuffer",
    "SetBufferContents1",
    "SetBufferContents2",
    "GetBufferContents",
    "ScrollBufferContents",
    "PushRunspace",
    "PopRunspace",
    "GetIsRunspacePushed",
    "GetRunspace",
    "PromptForChoiceMultipleSelection",
];

/// The method name for an id (`None` when unknown).
pub fn host_method_name(id: i32) -> Option<&'static str> {
    usize::try_from(id)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| HOST_METHODS.get(i).copied())
}

/// Which host methods return a value, so the caller waits for a HOST_RESPONSE (§2.2.3.17: the
/// Get*, Read* and Prompt* methods).
pub fn host_method_returns(id: i32) -> bool {
    matches!(host_method_name(id), Some(n) if n.starts_with("Get") || n.starts_with("Read") || n.starts_with("Prompt"))
}

const METHOD_ID_TYPE: &str = "System.Management.Automation.Remoting.RemoteHostMethodId";
const ARRAY_LIST: [&str; 2] = ["System.Collections.ArrayList", "System.Object"];

fn method_id(id: i32, name: &Option<String>) -> ClixmlValue {
    let n = name
        .clone()
        .or_else(|| host_method_name(id).map(str::to_owned))
        .unwrap_or_else(|| id.to_string());
    enum_obj(METHOD_ID_TYPE, &n, id)
}

macro_rules! host_call {
    ($(#[$doc:meta])* $name:ident, $ty:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
        #[serde(default, deny_unknown_fields, rename_all = "camelCase")]
        pub struct $name {
            /// Call id; -100 for calls that need no answer.
            pub ci: i64,
            /// §2.2.3.17 method id (`mi`).
            pub method_id: i32,
            /// ToString of the method id (defaults from [`HOST_METHODS`]).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub method_name: Option<String>,
            /// `mp`: the method parameters.
            pub parameters: Vec<ClixmlValue>,
        }

        impl Body for $name {
            const TYPE: MessageType = MessageType::$ty;
            fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
                Ok(Some(ms(vec![
                    ("ci", ClixmlValue::I64(self.ci)),
                    ("mi", method_id(self.method_id, &self.method_name)),
                    ("mp", list_obj(&ARRAY_LIST, self.parameters.clone())),
                ])))
            }
            fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
                let mi = require(member(v, "mi"), "mi")?;
                Ok(Self {
                    ci: require(get_i64(v, "ci"), "ci")?,
                    method_id: mi.as_i32().ok_or("mi is not an integer")?,
                    method_name: mi.as_object().and_then(|o| o.to_string.clone()),
                    parameters: member(v, "mp").and_then(ClixmlValue::as_list).map(<[_]>::to_vec).unwrap_or_default(),
                })
            }
        }
    };
}

macro_rules! host_response {
    ($(#[$doc:meta])* $name:ident, $ty:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
        #[serde(default, deny_unknown_fields, rename_all = "camelCase")]
        pub struct $name {
            pub ci: i64,
            pub method_id: i32,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub method_name: Option<String>,
            /// `mr`: the return value (absent for void methods).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub return_value: Option<ClixmlValue>,
            /// `me`: an ErrorRecord when the host method failed.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub exception: Option<ClixmlValue>,
        }

        impl Body for $name {
            const TYPE: MessageType = MessageType::$ty;
            fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
                let mut m = vec![("ci", ClixmlValue::I64(self.ci)), ("mi", method_id(self.method_id, &self.method_name))];
                if let Some(r) = &self.return_value {
                    m.push(("mr", r.clone()));
                }
                if let Some(e) = &self.exception {
                    m.push(("me", e.clone()));
                }
                Ok(Some(ms(m)))
            }
            fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
                let mi = require(member(v, "mi"), "mi")?;
                Ok(Self {
                    ci: require(get_i64(v, "ci"), "ci")?,
                    method_id: mi.as_i32().ok_or("mi is not an integer")?,
                    method_name: mi.as_object().and_then(|o| o.to_string.clone()),
                    return_value: member(v, "mr").cloned(),
                    exception: member(v, "me").cloned(),
                })
            }
        }
    };
}

host_call!(
    /// §2.2.2.15 RUNSPACEPOOL_HOST_CALL.
    RunspacePoolHostCall, RUNSPACEPOOL_HOST_CALL
);
host_call!(
    /// §2.2.2.26 PIPELINE_HOST_CALL.
    PipelineHostCall, PIPELINE_HOST_CALL
);
host_response!(
    /// §2.2.2.16 RUNSPACEPOOL_HOST_RESPONSE.
    RunspacePoolHostResponse, RUNSPACEPOOL_HOST_RESPONSE
);
host_response!(
    /// §2.2.2.27 PIPELINE_HOST_RESPONSE.
    PipelineHostResponse, PIPELINE_HOST_RESPONSE
);
