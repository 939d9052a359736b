//! `peercheck selftest`: prove the catalogue on the built-in simulator.
//!
//! 1. Every scenario passes against the correct simulator, for every profile of its protocol
//!    (over TCP, and over stdio with `--stdio`).
//! 2. Every misbehaviour mode (a realistic implementation bug) is caught: at least one scenario of
//!    its protocol and role gets `fail` or `non-strict`. A mode nothing catches is a gap in the
//!    catalogue. The matrix of which scenarios catch which mode is written as Markdown.

use super::exit;
use super::run::{execute, ExecPlan};
use crate::cli::SelftestArgs;
use crate::engine::Timing;
use crate::protocols;
use crate::report::{self, ScenarioResult};
use crate::scenario::{self, LoadedScenario};
use crate::transport::Target;
use crate::verdict::Verdict;
use peercheck_simulator::{Misbehaviour, Observable};
use std::collections::BTreeMap;
use std::sync::Arc;

pub async fn run(args: &SelftestArgs) -> i32 {
    let (all, mut errs) = scenario::load_dir(&args.scenarios);
    errs.extend(scenario::check::check_all(&all));
    if !errs.is_empty() {
        for e in &errs {
            eprintln!("error: {e}");
        }
        return exit::USAGE;
    }
    let wanted: Vec<String> = if args.protocol.is_empty() {
        protocols::names().iter().map(|s| s.to_string()).collect()
    } else {
        args.protocol.clone()
    };
    let timing = Timing {
        scale: args.timeout_scale,
        disabled: false,
        speed: args.sim_speed,
    };
    let mut problems = Vec::new();
    let mut passes = 0usize;

    // 1. The correct simulator, every profile, tcp (and stdio).
    let mut transports = vec![("tcp", Target::BuiltinTcp { misbehave: None })];
    if args.stdio {
        transports.push(("stdio", Target::BuiltinStdio { misbehave: None }));
    }
    for proto in &wanted {
        let Ok(def) = protocols::get(proto) else {
            eprintln!("error: unknown protocol {proto}");
            return exit::USAGE;
        };
        for profile in def.profiles() {
            let list = applicable(&all, proto, profile, None);
            if list.is_empty() {
                continue;
            }
            for (name, target) in &transports {
                let results =
                    match run_set(list.clone(), target.clone(), proto, profile, timing, args.jobs).await {
                        Ok(r) => r,
                        Err(e) => {
                            eprintln!("error: {e}");
                            return exit::USAGE;
                        }
                    };
                for r in &results {
                    if r.verdict == Verdict::Pass || r.verdict == Verdict::Unsupported {
                        passes += 1;
                    } else {
                        problems.push(format!(
                            "correct simulator ({name}, {profile}): {} is {}: {}",
                            r.id,
                            r.verdict.as_str(),
                            r.reason
                        ));
                    }
                }
                println!(
                    "correct simulator  {proto:<6} {profile:<14} {name:<5} {} scenario(s)",
                    results.len()
                );
            }
        }
    }

    // 2. Every misbehaviour mode must be caught.
    let mode_glob = args.mode.as_deref().map(globset::Glob::new).transpose();
    let mode_glob = match mode_glob {
        Ok(g) => g.map(|g| g.compile_matcher()),
        Err(e) => {
            eprintln!("error: --mode: {e}");
            return exit::USAGE;
        }
    };
    let mut matrix: Vec<(String, Misbehaviour, Vec<String>)> = Vec::new();
    let mut caught_modes = 0usize;
    for proto in &wanted {
        let Ok(def) = protocols::get(proto) else { continue };
        for m in protocols::misbehaviours(proto) {
            if mode_glob.as_ref().is_some_and(|g| !g.is_match(m.name)) {
                continue;
            }
            // Default profile first; a bug that only shows in another profile is caught there.
            let mut caught: Vec<String> = Vec::new();
            for profile in def.profiles() {
                let list = applicable(&all, proto, profile, Some(m.role));
                // With --first-catch, chunks run in turn until one catches the mode (CI speed);
                // without it every scenario runs (the full matrix).
                let chunk = if args.first_catch {
                    args.jobs.max(1) * 2
                } else {
                    list.len().max(1)
                };
                for part in list.chunks(chunk) {
                    let target = Target::BuiltinTcp {
                        misbehave: Some(m.name.to_owned()),
                    };
                    let results =
                        match run_set(part.to_vec(), target, proto, profile, timing, args.jobs).await {
                            Ok(r) => r,
                            Err(e) => {
                                eprintln!("error: {e}");
                                return exit::USAGE;
                            }
                        };
                    caught.extend(
                        results
                            .iter()
                            .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::NonStrict))
                            .map(|r| format!("{} ({}, {profile})", r.id, r.verdict.as_str())),
                    );
                    if !caught.is_empty() {
                        break;
                    }
                }
                if !caught.is_empty() {
                    break;
                }
            }
            if !caught.is_empty() {
                // A mode proven invisible is not counted even where a scenario happens to fail.
                if !matches!(m.observable, Observable::None(_)) {
                    caught_modes += 1;
                }
                println!(
                    "misbehaviour {:<45} {:<6} caught by {} scenario(s)",
                    m.name,
                    m.role.as_str(),
                    caught.len()
                );
            } else {
                // Where the mode says it shows (simulator: `Misbehaviour::observable`).
                match m.observable {
                    Observable::SecondConnection => {
                        println!(
                            "misbehaviour {:<45} {:<6} left to peercheck fuzz (liveness probe)",
                            m.name,
                            m.role.as_str()
                        );
                        caught.push("no single-connection scenario; found by `peercheck fuzz` (its liveness probe opens a new connection)".into());
                    }
                    Observable::None(why) => {
                        println!(
                            "misbehaviour {:<45} {:<6} not observable on the wire",
                            m.name,
                            m.role.as_str()
                        );
                        caught.push(format!("not observable on the wire: {why}"));
                    }
                    Observable::Wire => {
                        println!(
                            "misbehaviour {:<45} {:<6} CAUGHT BY NOTHING",
                            m.name,
                            m.role.as_str()
                        );
                        problems.push(format!(
                            "misbehaviour `{}` ({proto}, {}) is caught by no scenario",
                            m.name,
                            m.role.as_str()
                        ))
                    }
                }
            }
            matrix.push((proto.clone(), *m, caught));
        }
    }
    if let Some(path) = &args.matrix {
        let mut md = String::from("# Misbehaviour catch matrix\n\nGenerated by `peercheck selftest --matrix docs/misbehaviour-matrix.md`: each simulator\nmisbehaviour mode (a realistic implementation bug) and the catalogue scenarios that catch it\n(verdict `fail` or `non-strict` against the misbehaving simulator; the default profile first, then\nthe others until one catches it).\n\n| protocol | mode | role | bug | caught by |\n|---|---|---|---|---|\n");
        for (p, m, caught) in &matrix {
            let (name, role, desc) = (m.name, m.role.as_str(), m.description);
            let by = if caught.is_empty() {
                "**NOTHING — a gap in the catalogue**".to_owned()
            } else {
                caught.join("<br>")
            };
            md.push_str(&format!(
                "| {p} | `{name}` | {role} | {} | {by} |\n",
                desc.replace('|', "\\|")
            ));
        }
        if let Err(e) = report::write_atomic(path, md.as_bytes()) {
            eprintln!("error: {}: {e}", path.display());
        }
    }
    let modes = matrix.len();
    let invisible = matrix
        .iter()
        .filter(|(_, m, _)| matches!(m.observable, Observable::None(_)))
        .count();
    println!(
        "\nselftest: {passes} scenario run(s) pass on the correct simulator; {caught_modes} of {modes} misbehaviour mode(s) caught, {invisible} not observable on the wire"
    );
    for p in &problems {
        println!("PROBLEM: {p}");
    }
    if problems.is_empty() {
        exit::OK
    } else {
        exit::FAILURES
    }
}

/// Scenarios of `proto` that apply to `profile` (and, for a misbehaviour, to its role).
fn applicable(
    all: &[LoadedScenario],
    proto: &str,
    profile: &str,
    role: Option<peercheck_wire::session::Role>,
) -> Vec<LoadedScenario> {
    all.iter()
        .filter(|s| s.scenario.protocol == proto)
        .filter(|s| s.scenario.profiles.is_empty() || s.scenario.profiles.iter().any(|p| p == profile))
        .filter(|s| role.is_none_or(|r| s.scenario.peer.as_role() == r))
        .cloned()
        .collect()
}

async fn run_set(
    list: Vec<LoadedScenario>,
    target: Target,
    proto: &str,
    profile: &str,
    timing: Timing,
    jobs: usize,
) -> Result<Vec<ScenarioResult>, String> {
    let mut profiles = BTreeMap::new();
    profiles.insert(proto.to_owned(), profile.to_owned());
    let plan = ExecPlan {
        target: Arc::new(target),
        profiles,
        params: Vec::new(),
        framing: None,
        timing,
        seed: 1,
        jobs,
    };
    let (results, _, interrupted) = execute(list, &plan, |_| {}).await?;
    if interrupted {
        return Err("interrupted".into());
    }
    Ok(results)
}
