//! Flag and capability sets as newtypes over the wire integer.
//!
//! Every bit the specs name has an associated constant and a kebab-case name. In the structured form
//! a set is written as a number, a list of names and/or numbers, or `"a|b"`; it is always produced as
//! a number, so unknown bits round-trip untouched.

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject, SingleOrVec, SubschemaValidation};
use serde::{Deserialize, Deserializer};

/// What a flag set looks like in the structured form before its names are resolved.
#[derive(Deserialize)]
#[serde(untagged)]
enum FlagsRepr {
    Number(u64),
    Text(String),
    List(Vec<FlagItem>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FlagItem {
    Number(u64),
    Name(String),
}

fn resolve(names: &[(&str, u64)], name: &str) -> Option<u64> {
    let key = name.trim().to_ascii_lowercase().replace('_', "-");
    if let Some(hex) = key.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).ok();
    }
    if let Ok(n) = key.parse::<u64>() {
        return Some(n);
    }
    names.iter().find(|(n, _)| *n == key).map(|(_, v)| *v)
}

/// Deserialize a flag set of width `max` from any accepted representation.
pub(crate) fn deserialize_bits<'de, D: Deserializer<'de>>(
    d: D,
    names: &[(&str, u64)],
    max: u64,
) -> Result<u64, D::Error> {
    let unknown = |n: &str| {
        let known: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
        serde::de::Error::custom(format!("unknown flag `{n}` (known: {})", known.join(", ")))
    };
    let bits = match FlagsRepr::deserialize(d)? {
        FlagsRepr::Number(n) => n,
        FlagsRepr::Text(t) => {
            let mut acc = 0u64;
            for part in t.split(['|', ',']).filter(|p| !p.trim().is_empty()) {
                acc |= resolve(names, part).ok_or_else(|| unknown(part))?;
            }
            acc
        }
        FlagsRepr::List(items) => {
            let mut acc = 0u64;
            for item in items {
                acc |= match item {
                    FlagItem::Number(n) => n,
                    FlagItem::Name(s) => resolve(names, &s).ok_or_else(|| unknown(&s))?,
                };
            }
            acc
        }
    };
    if bits > max {
        return Err(serde::de::Error::custom(format!(
            "flag value {bits:#x} does not fit in {max:#x}"
        )));
    }
    Ok(bits)
}

/// JSON schema: an integer, a `"a|b"` string, or a list of names/integers.
pub(crate) fn flags_schema(names: &[(&str, u64)]) -> Schema {
    let listed: Vec<String> = names.iter().map(|(n, v)| format!("{n}={v:#x}")).collect();
    let integer = Schema::Object(SchemaObject {
        instance_type: Some(SingleOrVec::Single(Box::new(InstanceType::Integer))),
        ..Default::default()
    });
    let string = Schema::Object(SchemaObject {
        instance_type: Some(SingleOrVec::Single(Box::new(InstanceType::String))),
        ..Default::default()
    });
    let mut list = SchemaObject {
        instance_type: Some(SingleOrVec::Single(Box::new(InstanceType::Array))),
        ..Default::default()
    };
    list.array().items = Some(SingleOrVec::Vec(vec![integer.clone(), string.clone()]));
    let mut obj = SchemaObject {
        subschemas: Some(Box::new(SubschemaValidation {
            any_of: Some(vec![integer, string, Schema::Object(list)]),
            ..Default::default()
        })),
        ..Default::default()
    };
    obj.metadata().description = Some(format!(
        "flags: a number, \"a|b\" or a list; names: {}",
        listed.join(", ")
    ));
    Schema::Object(obj)
}

/// Defines a flag-set newtype: constants, names, serde (number out; number, names or list in) and schema.
macro_rules! flag_set {
    ($(#[$meta:meta])* $name:ident: $ty:ty { $( $(#[$fmeta:meta])* $konst:ident = $val:expr => $text:literal ),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub $ty);

        impl $name {
            $( $(#[$fmeta])* pub const $konst: Self = Self($val); )*
            /// Every named bit: (kebab-case name, value).
            pub const NAMES: &'static [(&'static str, u64)] = &[ $( ($text, $val as u64) ),* ];

            pub const fn empty() -> Self {
                Self(0)
            }

            pub const fn bits(self) -> $ty {
                self.0
            }

            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }

            pub const fn intersects(self, other: Self) -> bool {
                self.0 & other.0 != 0
            }

            /// Names of the set bits this set knows.
            pub fn names(self) -> Vec<&'static str> {
                Self::NAMES.iter().filter(|(_, v)| (self.0 as u64) & v != 0).map(|(n, _)| *n).collect()
            }
        }

        impl std::ops::BitOr for $name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                Self(self.0 | rhs.0)
            }
        }

        impl std::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: Self) {
                self.0 |= rhs.0;
            }
        }

        impl std::ops::BitAnd for $name {
            type Output = Self;
            fn bitand(self, rhs: Self) -> Self {
                Self(self.0 & rhs.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u64(u64::from(self.0))
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let bits = $crate::flags::deserialize_bits(d, Self::NAMES, u64::from(<$ty>::MAX))?;
                <$ty>::try_from(bits).map(Self).map_err(serde::de::Error::custom)
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> String {
                stringify!($name).to_owned()
            }
            fn json_schema(_gen: &mut SchemaGenerator) -> Schema {
                $crate::flags::flags_schema(Self::NAMES)
            }
        }
    };
}

