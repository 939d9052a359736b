//! `peercheck run`: the scenario runner.

use super::{chosen_profiles, exit, load_selected};
use crate::cli::{params_for, RunArgs};
use crate::engine::{self, Outcome, Timing};
use crate::expectations::{self, Expectation, Expectations, ExpectationsFile};
use crate::protocols;
use crate::report::{self, terminal, ScenarioResult};
use crate::scenario::{LoadedScenario, PeerRole, Scenario};
use crate::select::stable_hash;
use crate::transport::{self, OpenContext, OpenError, Target};
use crate::verdict::{judge, Verdict};
use peercheck_wire::session::SessionOptions;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Everything `execute` needs besides the scenarios.
#[derive(Debug, Clone)]
pub struct ExecPlan {
    pub target: Arc<Target>,
    pub profiles: std::collections::BTreeMap<String, String>,
    /// `--param` pairs (`key=value` or `protocol:key=value`).
    pub params: Vec<String>,
    pub framing: Option<String>,
    pub timing: Timing,
    pub seed: u64,
    pub jobs: usize,
}

/// Run scenarios in parallel; `on_result` sees each result as it finishes (and may adjust it).
/// Returns the results in scenario order, how many could not reach the implementation, and
/// whether the run was interrupted (Ctrl-C: children are killed, finished results kept).
pub async fn execute(
    scenarios: Vec<LoadedScenario>,
    plan: &ExecPlan,
    mut on_result: impl FnMut(&mut ScenarioResult),
) -> Result<(Vec<ScenarioResult>, usize, bool), String> {
    if plan.jobs <= 1 {
        return execute_in_order(scenarios, plan, on_result).await;
    }
    let sem = Arc::new(Semaphore::new(plan.jobs.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let total = scenarios.len();
    // Start the scenarios that wait longest first, so that one long wait does not end the run
    // alone (results are reported in scenario order all the same).
    let mut order: Vec<(usize, LoadedScenario)> = scenarios.into_iter().enumerate().collect();
    order.sort_by_cached_key(|(_, s)| std::cmp::Reverse(planned_wait(&s.scenario, plan)));
    for (index, s) in order {
        let sem = sem.clone();
        let target = plan.target.clone();
        let profile = plan
            .profiles
            .get(&s.scenario.protocol)
            .cloned()
            .unwrap_or_default();
        let mut cli_params = params_for(&plan.params, &s.scenario.protocol)?;
        if let (Some(f), "psrp") = (&plan.framing, s.scenario.protocol.as_str()) {
            cli_params.insert("framing".into(), f.clone());
        }
        let (timing, seed) = (plan.timing, plan.seed);
        set.spawn(async move {
            let _permit = sem.acquire().await;
            (
                index,
                run_one(&s, &target, &profile, cli_params, timing, seed).await,
            )
        });
    }
    let mut results: Vec<(usize, ScenarioResult)> = Vec::with_capacity(total);
    let mut unreachable = 0usize;
    let mut interrupted = false;
    loop {
        tokio::select! {
            next = set.join_next() => match next {
                None => break,
                Some(Ok((i, (mut r, was_unreachable)))) => {
                    if was_unreachable { unreachable += 1; }
                    on_result(&mut r);
                    results.push((i, r));
                }
                Some(Err(e)) => eprintln!("error: a scenario task failed: {e}"),
            },
            _ = tokio::signal::ctrl_c() => {
                interrupted = true;
                eprintln!("\ninterrupted: stopping; children are killed and reaped, reports keep what finished");
                set.abort_all();
                while set.join_next().await.is_some() {}
                break;
            }
        }
    }
    results.sort_by_key(|(i, _)| *i);
    Ok((
        results.into_iter().map(|(_, r)| r).collect(),
        unreachable,
        interrupted,
    ))
}

/// How long `s` waits on purpose under `plan` (silences and sleeps, at its clock speed).
fn planned_wait(s: &Scenario, plan: &ExecPlan) -> Duration {
    let speed = match *plan.target {
        Target::BuiltinTcp { .. } | Target::BuiltinStdio { .. } => {
            crate::pace::clock_speed(s, plan.timing.speed, plan.timing.scale)
        }
        _ => 1,
    };
    crate::pace::planned_wait(s, speed, plan.timing.scale)
}

/// `-j 1`: one scenario after the other, in scenario order (a fuzz finding's trigger must run before
/// its probe; spawned tasks would race for the single permit).
async fn execute_in_order(
    scenarios: Vec<LoadedScenario>,
    plan: &ExecPlan,
    mut on_result: impl FnMut(&mut ScenarioResult),
) -> Result<(Vec<ScenarioResult>, usize, bool), String> {
    let mut results = Vec::with_capacity(scenarios.len());
    let mut unreachable = 0usize;
    for s in &scenarios {
        let profile = plan
            .profiles
            .get(&s.scenario.protocol)
            .cloned()
            .unwrap_or_default();
        let mut cli_params = params_for(&plan.params, &s.scenario.protocol)?;
        if let (Some(f), "psrp") = (&plan.framing, s.scenario.protocol.as_str()) {
            cli_params.insert("framing".into(), f.clone());
        }
        tokio::select! {
            (mut r, was_unreachable) = run_one(s, &plan.target, &profile, cli_params, plan.timing, plan.seed) => {
                if was_unreachable {
                    unreachable += 1;
                }
                on_result(&mut r);
                results.push(r);
            }
            _ = tokio::signal::ctrl_c() => {
                eprintln!("\ninterrupted: stopping; children are killed and reaped, reports keep what finished");
                return Ok((results, unreachable, true));
            }
        }
    }
    Ok((results, unreachable, false))
}

pub async fn run(args: &RunArgs) -> i32 {
    let target = match args.transport.target() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    // The transport decides which role the implementation can play.
    let implied_role = match &target {
        Target::Connect(_) => Some(PeerRole::Server),
        Target::Listen { .. } => Some(PeerRole::Client),
        _ => None,
    };
    if matches!(target, Target::Exec(_)) && args.select.role.is_none() {
        eprintln!("error: stdio mode (--exec without --listen) needs --role server|client: the role the spawned program plays");
        return exit::USAGE;
    }
    if let (Some(implied), Some(given)) = (implied_role, args.select.role.as_deref()) {
        if implied
            != if given == "server" {
                PeerRole::Server
            } else {
                PeerRole::Client
            }
        {
            eprintln!("error: --role {given} contradicts the transport (--target is for servers, --listen for clients)");
            return exit::USAGE;
        }
    }
    let scenarios = match load_selected(&args.select, implied_role) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if scenarios.is_empty() {
        eprintln!("error: no scenario selected (check --filter, --tag, --level, --role, --profile, --partition): a run of zero scenarios proves nothing");
        return exit::USAGE;
    }
    let profiles = match chosen_profiles(&args.select.profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let mut expectations: Option<Expectations> = match &args.expectations {
        Some(p) if p.exists() || !args.update_expectations => {
            match Expectations::load(p, &expectations::today()) {
                Ok(e) => Some(e),
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit::USAGE;
                }
            }
        }
        _ => None,
    };
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos() % u128::from(u64::MAX)).unwrap_or(1))
            .unwrap_or(1)
    });
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
        .max(1);
    let timing = Timing {
        scale: args.timeout_scale,
        disabled: args.no_timeout,
        speed: args.sim_speed,
    };
    let style = terminal::Style::detect();
    eprintln!(
        "peercheck {}: {} scenario(s) against {}; seed {seed}; {jobs} parallel",
        env!("CARGO_PKG_VERSION"),
        scenarios.len(),
        target.describe()
    );

    let progress = if !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new(scenarios.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let plan = ExecPlan {
        target: Arc::new(target.clone()),
        profiles: profiles.clone(),
        params: args.param.clone(),
        framing: args.framing.clone(),
        timing,
        seed,
        jobs,
    };
    let quiet = args.quiet;
    let strict = args.strict;
    let outcome = execute(scenarios, &plan, |r| {
        if let Some(e) = expectations.as_mut() {
            let (v, why) = e.apply(&r.id, r.verdict);
            r.verdict = v;
            r.expectation = why;
        }
        if !quiet || r.verdict.fails_run(strict) {
            progress.suspend(|| println!("{}", terminal::line(r, style)));
        }
        progress.inc(1);
    })
    .await;
    progress.finish_and_clear();
    let (results, unreachable, interrupted) = match outcome {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };

    for r in results
        .iter()
        .filter(|r| !matches!(r.verdict, Verdict::Pass | Verdict::Xfail | Verdict::Unsupported))
    {
        print!("{}", terminal::details(r));
    }
    print!("{}", terminal::summary(&results, style));
    let (stale, expired): (Vec<&Expectation>, Vec<&Expectation>) = expectations
        .as_ref()
        .map(|e| (e.stale(), e.expired()))
        .unwrap_or_default();
    for e in &stale {
        println!(
            "stale expectation: `{}` matched no scenario of this run ({})",
            e.id, e.reason
        );
    }
    for e in &expired {
        println!(
            "expired expectation (ignored): `{}` expired {}",
            e.id,
            e.expires.as_deref().unwrap_or("?")
        );
    }
    println!("seed: {seed} (rerun with --seed {seed})");

    let mut code = exit::OK;
    if let Some(p) = &args.json {
        let rep = report::json::Report {
            schema_version: report::json::SCHEMA_VERSION,
            peercheck_version: env!("CARGO_PKG_VERSION"),
            seed,
            target: target.describe(),
            interrupted,
            summary: report::json::summary(&results),
            results: &results,
            stale_expectations: stale.clone(),
            expired_expectations: expired.clone(),
        };
        let text = serde_json::to_string_pretty(&rep).unwrap_or_default();
        if let Err(e) = report::write_atomic(p, text.as_bytes()) {
            eprintln!("error: cannot write {}: {e}", p.display());
            code = exit::FAILURES;
        }
    }
    if let Some(p) = &args.junit {
        match report::junit::render(&results) {
            Ok(xml) => {
                if let Err(e) = report::write_atomic(p, xml.as_bytes()) {
                    eprintln!("error: cannot write {}: {e}", p.display());
                    code = exit::FAILURES;
                }
            }
            Err(e) => eprintln!("error: junit: {e}"),
        }
    }
    if args.update_expectations {
        if let Some(p) = &args.expectations {
            let file = updated_expectations(expectations.as_ref().map(|e| &e.file), &results);
            let text = serde_yaml::to_string(&file).unwrap_or_default();
            if let Err(e) = report::write_atomic(p, text.as_bytes()) {
                eprintln!("error: cannot write {}: {e}", p.display());
            } else {
                println!("wrote {} expectation(s) to {}", file.entries.len(), p.display());
            }
        }
    }
    if interrupted {
        return exit::FAILURES;
    }
    if !results.is_empty() && unreachable == results.len() {
        return exit::UNREACHABLE;
    }
    if code == exit::OK && results.iter().any(|r| r.verdict.fails_run(args.strict)) {
        code = exit::FAILURES;
    }
    if !args.update_expectations && !stale.is_empty() && code == exit::OK {
        println!(
            "note: stale expectations do not fail the run; remove them or run with --update-expectations"
        );
    }
    code
}

