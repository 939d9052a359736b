//! Stream records (MS-PSRP §2.2.2.20 ERROR_RECORD, §2.2.2.22–§2.2.2.26; §2.2.3.15 ErrorRecord,
//! §2.2.3.16 InformationalRecord; INFORMATION_RECORD from the current table). The typed views hold the key fields;
//! the full object stays in `data`.

use super::util::*;
use super::Body;
use crate::clixml::{ClixmlObject, ClixmlValue, Property};
use crate::header::MessageType;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// §2.2.2.20 ERROR_RECORD.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ErrorRecord {
    /// The record's ToString (the error message).
    pub message: String,
    pub fully_qualified_error_id: String,
    /// §2.2.3.15 ErrorCategory_Category (0 NotSpecified).
    pub category: i32,
    /// .NET type of the exception (first type name).
    pub exception_type: String,
}

impl Body for ErrorRecord {
    const TYPE: MessageType = MessageType::ERROR_RECORD;
    fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
        let exception_type = if self.exception_type.is_empty() {
            "System.Exception"
        } else {
            &self.exception_type
        };
        let exception = ClixmlObject {
            type_names: Some(vec![exception_type.to_owned(), "System.Object".into()]),
            to_string: Some(format!("{exception_type}: {}", self.message)),
            props: vec![Property::new("Message", s(&self.message))],
            ..Default::default()
        };
        let ms_members = vec![
            Property::new("Exception", ClixmlValue::obj(exception)),
            Property::new("TargetObject", ClixmlValue::Nil),
            Property::new("FullyQualifiedErrorId", s(&self.fully_qualified_error_id)),
            Property::new("InvocationInfo", ClixmlValue::Nil),
            Property::new("ErrorCategory_Category", ClixmlValue::I32(self.category)),
            Property::new("ErrorCategory_Activity", s("")),
            Property::new(
                "ErrorCategory_Reason",
                s(exception_type.rsplit('.').next().unwrap_or(exception_type)),
            ),
            Property::new("ErrorCategory_TargetName", s("")),
            Property::new("ErrorCategory_TargetType", s("")),
            Property::new("ErrorCategory_Message", s(&self.message)),
            Property::new("SerializeExtendedInfo", ClixmlValue::B(false)),
        ];
        Ok(Some(ClixmlValue::obj(ClixmlObject {
            type_names: Some(vec![
                "System.Management.Automation.ErrorRecord".into(),
                "System.Object".into(),
            ]),
            to_string: Some(self.message.clone()),
            ms: ms_members,
            ..Default::default()
        })))
    }
    fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
        let o = v
            .and_then(ClixmlValue::as_object)
            .ok_or("an ERROR_RECORD body is an <Obj>")?;
        let exception = member(v, "Exception");
        Ok(Self {
            message: o.to_string.clone().unwrap_or_default(),
            fully_qualified_error_id: get_str(v, "FullyQualifiedErrorId").unwrap_or_default(),
            category: get_i32(v, "ErrorCategory_Category").unwrap_or_default(),
            exception_type: exception
                .and_then(ClixmlValue::as_object)
                .and_then(|e| e.type_names.as_ref())
                .and_then(|t| t.first().cloned())
                .unwrap_or_default(),
        })
    }
}

macro_rules! informational {
    ($(#[$doc:meta])* $name:ident, $ty:ident, $type_name:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
        #[serde(default, deny_unknown_fields, rename_all = "camelCase")]
        pub struct $name {
            /// InformationalRecord_Message.
            pub message: String,
        }

        impl Body for $name {
            const TYPE: MessageType = MessageType::$ty;
            fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
                Ok(Some(ClixmlValue::obj(ClixmlObject {
                    type_names: Some(vec![
                        $type_name.into(),
                        "System.Management.Automation.InformationalRecord".into(),
                        "System.Object".into(),
                    ]),
                    to_string: Some(self.message.clone()),
                    ms: vec![
                        Property::new("InformationalRecord_Message", s(&self.message)),
                        Property::new("InformationalRecord_SerializeInvocationInfo", ClixmlValue::B(false)),
                    ],
                    ..Default::default()
                })))
            }
            fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
                Ok(Self {
                    message: require(get_str(v, "InformationalRecord_Message"), "InformationalRecord_Message")?,
                })
            }
        }
    };
}

informational!(
    /// §2.2.2.22 DEBUG_RECORD.
    DebugRecord, DEBUG_RECORD, "System.Management.Automation.DebugRecord"
);
informational!(
    /// §2.2.2.23 VERBOSE_RECORD.
    VerboseRecord, VERBOSE_RECORD, "System.Management.Automation.VerboseRecord"
);
informational!(
    /// §2.2.2.24 WARNING_RECORD.
    WarningRecord, WARNING_RECORD, "System.Management.Automation.WarningRecord"
);

