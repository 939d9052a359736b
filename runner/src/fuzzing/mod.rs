//! `peercheck fuzz`: a campaign of mutated catalogue exchanges against a live server.
//!
//! For each case: pick a catalogue scenario and one of its send steps, run the scenario up to that
//! step with the step mutated (`mutate`), then check the implementation is still alive (`liveness`):
//! a fresh connection must pass the protocol's basic handshake scenario (the probe), the process we
//! started must not have exited, printed a panic or grown past `--max-rss`; a stdio child must exit
//! by itself at end of input. A case that breaks liveness is a finding: shrunk (`shrink`) and
//! written as a replayable scenario pair (`finding`). Everything random comes from `--seed`.

mod finding;
mod liveness;
mod mutate;
mod shrink;
mod target;

use crate::cli::{params_for, Builtin};
use crate::commands::fuzz::FuzzArgs;
use crate::engine::{self, Timing};
use crate::protocols;
use crate::scenario::{LoadedScenario, PeerRole, Scenario};
use crate::select::Selection;
use liveness::{Case, Under};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Why a campaign could not run.
#[derive(Debug)]
pub enum FuzzError {
    Usage(String),
    Unreachable(String),
}

/// The probe scenario per protocol when `--probe` is not given.
const DEFAULT_PROBES: &[(&str, &str)] = &[
    ("now", "now.channel.capset.answer"),
    ("inedo", "inedo.handshake.reply-v1-none"),
    ("psrp", "psrp.runspacepool.open"),
];

/// One scenario's starting point: the scenario and the bytes each send step wrote unmutated.
#[derive(Debug, Clone)]
struct Seedling {
    scenario: Scenario,
    /// (step index, bytes) for every send/send-hex step written in the baseline run (unmutated;
    /// run the first time the scenario is picked).
    sent: Option<Vec<(usize, Vec<u8>)>>,
}