flag_set! {
    /// Header flags of messages whose spec defines none (kept verbatim).
    MsgFlags: u16 {}
}

flag_set! {
    /// NOW_CHANNEL_CAPSET_MSG msgFlags (NOW-PROTO 1.3 NOW_CHANNEL_CAPSET_MSG; 1.0 NOW_NEGOTIATION_SET_HEATBEAT).
    CapsetFlags: u16 {
        SET_HEARTBEAT = 0x0001 => "set-heartbeat",
    }
}

flag_set! {
    /// systemCapset (NOW-PROTO 1.3 NOW_CHANNEL_CAPSET_MSG).
    SystemCaps: u32 {
        SHUTDOWN = 0x0001 => "shutdown",
    }
}

flag_set! {
    /// sessionCapset. WINDOW_RECORDING (1.5) is missing from the spec table (ERRATA NOW-10).
    SessionCaps: u32 {
        LOCK = 0x0001 => "lock",
        LOGOFF = 0x0002 => "logoff",
        MSGBOX = 0x0004 => "msgbox",
        SET_KBD_LAYOUT = 0x0008 => "set-kbd-layout",
        WINDOW_RECORDING = 0x0010 => "window-recording",
    }
}

flag_set! {
    /// execCapset. UNICODE_CONSOLE is 1.6 (ERRATA NOW-10); PROCESS is written "000002" in the text (ERRATA NOW-13).
    ExecCaps: u32 {
        STYLE_RUN = 0x0001 => "run",
        STYLE_PROCESS = 0x0002 => "process",
        STYLE_SHELL = 0x0004 => "shell",
        STYLE_BATCH = 0x0008 => "batch",
        STYLE_WINPS = 0x0010 => "winps",
        STYLE_PWSH = 0x0020 => "pwsh",
        UNICODE_CONSOLE = 0x0040 => "unicode-console",
        IO_REDIRECTION = 0x1000 => "io-redirection",
    }
}

flag_set! {
    /// NOW_STATUS flags (NOW-PROTO 1.3 NOW_STATUS).
    StatusFlags: u16 {
        ERROR = 0x0001 => "error",
        ERROR_MESSAGE = 0x0002 => "error-message",
    }
}

flag_set! {
    /// NOW_SYSTEM_SHUTDOWN_MSG msgFlags.
    ShutdownFlags: u16 {
        FORCE = 0x0001 => "force",
        REBOOT = 0x0002 => "reboot",
    }
}

flag_set! {
    /// NOW_SESSION_MSGBOX_REQ_MSG msgFlags.
    MsgBoxFlags: u16 {
        TITLE = 0x0001 => "title",
        STYLE = 0x0002 => "style",
        TIMEOUT = 0x0004 => "timeout",
        RESPONSE = 0x0008 => "response",
    }
}

flag_set! {
    /// NOW_SESSION_SET_KBD_LAYOUT_MSG msgFlags.
    KbdLayoutFlags: u16 {
        NEXT = 0x0001 => "next",
        PREV = 0x0002 => "prev",
    }
}

flag_set! {
    /// NOW_SESSION_WINDOW_REC_START_MSG msgFlags (1.5, ERRATA NOW-10).
    WindowRecStartFlags: u16 {
        TRACK_TITLE_CHANGE = 0x0001 => "track-title-change",
    }
}

flag_set! {
    /// NOW_SESSION_WINDOW_REC_EVENT_MSG msgFlags (1.5, ERRATA NOW-10).
    WindowRecEventFlags: u16 {
        ACTIVE_WINDOW = 0x0001 => "active-window",
        TITLE_CHANGED = 0x0002 => "title-changed",
        NO_ACTIVE_WINDOW = 0x0004 => "no-active-window",
    }
}

flag_set! {
    /// NOW_EXEC_DATA_MSG msgFlags as shipped (ERRATA NOW-3). The 1.0 text used FIRST=1, LAST=2,
    /// STDIN=4, STDOUT=8, STDERR=0x10 (see [`DataFlags10`]).
    DataFlags: u16 {
        LAST = 0x0001 => "last",
        STDIN = 0x0002 => "stdin",
        STDOUT = 0x0004 => "stdout",
        STDERR = 0x0008 => "stderr",
    }
}

