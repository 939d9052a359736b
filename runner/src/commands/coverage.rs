//! `peercheck coverage`: which requirements the catalogue covers, per spec section.

use super::exit;
use crate::cli::CoverageArgs;
use crate::requirements;
use crate::scenario::{self, Level};
use std::collections::BTreeMap;

pub fn run(args: &CoverageArgs) -> i32 {
    let reg_dir = args
        .requirements
        .clone()
        .unwrap_or_else(|| requirements::beside(&args.scenarios));
    let registry = match requirements::load(&reg_dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let (scenarios, errs) = scenario::load_dir(&args.scenarios);
    for e in &errs {
        eprintln!("error: {e}");
    }
    if !errs.is_empty() {
        return exit::USAGE;
    }
    let mut by_req: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in &scenarios {
        for c in &s.scenario.covers {
            by_req.entry(c.as_str()).or_default().push(&s.scenario.id);
        }
    }
    let known: std::collections::HashSet<&str> = registry
        .iter()
        .flat_map(|(r, _)| r.requirements.iter().map(|q| q.id.as_str()))
        .collect();
    let mut unknown_refs = Vec::new();
    for s in &scenarios {
        for c in &s.scenario.covers {
            if !known.contains(c.as_str()) {
                unknown_refs.push(format!("{} covers unknown requirement `{c}`", s.scenario.id));
            }
        }
    }
    let mut json_specs = Vec::new();
    let mut gaps = 0usize;
    for (reg, path) in &registry {
        let mut sections: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
        let (mut covered, mut justified, mut open) = (0, 0, 0);
        if !args.json {
            println!("\n# {} ({})", reg.spec, path.display());
        }
        for q in &reg.requirements {
            let by = by_req.get(q.id.as_str()).cloned().unwrap_or_default();
            let state = if !by.is_empty() {
                covered += 1;
                "covered"
            } else if q.untestable.is_some() {
                justified += 1;
                "justified"
            } else {
                open += 1;
                if q.level == Level::Must {
                    gaps += 1;
                }
                "uncovered"
            };
            sections
                .entry(q.section.as_str())
                .or_default()
                .push(serde_json::json!({
                    "id": q.id, "level": q.level, "state": state, "scenarios": by, "untestable": q.untestable,
                }));
        }
        for (sec, reqs) in &sections {
            if args.json {
                continue;
            }
            println!("  {sec}");
            for r in reqs {
                let state = r["state"].as_str().unwrap_or("");
                let detail = match state {
                    "covered" => r["scenarios"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", "))
                        .unwrap_or_default(),
                    "justified" => format!("untestable: {}", r["untestable"].as_str().unwrap_or("")),
                    _ => "NOT COVERED".into(),
                };
                println!(
                    "    [{:<9}] {:<6} {}  {detail}",
                    state,
                    r["level"].as_str().unwrap_or(""),
                    r["id"].as_str().unwrap_or("")
                );
            }
        }
        if !args.json {
            println!(
                "  => {covered} covered, {justified} justified, {open} uncovered of {}",
                reg.requirements.len()
            );
        }
        json_specs.push(serde_json::json!({
            "spec": reg.spec, "file": path.display().to_string(), "covered": covered, "justified": justified,
            "uncovered": open, "sections": sections,
        }));
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "specs": json_specs, "unknown_references": unknown_refs })
            )
            .unwrap_or_default()
        );
    }
    for u in &unknown_refs {
        eprintln!("error: {u}");
    }
    if !unknown_refs.is_empty() {
        return exit::USAGE;
    }
    if args.fail_uncovered_must && gaps > 0 {
        eprintln!("{gaps} MUST requirement(s) neither covered nor justified");
        return exit::FAILURES;
    }
    exit::OK
}