/// Run a campaign; returns the number of findings.
pub async fn campaign(args: &FuzzArgs) -> Result<usize, FuzzError> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos() % u128::from(u64::MAX)).unwrap_or(1))
            .unwrap_or(1)
    });
    let max_time = crate::scenario::model::parse_duration(&args.max_time).map_err(FuzzError::Usage)?;
    let probe_timeout =
        crate::scenario::model::parse_duration(&args.probe_timeout).map_err(FuzzError::Usage)?;
    let started = Instant::now();

    // Load the catalogue once (parse + includes); check only what is selected (checking the whole
    // catalogue encodes every message with every profile, which is slow and not needed here).
    if !args.scenarios.exists() {
        return Err(FuzzError::Usage(format!(
            "scenario path {} does not exist",
            args.scenarios.display()
        )));
    }
    // Files that do not load are not selectable; `peercheck check` reports them.
    let (catalogue, _load_errors) = crate::scenario::load_dir(&args.scenarios);
    let profiles = crate::commands::chosen_profiles(&args.profile).map_err(FuzzError::Usage)?;
    let selection = Selection {
        filters: args.filter.clone(),
        tags: Vec::new(),
        levels: Vec::new(),
        role: Some(PeerRole::Server),
        partition: None,
    };
    let scenarios = selection.apply(catalogue.clone()).map_err(FuzzError::Usage)?;
    let scenarios: Vec<LoadedScenario> = scenarios
        .into_iter()
        .filter(|s| {
            let p = profiles.get(&s.scenario.protocol).cloned().unwrap_or_default();
            s.scenario.profiles.is_empty() || s.scenario.profiles.contains(&p)
        })
        .collect();
    let mut errors: Vec<String> = Vec::new();
    for s in &scenarios {
        errors.extend(
            crate::scenario::check::check_one(s)
                .iter()
                .map(ToString::to_string),
        );
    }
    if !errors.is_empty() {
        return Err(FuzzError::Usage(format!(
            "scenario errors:\n{}",
            errors.join("\n")
        )));
    }
    let scenarios: Vec<LoadedScenario> = scenarios
        .into_iter()
        .filter(|s| {
            s.scenario
                .steps
                .iter()
                .any(|st| st.send.is_some() || st.send_hex.is_some())
        })
        .collect();
    if scenarios.is_empty() {
        return Err(FuzzError::Usage(
            "no server scenario with a send step selected (check --filter and --profile)".into(),
        ));
    }

    // One implementation per protocol the selection touches.
    let mut by_proto: BTreeMap<String, Vec<LoadedScenario>> = BTreeMap::new();
    for s in scenarios {
        by_proto.entry(s.scenario.protocol.clone()).or_default().push(s);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    eprintln!(
        "peercheck fuzz: {} scenario(s) of {} against {}; seed {seed} (rerun with --seed {seed}); at most {} case(s) in {:?}",
        by_proto.values().map(Vec::len).sum::<usize>(),
        by_proto.keys().cloned().collect::<Vec<_>>().join(", "),
        describe_target(args),
        args.max_cases,
        max_time
    );

    let mut findings = 0usize;
    let mut cases = 0u64;
    let mut workers = Vec::new();
    for (proto_name, list) in by_proto {
        let proto = protocols::get(&proto_name).map_err(FuzzError::Usage)?;
        let profile = profiles.get(&proto_name).cloned().unwrap_or_default();
        let mut params = params_for(&args.param, &proto_name).map_err(FuzzError::Usage)?;
        let probe_id = args.probe.clone().unwrap_or_else(|| {
            DEFAULT_PROBES
                .iter()
                .find(|(p, _)| *p == proto_name)
                .map(|(_, id)| (*id).to_owned())
                .unwrap_or_default()
        });
        let probe = catalogue
            .iter()
            .find(|s| s.scenario.id == probe_id)
            .map(|s| s.scenario.clone())
            .ok_or_else(|| {
                FuzzError::Usage(format!(
                    "no probe scenario `{probe_id}` for {proto_name} in {} (pick one with --probe)",
                    args.scenarios.display()
                ))
            })?;
        params.extend(probe.params.clone());
        let under = Under::new(args, &proto_name, &profile, &params)?;
        workers.push((proto, profile, list, probe, under));
    }

    // Check each implementation is healthy before mutating anything.
    let mut pools = Vec::new();
    for (proto, profile, list, probe, mut under) in workers {
        under.ensure_running().await?;
        let alive = liveness::probe(&mut under, proto, &profile, &probe, probe_timeout, seed).await;
        if let Err(why) = alive {
            under.shutdown().await;
            return Err(FuzzError::Unreachable(format!(
                "the probe `{}` fails before any mutation ({}: {}): the implementation is not healthy to start with, or pick another --probe",
                probe.id, why.kind, why.detail
            )));
        }
        let seedlings: Vec<Seedling> = list
            .iter()
            .filter(|s| params_agree(&s.scenario, &under.params))
            .map(|s| Seedling {
                scenario: s.scenario.clone(),
                sent: None,
            })
            .collect();
        pools.push((proto, profile, seedlings, probe, under));
    }

    let stop_after = if args.max_findings == 0 {
        usize::MAX
    } else {
        args.max_findings
    };
    'campaign: while cases < args.max_cases && started.elapsed() < max_time && findings < stop_after {
        let Some(pool_index) = (!pools.is_empty()).then(|| rng.gen_range(0..pools.len())) else {
            break;
        };
        let Some((proto, profile, seedlings, probe, under)) = pools.get_mut(pool_index) else {
            break;
        };
        let proto = *proto;
        if seedlings.is_empty() {
            pools.remove(pool_index);
            continue;
        }
        let pick = rng.gen_range(0..seedlings.len());
        let Some(seedling) = seedlings.get(pick).cloned() else {
            continue;
        };
        let sent = match &seedling.sent {
            Some(sent) => sent.clone(),
            None => {
                // Faster than real time: only the bytes the send steps write matter here.
                let quick = Timing {
                    scale: 0.2,
                    disabled: false,
                    speed: 1,
                };
                let rec =
                    liveness::run_scenario(under, proto, profile, &seedling.scenario, quick, seed).await;
                if args.verbose {
                    match &rec {
                        Ok(r) => eprintln!("baseline {}: {:?} {}", seedling.scenario.id, r.outcome, r.reason),
                        Err(p) => eprintln!("baseline {}: {} {}", seedling.scenario.id, p.kind, p.detail),
                    }
                }
                let sent = sent_steps(&seedling.scenario, &rec.map(|r| r.trace).unwrap_or_default());
                // A catalogue scenario that itself breaks the implementation is `peercheck run`'s
                // business, not a fuzz finding: note it, restart, and do not mutate it.
                let broken = liveness::probe(under, proto, profile, probe, probe_timeout, seed)
                    .await
                    .is_err();
                if broken {
                    eprintln!(
                        "note: the unmutated scenario `{}` already breaks the implementation (run it with `peercheck run`); not fuzzing it",
                        seedling.scenario.id
                    );
                    if under.restartable() {
                        under.restart().await?;
                    }
                }
                if broken || sent.is_empty() {
                    seedlings.remove(pick);
                    continue;
                }
                if let Some(s) = seedlings.get_mut(pick) {
                    s.sent = Some(sent.clone());
                }
                sent
            }
        };
        let Some((step_index, bytes)) = sent.get(rng.gen_range(0..sent.len())).cloned() else {
            continue;
        };
        let Some(step) = seedling.scenario.steps.get(step_index) else {
            continue;
        };
        let spans = liveness::spans_of(proto, profile, &seedling.scenario, &bytes);
        let Some(mutation) = mutate::pick(step, &bytes, &spans, proto.length_field(), &mut rng) else {
            continue;
        };
        cases += 1;
        let case = Case::new(&seedling.scenario, step_index, mutation.clone(), cases);
        if args.verbose {
            eprintln!(
                "case {cases}: {} step {}: {}",
                seedling.scenario.id,
                step_index + 1,
                mutation.describe()
            );
        }
        let verdict = liveness::run_case(
            under,
            proto,
            profile,
            &case,
            probe,
            probe_timeout,
            args.max_rss,
            seed,
        )
        .await?;
        let Some(problem) = verdict else { continue };
        findings += 1;
        eprintln!(
            "finding {findings}: {} after {} step {}: {} — {}",
            problem.kind,
            seedling.scenario.id,
            step_index + 1,
            mutation.describe(),
            problem.detail
        );
        let (case, problem) = if args.no_shrink || !under.restartable() {
            (case, problem)
        } else {
            shrink::shrink(
                under,
                proto,
                profile,
                case,
                problem,
                probe,
                probe_timeout,
                args.max_rss,
                seed,
            )
            .await
        };
        match finding::write(
            &args.out,
            findings,
            proto.name(),
            profile,
            &case,
            &problem,
            probe,
            seed,
            args,
        ) {
            Ok(dir) => println!(
                "finding {findings} [{}]: {}\n  reproduce: peercheck run {} -j 1{}",
                problem.kind,
                problem.detail,
                dir.display(),
                args.transport
                    .misbehave
                    .as_ref()
                    .map(|m| format!(" --misbehave {m}"))
                    .unwrap_or_default()
            ),
            Err(e) => eprintln!("error: cannot write the finding: {e}"),
        }
        if under.restartable() {
            under.restart().await?;
        } else {
            eprintln!("the implementation cannot be restarted by peercheck (--target): stopping");
            break 'campaign;
        }
    }
    for (_, _, _, _, under) in pools {
        under.shutdown().await;
    }
    println!(
        "peercheck fuzz: {cases} case(s) in {:.1}s, {findings} finding(s); seed {seed}",
        started.elapsed().as_secs_f64()
    );
    Ok(findings)
}

