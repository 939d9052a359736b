//! Writing a finding: a folder with the trigger scenario (the shrunk case), the probe scenario
//! (the protocol's handshake on a fresh connection, after a pause so it runs after the trigger),
//! and finding.json. `peercheck run <folder> -j 1` replays both in order and fails while the bug is
//! there; a stdio finding's trigger shows the exit or panic in the report's stderr.

use super::liveness::{Case, Problem};
use crate::commands::fuzz::FuzzArgs;
use crate::scenario::model::{Level, Step};
use crate::scenario::Scenario;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Pause at the start of the probe, so the trigger has done its damage when run in parallel.
const PROBE_PAUSE: &str = "1s";

#[allow(clippy::too_many_arguments)]
pub fn write(
    out: &Path,
    number: usize,
    protocol: &str,
    profile: &str,
    case: &Case,
    problem: &Problem,
    probe: &Scenario,
    seed: u64,
    args: &FuzzArgs,
) -> Result<PathBuf, String> {
    let dir = out.join(format!("{number:03}-{protocol}-{}", problem.kind));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let stem = format!("{protocol}.fuzz.s{seed}.f{number:03}");
    let mut trigger = case.scenario();
    trigger.id = format!("{stem}.a-trigger");
    trigger.title = format!(
        "peercheck fuzz finding {number} ({}): {} in step {} of {}",
        problem.kind,
        case.mutation.describe(),
        case.step + 1,
        case.base.id
    );
    trigger.spec = format!(
        "peercheck fuzz (seed {seed}, case {}); from {}",
        case.number, case.base.spec
    );
    trigger.requirement =
        "An implementation survives malformed input: it rejects or ignores it and keeps serving (this file sends the input; the probe beside it checks)".into();
    trigger.level = Level::Must;
    trigger.profiles = vec![profile.to_owned()];
    trigger.tags = vec!["fuzz".into(), problem.kind.into()];
    trigger.covers.clear();

    let mut p = probe.clone();
    p.id = format!("{stem}.b-probe");
    p.title = format!(
        "After finding {number}'s trigger, a fresh connection is still served ({})",
        probe.id
    );
    p.requirement = format!(
        "The implementation still answers its basic handshake ({}) after malformed input",
        probe.id
    );
    p.level = Level::Must;
    p.profiles = vec![profile.to_owned()];
    p.tags = vec!["fuzz".into(), "probe".into()];
    p.covers.clear();
    p.steps.insert(
        0,
        Step {
            sleep: Some(PROBE_PAUSE.into()),
            note: Some("let the trigger scenario (a-trigger.yaml) run first".into()),
            ..Default::default()
        },
    );

    write_yaml(&dir.join("a-trigger.yaml"), &trigger)?;
    write_yaml(&dir.join("b-probe.yaml"), &p)?;
    let info = json!({
        "kind": problem.kind,
        "detail": problem.detail,
        "seed": seed,
        "case": case.number,
        "protocol": protocol,
        "profile": profile,
        "scenario": case.base.id,
        "step": case.step + 1,
        "mutation": case.mutation.describe(),
        "misbehave": args.transport.misbehave,
        "target": args.transport.target,
        "exec": args.transport.exec,
        "reproduce": format!(
            "peercheck run {} -j 1{}",
            dir.display(),
            args.transport.misbehave.as_ref().map(|m| format!(" --misbehave {m}")).unwrap_or_default()
        ),
    });
    let text = serde_json::to_string_pretty(&info).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("finding.json"), text).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// Drop `null` members of a map (unset optional keys of scenarios and steps).
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

fn write_yaml(path: &Path, s: &Scenario) -> Result<(), String> {
    let mut v = without_nulls(serde_json::to_value(s).map_err(|e| e.to_string())?);
    if let Some(steps) = v.get_mut("steps").and_then(Value::as_array_mut) {
        for st in steps.iter_mut() {
            *st = without_nulls(std::mem::take(st));
        }
    }
    let text = serde_yaml::to_string(&v).map_err(|e| e.to_string())?;
    let header = "# Written by `peercheck fuzz`: replay with `peercheck run <this folder> -j 1`.\n";
    std::fs::write(path, format!("{header}{text}")).map_err(|e| format!("{}: {e}", path.display()))
}
