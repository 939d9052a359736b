//! Pipeline messages (MS-PSRP §2.2.2.10, §2.2.2.17–§2.2.2.19, §2.2.2.21; §2.2.3.11 PowerShell).

use super::runspacepool::{apartment_state_name, null_host_info};
use super::util::*;
use super::Body;
use crate::clixml::ClixmlValue;
use crate::header::MessageType;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

const PSOBJECT_LIST: [&str; 2] = [
    "System.Collections.Generic.List`1[[System.Management.Automation.PSObject, System.Management.Automation, Version=3.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35]]",
    "System.Object",
];
const RESULT_TYPES: &str = "System.Management.Automation.Runspaces.PipelineResultTypes";
const MERGE_MEMBERS: [&str; 8] = [
    "MergeMyResult",
    "MergeToResult",
    "MergePreviousResults",
    "MergeError",
    "MergeWarning",
    "MergeVerbose",
    "MergeDebug",
    "MergeInformation",
];

/// One argument of a command (§2.2.3.13 Command, `Args` items with `N` and `V`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct CommandArg {
    /// Parameter name; absent for a positional argument.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub value: Option<ClixmlValue>,
}

/// One command of the pipeline (§2.2.3.12).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Command {
    /// Command name or script text.
    pub cmd: String,
    pub is_script: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_local_scope: Option<bool>,
    pub args: Vec<CommandArg>,
}

/// §2.2.2.10 CREATE_PIPELINE. The typed view covers the switches and the commands; `powerShell`,
/// when given, replaces the whole PowerShell object (§2.2.3.11).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct CreatePipeline {
    pub no_input: bool,
    pub apartment_state: i32,
    /// §2.2.3.8 RemoteStreamOptions flags (15 = AddInvocationInfo).
    pub remote_stream_options: i32,
    pub add_to_history: bool,
    pub is_nested: bool,
    pub commands: Vec<Command>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_info: Option<ClixmlValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power_shell: Option<ClixmlValue>,
}

impl Default for CreatePipeline {
    fn default() -> Self {
        Self {
            no_input: true,
            apartment_state: 2,
            remote_stream_options: 0,
            add_to_history: false,
            is_nested: false,
            commands: vec![],
            host_info: None,
            power_shell: None,
        }
    }
}

fn stream_options_name(v: i32) -> String {
    match v {
        0 => "None".into(),
        15 => "AddInvocationInfo".into(),
        n => n.to_string(),
    }
}

fn command_obj(c: &Command) -> ClixmlValue {
    let mut m = vec![
        ("Cmd", s(&c.cmd)),
        ("IsScript", ClixmlValue::B(c.is_script)),
        (
            "UseLocalScope",
            c.use_local_scope.map_or(ClixmlValue::Nil, ClixmlValue::B),
        ),
    ];
    for name in MERGE_MEMBERS {
        m.push((name, enum_obj(RESULT_TYPES, "None", 0)));
    }
    let args = c
        .args
        .iter()
        .map(|a| ms(vec![("N", opt_s(&a.name)), ("V", opt(&a.value))]))
        .collect();
    m.push(("Args", list_obj(&PSOBJECT_LIST, args)));
    ms(m)
}

fn command_from(v: &ClixmlValue) -> Command {
    let v = Some(v);
    Command {
        cmd: get_str(v, "Cmd").unwrap_or_default(),
        is_script: get_bool(v, "IsScript").unwrap_or_default(),
        use_local_scope: get_bool(v, "UseLocalScope"),
        args: member(v, "Args")
            .and_then(ClixmlValue::as_list)
            .unwrap_or_default()
            .iter()
            .map(|a| CommandArg {
                name: get_str(Some(a), "N"),
                value: get_value(Some(a), "V"),
            })
            .collect(),
    }
}