/// A scenario can run against the shared server only if its params do not contradict the server's.
fn params_agree(s: &Scenario, server: &BTreeMap<String, String>) -> bool {
    s.params.iter().all(|(k, v)| server.get(k).is_none_or(|w| w == v))
}

fn describe_target(args: &FuzzArgs) -> String {
    if let Some(t) = &args.transport.target {
        return t.clone();
    }
    if let Some(e) = &args.transport.exec {
        return format!("stdio `{e}`");
    }
    let how = match args.transport.builtin.unwrap_or(Builtin::Tcp) {
        Builtin::Tcp => "tcp",
        Builtin::Stdio => "stdio",
    };
    format!(
        "the built-in simulator ({how}){}",
        args.transport
            .misbehave
            .as_ref()
            .map(|m| format!(", misbehaving: {m}"))
            .unwrap_or_default()
    )
}

/// Map the `sent` trace entries of a run back to the send steps that wrote them.
fn sent_steps(s: &Scenario, trace: &[engine::TraceEntry]) -> Vec<(usize, Vec<u8>)> {
    let mut sent = trace
        .iter()
        .filter(|t| t.kind == "sent" && t.name != "(session)")
        .map(|t| hex::decode(&t.hex).unwrap_or_default());
    let mut out = Vec::new();
    for (i, step) in s.steps.iter().enumerate() {
        if step.send.is_some() || step.send_hex.is_some() {
            match sent.next() {
                Some(b) if !b.is_empty() => out.push((i, b)),
                Some(_) => {}
                None => break,
            }
        }
    }
    out
}

/// A seed per case so each case's own randomness does not depend on the others.
pub(crate) fn case_seed(seed: u64, case: u64) -> u64 {
    seed ^ case.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// How long to let the implementation chew on the mutated input before judging it.
pub(crate) const SETTLE: Duration = Duration::from_millis(150);
