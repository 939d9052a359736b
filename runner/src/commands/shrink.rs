//! `peercheck shrink case.yaml`: make a failing scenario as small as it can be while the same
//! failure (verdict, kind of failing step, message names) still reproduces — first fewer steps
//! (chunks, then single steps), then simpler fields (dropped, zeroed, shortened). Every trial runs
//! the real implementation with the same seed; the minimal scenario records the seed.
//!
//! Against `--misbehave M` the correct built-in simulator is the oracle: a smaller scenario counts
//! only if it still passes there too, so shrinking cannot turn a bug report into a scenario that
//! no correct implementation passes (e.g. a server echoing a session id the shrink zeroed).
//! Against other implementations, `--oracle-builtin` asks for the same check.

use super::exit;
use crate::commands::run::ExecPlan;
use crate::scenario::{LoadedScenario, Scenario};
use crate::tools::scenario_yaml;
use crate::tools::shrinker::{self, Signature};
use crate::tools::target::{load_one, run_once, seed_or_clock, TargetArgs};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ShrinkArgs {
    /// The failing scenario file.
    pub scenario: PathBuf,
    #[command(flatten)]
    pub transport: TargetArgs,
    /// Write the minimal scenario here (default: stdout).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Seed for every run (printed, and written into the minimal scenario).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Give up simplifying after this many runs.
    #[arg(long, default_value_t = 300)]
    pub max_runs: usize,
    /// Keep only candidates that pass on the correct built-in simulator (default with --misbehave).
    #[arg(long)]
    pub oracle_builtin: bool,
    /// No oracle check, even with --misbehave.
    #[arg(long, conflicts_with = "oracle_builtin")]
    pub no_oracle: bool,
}

struct Shrinker<'a> {
    template: LoadedScenario,
    plan: &'a ExecPlan,
    /// Where a candidate must pass (the correct simulator), if anywhere.
    oracle: Option<ExecPlan>,
    want: Signature,
    runs: usize,
    max_runs: usize,
}

impl Shrinker<'_> {
    /// Does `candidate` still fail the same way?
    async fn reproduces(&mut self, candidate: &Scenario) -> bool {
        if self.runs >= self.max_runs || candidate.steps.is_empty() {
            return false;
        }
        self.runs += 1;
        let mut loaded = self.template.clone();
        loaded.scenario = candidate.clone();
        let same = match run_once(&loaded, self.plan).await {
            Ok(r) => shrinker::signature(candidate, &r).is_some_and(|s| s == self.want),
            Err(_) => false,
        };
        match &self.oracle {
            Some(o) if same => {
                self.runs += 1;
                run_once(&loaded, o)
                    .await
                    .is_ok_and(|r| r.verdict == crate::verdict::Verdict::Pass)
            }
            _ => same,
        }
    }

    /// Remove chunks of steps, halving the chunk size down to single steps.
    async fn fewer_steps(&mut self, mut s: Scenario) -> Scenario {
        let mut chunk = (s.steps.len() / 2).max(1);
        loop {
            let mut removed = false;
            let mut at = 0;
            while at < s.steps.len() && self.runs < self.max_runs {
                let c = shrinker::without(&s, at, chunk);
                if self.reproduces(&c).await {
                    s = c;
                    removed = true;
                } else {
                    at += chunk;
                }
            }
            if chunk == 1 && !removed || self.runs >= self.max_runs {
                return s;
            }
            if !removed {
                chunk = (chunk / 2).max(1);
            }
        }
    }

    /// Simplify each step's fields until no single change keeps the failure.
    async fn simpler_fields(&mut self, mut s: Scenario) -> Scenario {
        for i in 0..s.steps.len() {
            'again: while let Some(step) = s.steps.get(i) {
                for c in shrinker::step_candidates(step, &shrinker::linked_values(&s.steps)) {
                    if self.runs >= self.max_runs {
                        return s;
                    }
                    let mut trial = s.clone();
                    if let Some(slot) = trial.steps.get_mut(i) {
                        *slot = c;
                    }
                    if self.reproduces(&trial).await {
                        s = trial;
                        continue 'again;
                    }
                }
                break;
            }
        }
        s
    }
}

