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
use crate::tools::shrinker::{self, Signature, Trial};
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
    /// The oracle: does `candidate` still fail the same way (and, with an oracle plan, pass on
    /// the correct simulator)?
    async fn trial(&mut self, candidate: &Scenario) -> Trial<()> {
        if self.runs >= self.max_runs {
            return Trial::OutOfRuns;
        }
        if candidate.steps.is_empty() {
            return Trial::Lost;
        }
        self.runs += 1;
        let mut loaded = self.template.clone();
        loaded.scenario = candidate.clone();
        let same = match run_once(&loaded, self.plan).await {
            Ok(r) => shrinker::signature(candidate, &r).is_some_and(|s| s == self.want),
            Err(_) => false,
        };
        let reproduced = match &self.oracle {
            Some(o) if same => {
                self.runs += 1;
                run_once(&loaded, o)
                    .await
                    .is_ok_and(|r| r.verdict == crate::verdict::Verdict::Pass)
            }
            _ => same,
        };
        if reproduced {
            Trial::Reproduced(())
        } else {
            Trial::Lost
        }
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
    let mut oracle = async |c: &Scenario| sh.trial(c).await;
    if let Some(step) = first.step {
        let cut = shrinker::without(&s, step, s.steps.len());
        if cut.steps.len() < s.steps.len() && oracle(&cut).await == Trial::Reproduced(()) {
            s = cut;
        }
    }
    let s = shrinker::fewer_steps(s, &mut oracle).await;
    let s = shrinker::simpler_fields(s, &mut oracle).await;
    // The result must still fail (a last run, not counted against --max-runs).
    sh.max_runs = sh.runs + 1;
    if sh.trial(&s).await != Trial::Reproduced(()) {
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