/// Run one scenario; the bool says whether the implementation was unreachable.
async fn run_one(
    s: &LoadedScenario,
    target: &Target,
    profile: &str,
    cli_params: std::collections::BTreeMap<String, String>,
    timing: Timing,
    seed: u64,
) -> (ScenarioResult, bool) {
    let sc = &s.scenario;
    let started = Instant::now();
    let scenario_seed = seed ^ stable_hash(&sc.id);
    let mut params = sc.params.clone();
    params.extend(cli_params);
    let mut result = ScenarioResult {
        id: sc.id.clone(),
        title: sc.title.clone(),
        spec: sc.spec.clone(),
        requirement: sc.requirement.clone(),
        level: sc.level.as_str().into(),
        protocol: sc.protocol.clone(),
        profile: profile.to_owned(),
        peer: format!("{:?}", sc.peer).to_lowercase(),
        verdict: Verdict::Error,
        reason: String::new(),
        step: None,
        mismatches: Vec::new(),
        expectation: None,
        errata: sc.errata.clone(),
        duration_ms: 0,
        trace: Vec::new(),
        stderr: None,
        file: s.path.display().to_string(),
    };
    let proto = match protocols::get(&sc.protocol) {
        Ok(p) => p,
        Err(e) => {
            result.reason = e;
            return (result, false);
        }
    };
    // The built-in simulator's clock runs as fast as this scenario's windows allow (pace.rs).
    let timing = match target {
        Target::BuiltinTcp { .. } | Target::BuiltinStdio { .. } if !timing.disabled => Timing {
            speed: crate::pace::clock_speed(sc, timing.speed, timing.scale),
            ..timing
        },
        _ => Timing { speed: 1, ..timing },
    };
    let ctx = OpenContext {
        protocol: sc.protocol.clone(),
        profile: profile.to_owned(),
        peer_role: sc.peer.as_role(),
        scenario_id: sc.id.clone(),
        params: params.clone(),
        seed: scenario_seed,
        connect_timeout: Timing { speed: 1, ..timing }
            .apply(Duration::from_secs(10))
            .min(Duration::from_secs(3600)),
        clock_speed: timing.speed,
    };
    let opts = SessionOptions {
        local_role: Some(sc.peer.as_role().other()),
        profile: Some(profile.to_owned()),
        params,
    };
    let session = match proto.new_session(&opts) {
        Ok(s) => s,
        Err(e) => {
            result.reason = format!("cannot set up the suite's session: {e}");
            return (result, false);
        }
    };
    let mut conn = match transport::open(target, &ctx).await {
        Ok(c) => c,
        Err(e) => {
            result.reason = e.to_string();
            result.duration_ms = millis(started.elapsed());
            return (result, matches!(e, OpenError::Unreachable(_)));
        }
    };
    let record = engine::run(sc, proto, session, &mut conn.link, timing, scenario_seed).await;
    result.stderr = conn.close().await;
    result.verdict = judge(record.outcome, sc.level);
    result.reason = match record.outcome {
        Outcome::Passed => String::new(),
        _ => record.reason,
    };
    result.step = record.step;
    result.mismatches = record.mismatches;
    result.trace = record.trace;
    result.duration_ms = millis(started.elapsed());
    (result, false)
}

