//! The decode-shim protocol of `peercheck golden verify` (documented in docs/golden.md):
//! one JSON request per line on the shim's stdin, one JSON answer per line on its stdout.
//!
//! request: `{"protocol","profile","direction","params","hex"}`
//! answer:  `{"ok":true,"name","fields"}` or `{"ok":false,"error"}`

use crate::protocols;
use crate::tools::proto;
use peercheck_golden::export::Test;
use peercheck_golden::GoldenVerdict;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub protocol: String,
    pub profile: String,
    pub direction: String,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    pub hex: String,
}

impl Request {
    pub fn of(t: &Test) -> Self {
        Self {
            protocol: t.protocol.clone(),
            profile: t.profile.clone(),
            direction: t.direction.clone(),
            params: t.params.clone(),
            hex: t.hex.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Answer {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Answer {
    fn rejected(e: impl Into<String>) -> Self {
        Self {
            ok: false,
            error: Some(e.into()),
            ..Self::default()
        }
    }
}

/// peercheck's own answer: the bytes must hold exactly one message and nothing else.
pub fn reference_answer(line: &str) -> Answer {
    let req: Request = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => return Answer::rejected(format!("bad request: {e}")),
    };
    let run = || -> Result<Answer, String> {
        let p = protocols::get(&req.protocol)?;
        let direction = proto::direction(&req.direction)?;
        let bytes = peercheck_wire::hexparse::parse_hex(&req.hex)?;
        let (msgs, err) = proto::decode_all(p, direction, Some(&req.profile), &req.params, &bytes)?;
        Ok(match (msgs.as_slice(), err) {
            (_, Some(e)) => Answer::rejected(e),
            ([m], None) => Answer {
                ok: true,
                name: Some(m.name.clone()),
                fields: Some(m.fields.clone()),
                error: None,
            },
            (many, None) => Answer::rejected(format!("{} messages where one was expected", many.len())),
        })
    };
    run().unwrap_or_else(Answer::rejected)
}

/// Where a shim's answer disagrees with a vector (empty = agrees).
pub fn disagreements(t: &Test, a: &Answer) -> Vec<String> {
    let mut out = Vec::new();
    match t.verdict {
        GoldenVerdict::Invalid => {
            if a.ok {
                out.push(format!(
                    "accepted bytes that must be rejected (decoded as {})",
                    a.name.as_deref().unwrap_or("?")
                ));
            }
        }
        GoldenVerdict::Valid | GoldenVerdict::Acceptable => {
            if !a.ok {
                out.push(format!(
                    "rejected bytes that must be accepted: {}",
                    a.error.as_deref().unwrap_or("(no error given)")
                ));
                return out;
            }
            if let (Some(want), got) = (&t.name, a.name.as_deref()) {
                if Some(want.as_str()) != got {
                    out.push(format!(
                        "message name: expected {want}, got {}",
                        got.unwrap_or("(none)")
                    ));
                    return out;
                }
            }
            if let Some(fields) = &t.fields {
                let got = a.fields.clone().unwrap_or(serde_json::Value::Null);
                let mut diffs = Vec::new();
                peercheck_golden::contains(fields, &got, t.name.as_deref().unwrap_or("fields"), &mut diffs);
                out.extend(diffs);
            }
        }
    }
    out
}
