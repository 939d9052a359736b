//! The pure half of `peercheck shrink`: what a failure looks like (its signature) and the smaller
//! candidates of a scenario — fewer steps, simpler fields (dropped, zeroed, shortened).

use crate::report::ScenarioResult;
use crate::scenario::model::{Scenario, Step};
use crate::verdict::Verdict;
use serde_json::Value;

/// What must stay the same for a smaller scenario to count as the same failure: the verdict, the
/// kind of the failing step and the message names it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub verdict: Verdict,
    pub action: String,
    pub names: Vec<String>,
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at a `{}` step", self.verdict.as_str(), self.action)?;
        if !self.names.is_empty() {
            write!(f, " ({})", self.names.join(", "))?;
        }
        Ok(())
    }
}

/// The signature of a failing run (`None` when the run did not fail in a way worth shrinking).
pub fn signature(s: &Scenario, r: &ScenarioResult) -> Option<Signature> {
    if !matches!(r.verdict, Verdict::Fail | Verdict::NonStrict) {
        return None;
    }
    let step = s.steps.get(r.step?.checked_sub(1)?)?;
    let action = step.action().ok()?.to_owned();
    let mut names: Vec<String> = match (&step.send, &step.expect) {
        (Some(m), _) | (_, Some(m)) => m
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    names.sort();
    Some(Signature {
        verdict: r.verdict,
        action,
        names,
    })
}

/// `steps` without the range `at..at + len`.
pub fn without(s: &Scenario, at: usize, len: usize) -> Scenario {
    let mut c = s.clone();
    let end = (at + len).min(c.steps.len());
    if at < end {
        c.steps.drain(at..end);
    }
    c
}

/// Smaller versions of one step (each differs from it by one simplification).
pub fn step_candidates(step: &Step) -> Vec<Step> {
    let mut out = Vec::new();
    if step.note.is_some() {
        out.push(Step {
            note: None,
            ..step.clone()
        });
    }
    for i in 0..step.fault.len() {
        let mut c = step.clone();
        c.fault.remove(i);
        out.push(c);
    }
    if let Some(m) = &step.send {
        for v in message_candidates(m, false) {
            out.push(Step {
                send: Some(v),
                ..step.clone()
            });
        }
    }
    if let Some(m) = &step.expect {
        for v in message_candidates(m, true) {
            out.push(Step {
                expect: Some(v),
                ..step.clone()
            });
        }
    }
    if let Some(h) = &step.send_hex {
        if let Ok(bytes) = peercheck_wire::hexparse::parse_hex(h) {
            if bytes.len() > 1 {
                let half = bytes.get(..bytes.len() / 2).unwrap_or(&[]);
                out.push(Step {
                    send_hex: Some(hex::encode(half)),
                    ..step.clone()
                });
            }
        }
    }
    out
}

/// Simpler messages: for `expect`, drop alternative names; then each field dropped, each number
/// zeroed, each string or hex string halved, each list halved — one change per candidate.
pub fn message_candidates(m: &Value, is_expect: bool) -> Vec<Value> {
    let mut out = Vec::new();
    let Some(map) = m.as_object() else { return out };
    if is_expect && map.len() > 1 {
        for k in map.keys() {
            let mut c = map.clone();
            c.remove(k);
            out.push(Value::Object(c));
        }
    }
    for (name, fields) in map {
        for f in value_candidates(fields) {
            let mut c = map.clone();
            c.insert(name.clone(), f);
            out.push(Value::Object(c));
        }
    }
    out
}

/// Simpler versions of a field map (recursively).
fn value_candidates(v: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    match v {
        Value::Object(map) => {
            // A matcher (`{ capture: x }`, `{ any: true }`) is kept whole.
            if crate::matcher::as_matcher(v).is_some() {
                return out;
            }
            for (k, x) in map {
                let mut dropped = map.clone();
                dropped.remove(k);
                out.push(Value::Object(dropped));
                for y in leaf_candidates(x).into_iter().chain(value_candidates(x)) {
                    let mut c = map.clone();
                    c.insert(k.clone(), y);
                    out.push(Value::Object(c));
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            out.push(Value::Array(
                items.iter().take(items.len() / 2).cloned().collect(),
            ));
        }
        _ => {}
    }
    out
}

fn leaf_candidates(v: &Value) -> Vec<Value> {
    match v {
        Value::Number(n) if n.as_f64() != Some(0.0) => vec![Value::from(0)],
        // `${var}` references are not shortened (that would break the reference, not simplify).
        Value::String(s) if !s.is_empty() && !s.contains("${") => {
            let hexlike = s.len() % 2 == 0 && s.chars().all(|c| c.is_ascii_hexdigit());
            let keep = if hexlike {
                (s.len() / 4) * 2
            } else {
                s.chars().count() / 2
            };
            vec![Value::String(s.chars().take(keep).collect())]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn one_simplification_per_candidate() {
        let c = message_candidates(
            &json!({ "exec.run": { "sessionId": 7, "command": "notepad" } }),
            false,
        );
        assert!(c.contains(&json!({ "exec.run": { "command": "notepad" } })));
        assert!(c.contains(&json!({ "exec.run": { "sessionId": 0, "command": "notepad" } })));
        assert!(c.contains(&json!({ "exec.run": { "sessionId": 7, "command": "not" } })));
        let hex = message_candidates(&json!({ "exec.data": { "data": "68656c6c6f" } }), false);
        assert!(
            hex.contains(&json!({ "exec.data": { "data": "6865" } })),
            "{hex:?}"
        );
    }

    #[test]
    fn matchers_and_references_are_kept_whole() {
        let c = message_candidates(&json!({ "x": { "a": { "capture": "v" }, "b": "${v}" } }), true);
        assert!(c
            .iter()
            .all(|m| m["x"].get("a").is_none_or(|a| a == &json!({ "capture": "v" }))));
        assert!(c.iter().all(|m| m["x"].get("b").is_none_or(|b| b == "${v}")));
    }
}
