//! Shrinking a finding: fewer steps before the mutated one, fewer fields in a mutated message,
//! fewer raw bytes — keeping each cut only while the same kind of problem still reproduces on a
//! freshly (re)started implementation.

use super::liveness::{self, Case, Problem, Under};
use super::mutate::Mutation;
use crate::scenario::Scenario;
use peercheck_wire::session::ProtocolDef;
use std::time::Duration;

/// Most re-runs one finding may cost.
const BUDGET: usize = 24;

#[allow(clippy::too_many_arguments)]
pub async fn shrink(
    under: &mut Under,
    proto: &dyn ProtocolDef,
    profile: &str,
    case: Case,
    problem: Problem,
    probe: &Scenario,
    probe_timeout: Duration,
    max_rss: u64,
    seed: u64,
) -> (Case, Problem) {
    let mut best = (case, problem);
    let mut runs = 0usize;
    let mut candidates = step_cuts(&best.0);
    while let Some(c) = candidates.pop() {
        if runs >= BUDGET {
            break;
        }
        runs += 1;
        if let Some(p) = reproduces(
            under,
            proto,
            profile,
            &c,
            &best.1,
            probe,
            probe_timeout,
            max_rss,
            seed,
        )
        .await
        {
            eprintln!("  shrunk: {} step(s) before the mutation", c.kept.len());
            best = (c, p);
            candidates = step_cuts(&best.0);
        }
    }
    let mut candidates = field_cuts(&best.0);
    while let Some(c) = candidates.pop() {
        if runs >= BUDGET {
            break;
        }
        runs += 1;
        if let Some(p) = reproduces(
            under,
            proto,
            profile,
            &c,
            &best.1,
            probe,
            probe_timeout,
            max_rss,
            seed,
        )
        .await
        {
            eprintln!("  shrunk: {}", c.mutation.describe());
            best = (c, p);
            candidates = field_cuts(&best.0);
        }
    }
    let _ = under.restart().await;
    best
}

#[allow(clippy::too_many_arguments)]
async fn reproduces(
    under: &mut Under,
    proto: &dyn ProtocolDef,
    profile: &str,
    case: &Case,
    wanted: &Problem,
    probe: &Scenario,
    probe_timeout: Duration,
    max_rss: u64,
    seed: u64,
) -> Option<Problem> {
    under.restart().await.ok()?;
    let got = liveness::run_case(under, proto, profile, case, probe, probe_timeout, max_rss, seed)
        .await
        .ok()
        .flatten()?;
    (got.kind == wanted.kind).then_some(got)
}

/// The case without one of its earlier steps (later candidates are tried first: pop from the end,
/// so the first cut tried is the whole prefix at once).
fn step_cuts(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    for i in 0..case.kept.len() {
        let mut c = case.clone();
        c.kept.remove(i);
        out.push(c);
    }
    if case.kept.len() > 1 {
        let mut c = case.clone();
        c.kept.clear();
        out.push(c);
    }
    out
}

/// Smaller mutated messages: drop one field of a structured message (never the mutated one), or
/// halve the raw bytes' tail.
fn field_cuts(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    match &case.mutation {
        Mutation::Structured { path, value, message } => {
            let Some((name, fields)) = message.as_object().and_then(|m| m.iter().next()) else {
                return out;
            };
            let Some(fields) = fields.as_object() else {
                return out;
            };
            for k in fields.keys() {
                if path.starts_with(&format!("/{name}/{k}")) {
                    continue;
                }
                let mut f = fields.clone();
                f.remove(k);
                let mut m = serde_json::Map::new();
                m.insert(name.clone(), serde_json::Value::Object(f));
                let mut c = case.clone();
                c.mutation = Mutation::Structured {
                    path: path.clone(),
                    value: value.clone(),
                    message: serde_json::Value::Object(m),
                };
                out.push(c);
            }
        }
        Mutation::Bytes(b) if b.len() > 1 => {
            let mut c = case.clone();
            c.mutation = Mutation::Bytes(b.get(..b.len() / 2).unwrap_or(&[]).to_vec());
            out.push(c);
        }
        _ => {}
    }
    out
}