/// §2.2.2.25 PROGRESS_RECORD (ProgressRecord members; §2.2.5.1.25 for the PR form).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ProgressRecord {
    pub activity: String,
    pub activity_id: i32,
    pub status_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_operation: Option<String>,
    pub parent_activity_id: i32,
    pub percent_complete: i32,
    /// ProgressRecordType: 0 Processing, 1 Completed.
    #[serde(rename = "type")]
    pub record_type: i32,
    pub seconds_remaining: i32,
}

impl Default for ProgressRecord {
    fn default() -> Self {
        Self {
            activity: String::new(),
            activity_id: 0,
            status_description: String::new(),
            current_operation: None,
            parent_activity_id: -1,
            percent_complete: -1,
            record_type: 0,
            seconds_remaining: -1,
        }
    }
}

impl Body for ProgressRecord {
    const TYPE: MessageType = MessageType::PROGRESS_RECORD;
    fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
        let type_name = if self.record_type == 1 {
            "Completed"
        } else {
            "Processing"
        };
        Ok(Some(ms(vec![
            ("Activity", s(&self.activity)),
            ("ActivityId", ClixmlValue::I32(self.activity_id)),
            ("StatusDescription", s(&self.status_description)),
            ("CurrentOperation", opt_s(&self.current_operation)),
            ("ParentActivityId", ClixmlValue::I32(self.parent_activity_id)),
            ("PercentComplete", ClixmlValue::I32(self.percent_complete)),
            (
                "Type",
                enum_obj(
                    "System.Management.Automation.ProgressRecordType",
                    type_name,
                    self.record_type,
                ),
            ),
            ("SecondsRemaining", ClixmlValue::I32(self.seconds_remaining)),
        ])))
    }
    fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
        Ok(Self {
            activity: require(get_str(v, "Activity"), "Activity")?,
            activity_id: get_i32(v, "ActivityId").unwrap_or_default(),
            status_description: get_str(v, "StatusDescription").unwrap_or_default(),
            current_operation: get_str(v, "CurrentOperation"),
            parent_activity_id: get_i32(v, "ParentActivityId").unwrap_or(-1),
            percent_complete: get_i32(v, "PercentComplete").unwrap_or(-1),
            record_type: get_i32(v, "Type").unwrap_or_default(),
            seconds_remaining: get_i32(v, "SecondsRemaining").unwrap_or(-1),
        })
    }
}

/// INFORMATION_RECORD (current §2.2.1 table; protocol 2.3, not in the 2013 text).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct InformationRecord {
    pub message_data: Option<ClixmlValue>,
    pub source: String,
    pub time_generated: String,
    pub tags: Vec<String>,
    pub user: String,
    pub computer: String,
    pub process_id: u32,
    pub native_thread_id: u32,
    pub managed_thread_id: u32,
}

const STRING_LIST: [&str; 2] = [
    "System.Collections.Generic.List`1[[System.String, mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089]]",
    "System.Object",
];

impl Body for InformationRecord {
    const TYPE: MessageType = MessageType::INFORMATION_RECORD;
    fn to_clixml(&self) -> Result<Option<ClixmlValue>, String> {
        Ok(Some(ms(vec![
            ("MessageData", opt(&self.message_data)),
            ("Source", s(&self.source)),
            ("TimeGenerated", ClixmlValue::DT(self.time_generated.clone())),
            (
                "Tags",
                list_obj(&STRING_LIST, self.tags.iter().map(|t| s(t)).collect()),
            ),
            ("User", s(&self.user)),
            ("Computer", s(&self.computer)),
            ("ProcessId", ClixmlValue::U32(self.process_id)),
            ("NativeThreadId", ClixmlValue::U32(self.native_thread_id)),
            ("ManagedThreadId", ClixmlValue::U32(self.managed_thread_id)),
        ])))
    }
    fn from_clixml(v: Option<&ClixmlValue>) -> Result<Self, String> {
        let u32_of = |name| {
            get_i64(v, name)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or_default()
        };
        Ok(Self {
            message_data: get_value(v, "MessageData"),
            source: get_str(v, "Source").unwrap_or_default(),
            time_generated: get_str(v, "TimeGenerated").unwrap_or_default(),
            tags: get_strings(v, "Tags"),
            user: get_str(v, "User").unwrap_or_default(),
            computer: get_str(v, "Computer").unwrap_or_default(),
            process_id: u32_of("ProcessId"),
            native_thread_id: u32_of("NativeThreadId"),
            managed_thread_id: u32_of("ManagedThreadId"),
        })
    }
}
