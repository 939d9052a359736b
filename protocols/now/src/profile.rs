//! Profiles: which wire layout a session speaks where the texts and the shipped code differ.

use peercheck_wire::{Limit, SessionOptions};

use crate::limits::MAX_MSG_SIZE;

/// A NOW-PROTO wire layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// 1.6 as shipped by now-proto-pdu 0.4.4 / the .NET library (default). ERRATA NOW-2..NOW-10.
    Now16,
    /// 1.3 as shipped: the 1.6 layout without the 1.4–1.6 additions (window recording messages are
    /// not known; capsets default to version 1.3).
    Now13,
    /// The layout the 1.0 text describes (ERRATA NOW-1): NEGOTIATION class, 1-byte versions, 4-byte
    /// capsets, heartbeat only with the flag, RESULT without exitCode, optional fields present only
    /// with their flags, STATUS errorMessage only with ERROR_MESSAGE, EXEC_HEARTBEAT 0x13/0x20.
    Now10Text,
}

impl Profile {
    pub const NAMES: &'static [&'static str] = &["now-1.6", "now-1.3", "now-1.0-text"];

    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "now-1.6" | "now" | "1.6" => Ok(Profile::Now16),
            "now-1.3" | "1.3" => Ok(Profile::Now13),
            "now-1.0-text" | "now-1.0" | "1.0" => Ok(Profile::Now10Text),
            other => Err(format!(
                "unknown NOW profile `{other}` (known: {})",
                Self::NAMES.join(", ")
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Profile::Now16 => "now-1.6",
            Profile::Now13 => "now-1.3",
            Profile::Now10Text => "now-1.0-text",
        }
    }

    /// The (major, minor) version a capset of this profile announces by default.
    pub fn version(self) -> (u16, u16) {
        match self {
            Profile::Now16 => (1, 6),
            Profile::Now13 => (1, 3),
            Profile::Now10Text => (1, 0),
        }
    }

    pub fn is_text_10(self) -> bool {
        self == Profile::Now10Text
    }
}

/// Everything that decides how bytes are laid out: the profile plus explicit switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub profile: Profile,
    /// NOW_VARSTR ends with a NUL that `len` does not count (ERRATA NOW-5). On in every profile: the
    /// 1.0 and 1.3 texts word it identically ("length, excluding the null terminator") and the shipped
    /// code writes the NUL. `varstr-nul=false` is the other reading ("str … excluding the null
    /// terminator": no terminator at all).
    pub varstr_nul: bool,
    /// NOW_SESSION_MSGBOX_REQ puts `title` before `text` as shipped (ERRATA NOW-6); `false` follows the
    /// spec diagrams (text first). Param `msgbox-order=title-first|text-first`.
    pub msgbox_title_first: bool,
    /// Bytes after the last field of a known message: an error by default; `trailing-body=ignore`
    /// skips them like now-proto-pdu does (see README, differential findings).
    pub ignore_trailing_body: bool,
    /// Largest msgSize accepted (param `max-msg-size`, never above [`MAX_MSG_SIZE`]'s type range).
    pub max_msg_size: Limit,
}

impl Layout {
    pub fn new(profile: Profile) -> Self {
        Layout {
            profile,
            varstr_nul: true,
            msgbox_title_first: !profile.is_text_10(),
            ignore_trailing_body: false,
            max_msg_size: MAX_MSG_SIZE,
        }
    }

    pub fn from_options(options: &SessionOptions) -> Result<Self, String> {
        let profile = match options.profile.as_deref() {
            Some(p) => Profile::parse(p)?,
            None => Profile::Now16,
        };
        let mut layout = Layout::new(profile);
        for (key, value) in &options.params {
            layout.apply_param(key, value)?;
        }
        Ok(layout)
    }

    /// Apply one session parameter; parameters this codec does not know are left to others.
    pub fn apply_param(&mut self, key: &str, value: &str) -> Result<(), String> {
        let flag = |v: &str| match v {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            other => Err(format!("`{key}` expects true/false, got `{other}`")),
        };
        match key {
            "varstr-nul" => self.varstr_nul = flag(value)?,
            "msgbox-order" => {
                self.msgbox_title_first = match value {
                    "title-first" => true,
                    "text-first" => false,
                    other => {
                        return Err(format!(
                            "`msgbox-order` expects title-first|text-first, got `{other}`"
                        ))
                    }
                }
            }
            "trailing-body" => {
                self.ignore_trailing_body = match value {
                    "ignore" => true,
                    "error" => false,
                    other => return Err(format!("`trailing-body` expects ignore|error, got `{other}`")),
                }
            }
            "max-msg-size" => {
                let max: u64 = value.parse().map_err(|e| format!("`max-msg-size`: {e}"))?;
                if max > u64::from(u32::MAX) {
                    return Err("`max-msg-size` cannot exceed 4294967295".into());
                }
                self.max_msg_size = Limit::new(MAX_MSG_SIZE.name, max);
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn profiles_parse_with_aliases_and_refuse_unknown_names() {
        assert_eq!(Profile::parse("now-1.6").unwrap(), Profile::Now16);
        assert_eq!(Profile::parse("now-1.0").unwrap(), Profile::Now10Text);
        assert!(Profile::parse("now-2.0").unwrap_err().contains("now-1.3"));
        for name in Profile::NAMES {
            assert_eq!(Profile::parse(name).unwrap().name(), *name);
        }
    }

    #[test]
    fn params_switch_the_layout_and_bad_values_are_errors() {
        let mut opts = SessionOptions::default();
        opts.params.insert("msgbox-order".into(), "text-first".into());
        opts.params.insert("trailing-body".into(), "ignore".into());
        opts.params.insert("max-msg-size".into(), "100".into());
        opts.params.insert("someone-elses-param".into(), "x".into());
        let l = Layout::from_options(&opts).unwrap();
        assert!(!l.msgbox_title_first && l.ignore_trailing_body && l.varstr_nul);
        assert_eq!(l.max_msg_size.max, 100);
        let mut l = Layout::new(Profile::Now16);
        assert!(l.apply_param("varstr-nul", "maybe").is_err());
        assert!(l.apply_param("msgbox-order", "sideways").is_err());
        assert!(l.apply_param("max-msg-size", "4294967296").is_err());
    }
}
