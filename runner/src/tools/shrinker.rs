//! The one shrinker, used by `peercheck shrink` (a failing scenario) and `peercheck fuzz` (a
//! finding): candidates are tried against an *oracle* — an async callback that runs a candidate
//! and says whether it still fails the same way ([`Trial`]) — and a smaller candidate that does
//! replaces the best so far ([`greedy`], [`fewer_steps`]). The rest is pure: what a scenario's
//! failure looks like (its signature) and the smaller candidates of a scenario — fewer steps,
//! simpler fields (dropped, zeroed, shortened).

use crate::report::ScenarioResult;
use crate::scenario::model::{Scenario, Step};
use crate::verdict::Verdict;
use serde_json::Value;

/// What the oracle says of one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trial<E> {
    /// It still fails the same way; `E` is what the failure looked like this time.
    Reproduced(E),
    /// It does not (or it could not be run).
    Lost,
    /// No runs are left: shrinking stops with the best so far.
    OutOfRuns,
}

/// Greedy shrinking: try `cuts(best)` in order; the first one the oracle reproduces becomes the
/// best (`on_cut` is told) and the cuts start again from it. Ends when no cut reproduces or the
/// oracle is out of runs.
pub async fn greedy<T, E>(
    mut best: (T, E),
    cuts: impl Fn(&T) -> Vec<T>,
    oracle: &mut impl AsyncFnMut(&T) -> Trial<E>,
    on_cut: impl Fn(&T),
) -> (T, E) {
    'again: loop {
        for c in cuts(&best.0) {
            match oracle(&c).await {
                Trial::Reproduced(e) => {
                    on_cut(&c);
                    best = (c, e);
                    continue 'again;
                }
                Trial::Lost => {}
                Trial::OutOfRuns => return best,
            }
        }
        return best;
    }
}

/// Remove chunks of steps, halving the chunk size down to single steps, while the oracle
/// reproduces the failure.
pub async fn fewer_steps(mut s: Scenario, oracle: &mut impl AsyncFnMut(&Scenario) -> Trial<()>) -> Scenario {
    let mut chunk = (s.steps.len() / 2).max(1);
    loop {
        let mut removed = false;
        let mut at = 0;
        while at < s.steps.len() {
            let c = without(&s, at, chunk);
            match oracle(&c).await {
                Trial::Reproduced(()) => {
                    s = c;
                    removed = true;
                }
                Trial::Lost => at += chunk,
                Trial::OutOfRuns => return s,
            }
        }
        if chunk == 1 && !removed {
            return s;
        }
        if !removed {
            chunk = (chunk / 2).max(1);
        }
    }
}

/// Simplify each step's fields until no single change keeps the failure.
pub async fn simpler_fields(
    mut s: Scenario,
    oracle: &mut impl AsyncFnMut(&Scenario) -> Trial<()>,
) -> Scenario {
    for i in 0..s.steps.len() {
        let cuts = |s: &Scenario| -> Vec<Scenario> {
            let Some(step) = s.steps.get(i) else {
                return Vec::new();
            };
            step_candidates(step, &linked_values(&s.steps))
                .into_iter()
                .map(|c| {
                    let mut trial = s.clone();
                    if let Some(slot) = trial.steps.get_mut(i) {
                        *slot = c;
                    }
                    trial
                })
                .collect()
        };
        s = greedy((s, ()), cuts, oracle, |_| {}).await.0;
    }
    s
}

/// What must stay the same for a smaller scenario to count as the same failure: the verdict, the
/// kind of the failing step, the message names it is about, and how it failed (the mismatching
/// field paths, or a timeout, a close, an unexpected message, malformed bytes) — so a mismatch
/// does not "shrink" into a mere timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub verdict: Verdict,
    pub action: String,
    pub names: Vec<String>,
    pub how: String,
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at a `{}` step", self.verdict.as_str(), self.action)?;
        if !self.names.is_empty() {
            write!(f, " ({})", self.names.join(", "))?;
        }
        write!(f, ": {}", self.how)
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
        how: how_it_failed(r),
    })
}