flag_set! {
    /// NOW_EXEC_DATA_MSG msgFlags of the 1.0 text (profile `now-1.0-text`, ERRATA NOW-1). Only for
    /// reference and for the simulator's 1.0-layout misbehaviour: the structured form takes numbers.
    DataFlags10: u16 {
        FIRST = 0x0001 => "first",
        LAST = 0x0002 => "last",
        STDIN = 0x0004 => "stdin",
        STDOUT = 0x0008 => "stdout",
        STDERR = 0x0010 => "stderr",
    }
}

flag_set! {
    /// NOW_EXEC_RUN_MSG msgFlags (1.1+). Shipped decoders ignore it (ERRATA NOW-9).
    RunFlags: u16 {
        DIRECTORY_SET = 0x0001 => "directory-set",
    }
}

flag_set! {
    /// NOW_EXEC_PROCESS_MSG msgFlags. ENCODING_UTF8 is 1.6, DETACHED 1.4 (ERRATA NOW-10).
    ProcessFlags: u16 {
        PARAMETERS_SET = 0x0001 => "parameters-set",
        DIRECTORY_SET = 0x0002 => "directory-set",
        ENCODING_UTF8 = 0x0004 => "encoding-utf8",
        IO_REDIRECTION = 0x1000 => "io-redirection",
        DETACHED = 0x8000 => "detached",
    }
}

flag_set! {
    /// NOW_EXEC_SHELL_MSG msgFlags. DETACHED is 1.4 (ERRATA NOW-10).
    ShellFlags: u16 {
        SHELL_SET = 0x0001 => "shell-set",
        DIRECTORY_SET = 0x0002 => "directory-set",
        IO_REDIRECTION = 0x1000 => "io-redirection",
        DETACHED = 0x8000 => "detached",
    }
}

flag_set! {
    /// NOW_EXEC_BATCH_MSG msgFlags (1.3: DIRECTORY_SET 0x0001; the 1.0 text said 0x0002).
    /// RAW_ENCODING / UNICODE_CONSOLE are 1.6, DETACHED 1.4 (ERRATA NOW-10).
    BatchFlags: u16 {
        DIRECTORY_SET = 0x0001 => "directory-set",
        RAW_ENCODING = 0x0002 => "raw-encoding",
        UNICODE_CONSOLE = 0x0004 => "unicode-console",
        IO_REDIRECTION = 0x1000 => "io-redirection",
        DETACHED = 0x8000 => "detached",
    }
}

flag_set! {
    /// NOW_EXEC_WINPS_MSG / NOW_EXEC_PWSH_MSG msgFlags. RAW_ENCODING / UNICODE_CONSOLE are 1.6,
    /// DETACHED 1.4 (ERRATA NOW-10).
    PsFlags: u16 {
        NO_LOGO = 0x0001 => "no-logo",
        NO_EXIT = 0x0002 => "no-exit",
        STA = 0x0004 => "sta",
        MTA = 0x0008 => "mta",
        NO_PROFILE = 0x0010 => "no-profile",
        NON_INTERACTIVE = 0x0020 => "non-interactive",
        EXECUTION_POLICY = 0x0040 => "execution-policy",
        CONFIGURATION_NAME = 0x0080 => "configuration-name",
        DIRECTORY_SET = 0x0100 => "directory-set",
        RAW_ENCODING = 0x0200 => "raw-encoding",
        UNICODE_CONSOLE = 0x0400 => "unicode-console",
        IO_REDIRECTION = 0x1000 => "io-redirection",
        SERVER_MODE = 0x2000 => "server-mode",
        DETACHED = 0x8000 => "detached",
    }
}

flag_set! {
    /// NOW_RDM_CAPABILITIES_MSG syncFlags.
    RdmSyncFlags: u32 {
        APP_AVAILABLE = 0x0000_0001 => "app-available",
    }
}

flag_set! {
    /// NOW_RDM_APP_START_MSG launchFlags.
    RdmLaunchFlags: u32 {
        JUMP_MODE = 0x0000_0001 => "jump-mode",
        MAXIMIZED = 0x0000_0002 => "maximized",
        FULLSCREEN = 0x0000_0004 => "fullscreen",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn flags_accept_numbers_names_lists_and_text() {
        let a: ExecCaps = serde_json::from_value(serde_json::json!(["run", "io-redirection", 0x40])).unwrap();
        assert_eq!(a.0, 0x1041);
        let b: ExecCaps = serde_json::from_value(serde_json::json!("run|SHELL")).unwrap();
        assert_eq!(b, ExecCaps::STYLE_RUN | ExecCaps::STYLE_SHELL);
        let c: DataFlags = serde_json::from_value(serde_json::json!(5)).unwrap();
        assert_eq!(c.names(), vec!["last", "stdout"]);
        assert_eq!(serde_json::to_value(c).unwrap(), serde_json::json!(5));
        assert!(serde_json::from_value::<DataFlags>(serde_json::json!(["nope"])).is_err());
        assert!(serde_json::from_value::<DataFlags>(serde_json::json!(0x1_0000)).is_err());
    }
}
