//! Shrinking a finding with the shared shrinker (`tools::shrinker::greedy`): fewer steps before
//! the mutated one, fewer fields in a mutated message, fewer raw bytes — the oracle keeps a cut
//! only while the same kind of problem still reproduces on a freshly (re)started implementation.

use super::liveness::{self, Case, Problem, Under};
use super::mutate::Mutation;
use crate::scenario::Scenario;
use crate::tools::shrinker::{greedy, Trial};
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
    let kind = problem.kind;
    let mut runs = 0usize;
    let mut oracle = async |c: &Case| {
        if runs >= BUDGET {
            return Trial::OutOfRuns;
        }
        runs += 1;
        match reproduces(
            under,
            proto,
            profile,
            c,
            kind,
            probe,
            probe_timeout,
            max_rss,
            seed,
        )
        .await
        {
            Some(p) => Trial::Reproduced(p),
            None => Trial::Lost,
        }
    };
    let best = greedy((case, problem), step_cuts, &mut oracle, |c| {
        eprintln!("  shrunk: {} step(s) before the mutation", c.kept.len());
    })
    .await;
    let best = greedy(best, field_cuts, &mut oracle, |c| {
        eprintln!("  shrunk: {}", c.mutation.describe());
    })
    .await;
    let _ = under.restart().await;
    best
}

#[allow(clippy::too_many_arguments)]
async fn reproduces(
    under: &mut Under,
    proto: &dyn ProtocolDef,
    profile: &str,
    case: &Case,
    kind: &str,
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
    (got.kind == kind).then_some(got)
}

/// The case without earlier steps, in the order they are tried: the whole prefix at once, then
/// one step at a time from the last.
fn step_cuts(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    if case.kept.len() > 1 {
        let mut c = case.clone();
        c.kept.clear();
        out.push(c);
    }
    for i in (0..case.kept.len()).rev() {
        let mut c = case.clone();
        c.kept.remove(i);
        out.push(c);
    }
    out
}

/// Smaller mutated messages, in the order they are tried: drop one field of a structured message
/// (never the mutated one; from the last field), or halve the raw bytes' tail.
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
            for k in fields.keys().rev() {
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