pub async fn run(args: &ShrinkArgs) -> i32 {
    let loaded = match load_one(&args.scenario, &args.transport.param) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let seed = seed_or_clock(args.seed);
    let plan = match args.transport.plan(seed, &loaded.scenario) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let first = match run_once(&loaded, &plan).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let Some(want) = shrinker::signature(&loaded.scenario, &first) else {
        eprintln!(
            "error: {} does not fail against {} (verdict {}{}): nothing to shrink",
            loaded.scenario.id,
            plan.target.describe(),
            first.verdict.as_str(),
            if first.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", first.reason)
            }
        );
        return exit::USAGE;
    };
    eprintln!(
        "shrinking {} ({} steps): {want}; seed {seed}",
        loaded.scenario.id,
        loaded.scenario.steps.len()
    );
    let mut oracle = None;
    if !args.no_oracle && (args.oracle_builtin || args.transport.transport.misbehave.is_some()) {
        let mut correct = args.transport.clone();
        correct.transport.misbehave = None;
        correct.transport.target = None;
        correct.transport.listen = None;
        correct.transport.exec = None;
        match correct.plan(seed, &loaded.scenario) {
            Ok(p) => match run_once(&loaded, &p).await {
                Ok(r) if r.verdict == crate::verdict::Verdict::Pass => oracle = Some(p),
                Ok(r) => eprintln!(
                    "note: no oracle: the scenario does not pass on the correct simulator either ({})",
                    r.verdict.as_str()
                ),
                Err(e) => eprintln!("note: no oracle: {e}"),
            },
            Err(e) => eprintln!("note: no oracle: {e}"),
        }
    }
    let mut sh = Shrinker {
        template: loaded.clone(),
        plan: &plan,
        oracle,
        want: want.clone(),
        runs: 1,
        max_runs: args.max_runs.max(2),
    };
    // Steps after the failing one never run.
    let mut s = loaded.scenario.clone();
    if let Some(step) = first.step {
        let cut = shrinker::without(&s, step, s.steps.len());
        if cut.steps.len() < s.steps.len() && sh.reproduces(&cut).await {
            s = cut;
        }
    }
    let s = sh.fewer_steps(s).await;
    let s = sh.simpler_fields(s).await;
    // The result must still fail (a last run, not counted against --max-runs).
    sh.max_runs = sh.runs + 1;
    if !sh.reproduces(&s).await {
        eprintln!("error: the shrunk scenario does not reproduce the failure (a flaky implementation?)");
        return exit::FAILURES;
    }
    let mut out = s;
    out.title = format!("(shrunk) {}", out.title);
    let header = vec![
        format!(
            "Shrunk by peercheck shrink from {} with --seed {seed}",
            args.scenario.display()
        ),
        format!(
            "{} -> {} step(s) in {} run(s); still {want}",
            loaded.scenario.steps.len(),
            out.steps.len(),
            sh.runs
        ),
        format!("Reproduce: peercheck replay <this file> --seed {seed} (same transport flags as the shrink)"),
    ];
    let text = match scenario_yaml::render(&out, &header) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILURES;
        }
    };
    match &args.output {
        Some(p) => {
            if let Err(e) = crate::report::write_atomic(p, text.as_bytes()) {
                eprintln!("error: cannot write {}: {e}", p.display());
                return exit::FAILURES;
            }
            eprintln!(
                "wrote {} ({} -> {} steps, {} runs)",
                p.display(),
                loaded.scenario.steps.len(),
                out.steps.len(),
                sh.runs
            );
        }
        None => print!("{text}"),
    }
    exit::OK
}
