//! The scenario file format (documented in docs/scenarios.md; JSON Schema from these types).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How strongly the spec states the requirement a scenario checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// A MUST: breaking it is a `fail`.
    Must,
    /// A SHOULD: breaking it is `non-strict`.
    Should,
    /// A MAY: breaking it is `non-strict` (informational).
    May,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::May => "may",
        }
    }
}

/// The role of the implementation under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PeerRole {
    Server,
    Client,
}

impl PeerRole {
    pub fn as_role(self) -> peercheck_wire::session::Role {
        match self {
            PeerRole::Server => peercheck_wire::session::Role::Server,
            PeerRole::Client => peercheck_wire::session::Role::Client,
        }
    }
}

/// One scenario file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique id, starting with the protocol: `now.channel.capset.downgrade`.
    pub id: String,
    /// One line saying what is checked.
    pub title: String,
    /// Spec document and section (or an ERRATA entry), e.g. `NOW-PROTO 1.3 §2.2.2.1`.
    pub spec: String,
    /// The requirement, quoted from the spec.
    pub requirement: String,
    pub level: Level,
    /// `now`, `psrp` or `inedo`.
    pub protocol: String,
    /// Profiles the scenario applies to (empty = all of the protocol's profiles).
    #[serde(default)]
    pub profiles: Vec<String>,
    /// Role of the implementation under test.
    pub peer: PeerRole,
    /// ERRATA entries this scenario depends on (e.g. `NOW-11`).
    #[serde(default)]
    pub errata: Vec<String>,
    /// Requirement ids (from requirements/) this scenario covers.
    #[serde(default)]
    pub covers: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Session parameters for the suite's side (e.g. `framing: fragments`, `key: …`).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Default `within` for expect steps (e.g. `2s`); 5s when omitted.
    #[serde(default)]
    pub timeout: Option<String>,
    /// Messages expect steps skip while waiting, in addition to the protocol's keep-alives.
    #[serde(default)]
    pub ignore: Vec<String>,
    pub steps: Vec<Step>,
}

/// One step. Exactly one action key per step, plus optional modifiers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Step {
    /// Include the steps of a prelude: `now/negotiated` = scenarios/_preludes/now/negotiated.yaml.
    pub include: Option<String>,
    /// Send a structured message: `{ channel.capset: { versionMajor: 1 } }`. `${name}` reuses a capture.
    pub send: Option<serde_json::Value>,
    /// Send raw bytes written as hex (spaces, `0x` and `#` comments allowed).
    pub send_hex: Option<String>,
    /// Expect a message: `{ name: { field: matcher } }`. Fields not named are not checked.
    pub expect: Option<serde_json::Value>,
    /// Expect the peer to close the connection (EOF or reset).
    pub expect_close: Option<ExpectClose>,
    /// Expect nothing (but ignorable messages) for this long, e.g. `500ms`.
    pub expect_silence: Option<String>,
    /// Wait, e.g. `100ms`.
    pub sleep: Option<String>,
    /// The scenario is `unsupported` unless this matcher holds for a captured value.
    pub require: Option<Require>,
    /// With `expect`: how long to wait (default: the scenario's timeout).
    pub within: Option<String>,
    /// With `expect`: capture fields of the matched message: `{ sid: sessionId }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capture: BTreeMap<String, String>,
    /// With `send`/`send-hex`: faults applied to the bytes the suite writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fault: Vec<peercheck_simulator::faults::StepFault>,
    /// A note shown in reports when this step fails (what a failure here usually means).
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectClose {
    /// How long to wait for the close (default: the scenario's timeout).
    pub within: Option<String>,
    /// Messages the peer may still send before closing (e.g. `[channel.close]`); anything else fails.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Staying silent (nothing but `allow`ed or keep-alive messages) for the whole window passes too:
    /// for malformed input that a correct peer may either refuse by closing or drop and ignore.
    #[serde(default, rename = "or-silence")]
    pub or_silence: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Require {
    /// A captured variable.
    pub var: String,
    /// A matcher (same language as `expect` fields).
    pub matches: serde_json::Value,
    /// The capability named in the `unsupported` reason.
    pub capability: String,
}

impl Step {
    /// The name of the step's action, for messages and validation.
    pub fn action(&self) -> Result<&'static str, String> {
        let mut found = Vec::new();
        if self.include.is_some() {
            found.push("include");
        }
        if self.send.is_some() {
            found.push("send");
        }
        if self.send_hex.is_some() {
            found.push("send-hex");
        }
        if self.expect.is_some() {
            found.push("expect");
        }
        if self.expect_close.is_some() {
            found.push("expect-close");
        }
        if self.expect_silence.is_some() {
            found.push("expect-silence");
        }
        if self.sleep.is_some() {
            found.push("sleep");
        }
        if self.require.is_some() {
            found.push("require");
        }
        match found.as_slice() {
            [one] => Ok(one),
            [] => Err("a step needs one action: include, send, send-hex, expect, expect-close, expect-silence, sleep or require".into()),
            many => Err(format!("a step has one action, this one has {}", many.join(", "))),
        }
    }
}

/// A prelude file: named, reusable steps.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Prelude {
    pub title: String,
    #[serde(default)]
    pub protocol: Option<String>,
    pub steps: Vec<Step>,
}

pub use peercheck_simulator::faults::parse_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap().as_millis(), 500);
        assert_eq!(parse_duration("2s").unwrap().as_secs(), 2);
        assert_eq!(parse_duration("3").unwrap().as_secs(), 3);
        assert!(parse_duration("2h").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn a_step_has_exactly_one_action() {
        let s = Step {
            sleep: Some("1s".into()),
            ..Default::default()
        };
        assert_eq!(s.action().unwrap(), "sleep");
        let s = Step {
            sleep: Some("1s".into()),
            send_hex: Some("00".into()),
            ..Default::default()
        };
        assert!(s.action().is_err());
        assert!(Step::default().action().is_err());
    }
}