impl Body for CreatePipeline {
    const TYPE: MessageType = MessageType::CREATE_PIPELINE;
    fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
        let power_shell = match &self.power_shell {
            Some(p) => p.clone(),
            None => ms(vec![
                (
                    "Cmds",
                    list_obj(&PSOBJECT_LIST, self.commands.iter().map(command_obj).collect()),
                ),
                ("IsNested", ClixmlValue::B(self.is_nested)),
                ("History", ClixmlValue::Nil),
                ("RedirectShellErrorOutputPipe", ClixmlValue::B(true)),
            ]),
        };
        Ok(Some(ms(vec![
            ("NoInput", ClixmlValue::B(self.no_input)),
            (
                "ApartmentState",
                enum_obj(
                    "System.Management.Automation.Runspaces.ApartmentState",
                    apartment_state_name(self.apartment_state),
                    self.apartment_state,
                ),
            ),
            (
                "RemoteStreamOptions",
                enum_obj(
                    "System.Management.Automation.Runspaces.RemoteStreamOptions",
                    &stream_options_name(self.remote_stream_options),
                    self.remote_stream_options,
                ),
            ),
            ("AddToHistory", ClixmlValue::B(self.add_to_history)),
            ("HostInfo", self.host_info.clone().unwrap_or_else(null_host_info)),
            ("PowerShell", power_shell),
            ("IsNested", ClixmlValue::B(self.is_nested)),
        ])))
    }
    fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
        let ps = require(member(v, "PowerShell"), "PowerShell")?;
        let commands = member(Some(ps), "Cmds")
            .and_then(ClixmlValue::as_list)
            .ok_or("PowerShell.Cmds is not a list")?
            .iter()
            .map(command_from)
            .collect();
        Ok(Self {
            no_input: get_bool(v, "NoInput").unwrap_or(true),
            apartment_state: get_i32(v, "ApartmentState").unwrap_or(2),
            remote_stream_options: get_i32(v, "RemoteStreamOptions").unwrap_or(0),
            add_to_history: get_bool(v, "AddToHistory").unwrap_or(false),
            is_nested: get_bool(v, "IsNested").unwrap_or(false),
            commands,
            host_info: get_value(v, "HostInfo"),
            power_shell: None,
        })
    }
}

macro_rules! value_body {
    ($(#[$doc:meta])* $name:ident, $ty:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
        #[serde(default, deny_unknown_fields, rename_all = "camelCase")]
        pub struct $name {
            /// The serialized object (defaults to `<Nil />`).
            pub value: Option<ClixmlValue>,
        }

        impl Body for $name {
            const TYPE: MessageType = MessageType::$ty;
            fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
                Ok(Some(opt(&self.value)))
            }
            fn into_clixml(self) -> Result<Option<ClixmlValue>, String> {
                Ok(Some(self.value.unwrap_or(ClixmlValue::Nil)))
            }
            fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
                Ok(Self { value: v.cloned() })
            }
        }
    };
}

value_body!(
    /// §2.2.2.17 PIPELINE_INPUT: one input object.
    PipelineInput, PIPELINE_INPUT
);
value_body!(
    /// §2.2.2.19 PIPELINE_OUTPUT: one output object.
    PipelineOutput, PIPELINE_OUTPUT
);

/// §2.2.2.18 END_OF_PIPELINE_INPUT: "The data field is empty."
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EndOfPipelineInput {}

impl Body for EndOfPipelineInput {
    const TYPE: MessageType = MessageType::END_OF_PIPELINE_INPUT;
    fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
        Ok(None)
    }
    fn from_clixml(_: Option<&ClixmlValue>) -> Result<Self, String> {
        Ok(Self {})
    }
}

/// §2.2.3.5 PSInvocationState values.
pub mod pipeline_state {
    pub const NOT_STARTED: i32 = 0;
    pub const RUNNING: i32 = 1;
    pub const STOPPING: i32 = 2;
    pub const STOPPED: i32 = 3;
    pub const COMPLETED: i32 = 4;
    pub const FAILED: i32 = 5;
    pub const DISCONNECTED: i32 = 6;
}

/// §2.2.2.21 PIPELINE_STATE.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct PipelineState {
    /// §2.2.3.5: 3 Stopped, 4 Completed, 5 Failed, … (see [`pipeline_state`]).
    pub pipeline_state: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_as_error_record: Option<ClixmlValue>,
}

impl Body for PipelineState {
    const TYPE: MessageType = MessageType::PIPELINE_STATE;
    fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
        let mut m = vec![("PipelineState", ClixmlValue::I32(self.pipeline_state))];
        if let Some(e) = &self.exception_as_error_record {
            m.push(("ExceptionAsErrorRecord", e.clone()));
        }
        Ok(Some(ms(m)))
    }
    fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
        Ok(Self {
            pipeline_state: require(get_i32(v, "PipelineState"), "PipelineState")?,
            exception_as_error_record: get_value(v, "ExceptionAsErrorRecord"),
        })
    }
}