/// The expectations file after this run: known entries kept where they still apply, new
/// deviations added with a reason to fill in.
fn updated_expectations(old: Option<&ExpectationsFile>, results: &[ScenarioResult]) -> ExpectationsFile {
    let mut entries = Vec::new();
    for r in results {
        let verdict = match r.verdict {
            Verdict::Xfail => old
                .and_then(|o| o.entries.iter().find(|e| e.id == r.id))
                .map(|e| e.verdict)
                .unwrap_or(Verdict::Fail),
            Verdict::Fail | Verdict::NonStrict | Verdict::Unsupported | Verdict::Error => r.verdict,
            Verdict::Pass | Verdict::Xpass => continue,
        };
        let reason = old
            .and_then(|o| o.entries.iter().find(|e| e.id == r.id))
            .map(|e| e.reason.clone())
            .unwrap_or_else(|| format!("TODO explain ({}): {}", r.spec, r.reason));
        let expires = old
            .and_then(|o| o.entries.iter().find(|e| e.id == r.id))
            .and_then(|e| e.expires.clone());
        entries.push(Expectation {
            id: r.id.clone(),
            verdict,
            reason,
            expires,
        });
    }
    ExpectationsFile {
        implementation: old.map(|o| o.implementation.clone()).unwrap_or_default(),
        entries,
    }
}

/// Milliseconds, saturating (a run never lasts 584 million years, but casts must not truncate).
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