/// The kind of failure, without the values that vary from run to run.
fn how_it_failed(r: &ScenarioResult) -> String {
    if !r.mismatches.is_empty() {
        let mut paths: Vec<&str> = r.mismatches.iter().map(|m| m.path.as_str()).collect();
        paths.sort_unstable();
        paths.dedup();
        return format!("mismatch in {}", paths.join(", "));
    }
    let reason = r.reason.as_str();
    if reason.starts_with("no ") && reason.contains(" within ") {
        return "timeout".into();
    }
    if let Some((_, got)) = reason.split_once(", got ") {
        return format!("unexpected {}", got.split_whitespace().next().unwrap_or(""));
    }
    for word in ["malformed", "closed", "reset", "silence", "stayed open"] {
        if reason.contains(word) {
            return word.into();
        }
    }
    reason.chars().filter(|c| !c.is_ascii_digit()).collect()
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

/// `(field name, value)` pairs that `expect` steps name literally. A `send` keeps these values: the
/// expectation is about them (a server must echo the session id it was sent), and changing one
/// side alone would turn a real failure into a scenario no correct implementation passes.
pub fn linked_values(steps: &[Step]) -> Vec<(String, Value)> {
    fn walk(v: &Value, key: Option<&str>, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(m) if crate::matcher::as_matcher(v).is_none() => {
                for (k, x) in m {
                    walk(x, Some(k), out);
                }
            }
            Value::Number(_) | Value::String(_) => {
                if let Some(k) = key {
                    out.push((k.to_owned(), v.clone()));
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for m in steps.iter().filter_map(|s| s.expect.as_ref()) {
        if let Some(map) = m.as_object() {
            for fields in map.values() {
                walk(fields, None, &mut out);
            }
        }
    }
    out
}

fn is_linked(linked: &[(String, Value)], key: &str, v: &Value) -> bool {
    linked.iter().any(|(k, x)| {
        k == key
            && match (x, v) {
                (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                _ => x == v,
            }
    })
}

/// Smaller versions of one step (each differs from it by one simplification).
pub fn step_candidates(step: &Step, linked: &[(String, Value)]) -> Vec<Step> {
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
        for v in message_candidates(m, false, linked) {
            out.push(Step {
                send: Some(v),
                ..step.clone()
            });
        }
    }
    if let Some(m) = &step.expect {
        for v in message_candidates(m, true, linked) {
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

/// Simpler messages, one change per candidate. `send`: each field dropped, each number zeroed,
/// each string or hex string halved, each list halved (values in `linked` are kept).
/// `expect`: alternative names and fields dropped only — an expectation gets weaker, never
/// different, so it stays one a correct implementation meets.
pub fn message_candidates(m: &Value, is_expect: bool, linked: &[(String, Value)]) -> Vec<Value> {
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
        for f in value_candidates(fields, is_expect, linked) {
            let mut c = map.clone();
            c.insert(name.clone(), f);
            out.push(Value::Object(c));
        }
    }
    out
}

/// Simpler versions of a field map (recursively).
fn value_candidates(v: &Value, is_expect: bool, linked: &[(String, Value)]) -> Vec<Value> {
    let mut out = Vec::new();
    match v {
        Value::Object(map) => {
            // A matcher (`{ capture: x }`, `{ any: true }`) is kept whole.
            if crate::matcher::as_matcher(v).is_some() {
                return out;
            }
            for (k, x) in map {
                if !is_expect && is_linked(linked, k, x) {
                    continue;
                }
                let mut dropped = map.clone();
                dropped.remove(k);
                out.push(Value::Object(dropped));
                let leaves = if is_expect { Vec::new() } else { leaf_candidates(x) };
                for y in leaves.into_iter().chain(value_candidates(x, is_expect, linked)) {
                    let mut c = map.clone();
                    c.insert(k.clone(), y);
                    out.push(Value::Object(c));
                }
            }
        }
        Value::Array(items) if !items.is_empty() && !is_expect => {
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

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn greedy_takes_the_first_reproducing_cut_and_starts_again() {
        // Shrink a number by halving or decrementing while it stays over 10; 3 runs at most.
        let mut runs = 0;
        let mut oracle = async |n: &u32| {
            if runs >= 3 {
                return Trial::OutOfRuns;
            }
            runs += 1;
            if *n > 10 {
                Trial::Reproduced(*n)
            } else {
                Trial::Lost
            }
        };
        let cuts = |n: &u32| vec![n / 2, n - 1];
        let seen = std::cell::RefCell::new(Vec::new());
        let best = block_on(greedy((100, 0), cuts, &mut oracle, |n| {
            seen.borrow_mut().push(*n)
        }));
        assert_eq!(best, (12, 12));
        assert_eq!(seen.into_inner(), vec![50, 25, 12]);
        let mut unlimited = async |n: &u32| {
            if *n > 10 {
                Trial::Reproduced(())
            } else {
                Trial::Lost
            }
        };
        assert_eq!(block_on(greedy((100, ()), cuts, &mut unlimited, |_| {})).0, 11);
    }

    #[test]
    fn fewer_steps_keeps_only_the_steps_the_failure_needs() {
        let step = |note: &str| Step {
            note: Some(note.to_owned()),
            ..Step::default()
        };
        let mut s: Scenario = serde_json::from_value(json!({
            "id": "now.x", "title": "t", "spec": "s", "requirement": "r", "level": "must",
            "protocol": "now", "peer": "server", "steps": []
        }))
        .unwrap();
        s.steps = ["a", "b", "needed", "c", "d"].into_iter().map(step).collect();
        let mut oracle = async |c: &Scenario| {
            if c.steps.iter().any(|s| s.note.as_deref() == Some("needed")) {
                Trial::Reproduced(())
            } else {
                Trial::Lost
            }
        };
        let out = block_on(fewer_steps(s, &mut oracle));
        assert_eq!(out.steps.len(), 1);
        let out = block_on(simpler_fields(out, &mut oracle));
        assert_eq!(out.steps.first().and_then(|s| s.note.as_deref()), Some("needed"));
    }

    #[test]
    fn one_simplification_per_candidate() {
        let c = message_candidates(
            &json!({ "exec.run": { "sessionId": 7, "command": "notepad" } }),
            false,
            &[],
        );
        assert!(c.contains(&json!({ "exec.run": { "command": "notepad" } })));
        assert!(c.contains(&json!({ "exec.run": { "sessionId": 0, "command": "notepad" } })));
        assert!(c.contains(&json!({ "exec.run": { "sessionId": 7, "command": "not" } })));
        let hex = message_candidates(&json!({ "exec.data": { "data": "68656c6c6f" } }), false, &[]);
        assert!(
            hex.contains(&json!({ "exec.data": { "data": "6865" } })),
            "{hex:?}"
        );
    }

    #[test]
    fn values_an_expect_names_are_kept_in_sends() {
        let steps: Vec<Step> = vec![Step {
            expect: Some(json!({ "exec.started": { "sessionId": 7 } })),
            ..Step::default()
        }];
        let linked = linked_values(&steps);
        let c = message_candidates(
            &json!({ "exec.run": { "sessionId": 7, "command": "x" } }),
            false,
            &linked,
        );
        assert!(c.iter().all(|m| m["exec.run"]["sessionId"] == 7), "{c:?}");
        assert!(!c.is_empty());
    }

    #[test]
    fn expectations_only_get_weaker() {
        let c = message_candidates(&json!({ "a": { "x": 1, "y": "text" }, "b": {} }), true, &[]);
        assert!(c.contains(&json!({ "a": { "y": "text" }, "b": {} })));
        assert!(c.contains(&json!({ "b": {} })));
        assert!(
            !c.iter().any(|m| m["a"]["x"] == 0 || m["a"]["y"] == "te"),
            "{c:?}"
        );
    }

    #[test]
    fn matchers_and_references_are_kept_whole() {
        let c = message_candidates(
            &json!({ "x": { "a": { "capture": "v" }, "b": "${v}" } }),
            false,
            &[],
        );
        assert!(c
            .iter()
            .all(|m| m["x"].get("a").is_none_or(|a| a == &json!({ "capture": "v" }))));
        assert!(c.iter().all(|m| m["x"].get("b").is_none_or(|b| b == "${v}")));
    }
}
