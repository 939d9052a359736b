//! `peercheck replay case.yaml`: run one scenario file (like `run` on that file, through the same
//! `run::execute`) against any transport, with `--trace` printing every frame as an annotated
//! hexdump with its time.

use super::exit;
use crate::report::{self, terminal, ScenarioResult};
use crate::tools::target::{load_one, run_once, seed_or_clock, TargetArgs};
use crate::verdict::Verdict;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The scenario file (e.g. one written by `peercheck record`).
    pub scenario: PathBuf,
    #[command(flatten)]
    pub transport: TargetArgs,
    /// Print every frame (both directions) as an annotated hexdump with timestamps.
    #[arg(long)]
    pub trace: bool,
    /// Seed for random choices (printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the JSON result (the same record as in `run --json`) here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub async fn run(args: &ReplayArgs) -> i32 {
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
    eprintln!(
        "replaying {} ({}) against {}; seed {seed}",
        loaded.scenario.id,
        args.scenario.display(),
        plan.target.describe()
    );
    let r = match run_once(&loaded, &plan).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let style = terminal::Style::detect();
    if args.trace {
        print!("{}", trace_text(&r));
    }
    println!("{}", terminal::line(&r, style));
    if !matches!(r.verdict, Verdict::Pass | Verdict::Unsupported) {
        let mut d = terminal::details(&r);
        if args.trace {
            // The trace is already on screen: keep the details short.
            if let Some(cut) = d.find("  exchange:\n") {
                d.truncate(cut);
            }
        }
        print!("{d}");
    }
    println!("seed: {seed} (rerun with --seed {seed})");
    if let Some(p) = &args.json {
        let text = serde_json::to_string_pretty(&r).unwrap_or_default();
        if let Err(e) = report::write_atomic(p, text.as_bytes()) {
            eprintln!("error: cannot write {}: {e}", p.display());
            return exit::FAILURES;
        }
    }
    if r.verdict == Verdict::Error && r.reason.starts_with("could not reach") {
        return exit::UNREACHABLE;
    }
    if r.verdict.fails_run(false) {
        exit::FAILURES
    } else {
        exit::OK
    }
}

/// Every frame: time, direction, name, then its annotated hexdump.
pub fn trace_text(r: &ScenarioResult) -> String {
    let mut out = format!("trace of {} ({} frame(s)):\n", r.id, r.trace.len());
    for t in &r.trace {
        let arrow = match t.kind {
            "sent" => "suite -> impl",
            "received" => "impl -> suite",
            _ => "note",
        };
        let len = t.hex.len() / 2;
        out.push_str(&format!(
            "[{:>7.3} s] {arrow}  {}  ({len} bytes)\n",
            t.at_ms as f64 / 1000.0,
            t.name
        ));
        let dump = if t.dump.is_empty() {
            peercheck_wire::hexdump::hexdump(&hex::decode(&t.hex).unwrap_or_default(), 0)
        } else {
            t.dump.clone()
        };
        for line in dump.lines() {
            out.push_str("    ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
