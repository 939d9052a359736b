//! `peercheck diff`: run the same scenarios against two implementations and show, per scenario,
//! where their answers differ — verdict, then message by message and field by field (from the
//! decoded fields of each run's trace).
//!
//! A side is `--exec CMD` (stdio; with `--listen ADDR` the command is a client given `{addr}`),
//! `--target tcp://HOST:PORT`, or the built-in simulator: `builtin`, `builtin:MISBEHAVIOUR`,
//! `builtin-stdio[:MISBEHAVIOUR]` (accepted in `--exec` and `--target`). Sides are A then B:
//! the `--exec` values first, then the `--target` values.

use super::{chosen_profiles, exit, load_selected};
use crate::cli::SelectArgs;
use crate::commands::run::{execute, ExecPlan};
use crate::engine::Timing;
use crate::protocols;
use crate::report::ScenarioResult;
use crate::scenario::PeerRole;
use crate::tools::fielddiff::{diff, FieldDiff};
use crate::tools::record::volatile_fields;
use crate::tools::target::seed_or_clock;
use crate::transport::Target;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// A side in stdio mode (spawned per scenario), or `builtin[:MISBEHAVIOUR]`. Give two sides in all.
    #[arg(long)]
    pub exec: Vec<String>,
    /// A side that is a server: tcp://HOST:PORT (or `builtin[:MISBEHAVIOUR]`).
    #[arg(long)]
    pub target: Vec<String>,
    /// The --exec sides are clients: listen here (tcp://127.0.0.1:0) and launch them with {addr}.
    #[arg(long)]
    pub listen: Option<String>,
    /// Session parameter `key=value` or `protocol:key=value` (repeatable).
    #[arg(long)]
    pub param: Vec<String>,
    /// PSRP framing on a byte stream: outofproc (default) or fragments.
    #[arg(long, value_parser = ["outofproc", "fragments"])]
    pub framing: Option<String>,
    /// Field names (or full dotted paths) not to compare, e.g. per-run GUIDs (repeatable).
    #[arg(long)]
    pub ignore_field: Vec<String>,
    /// Also compare the fields a correct peer may write either way (PSRP `bom`, ERRATA PSRP-4;
    /// `timeGenerated`, `processId`), which are skipped by default.
    #[arg(long)]
    pub all_fields: bool,
    /// Parallel scenarios per side.
    #[arg(short = 'j', long, default_value_t = 4)]
    pub jobs: usize,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, default_value_t = 1.0)]
    pub timeout_scale: f64,
    /// Write the differences as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Fields not compared for `protocol`: `--ignore-field`, plus (unless `--all-fields`) those whose
/// values differ between correct peers from run to run or by choice (the same fields `record`
/// matches as `{ any: true }`): without this, two correct PSRP servers differ on every message's
/// `bom` (ERRATA PSRP-4: psrpcore writes none, PowerShell and the simulator write one).
fn ignored_fields(protocol: &str, args: &DiffArgs) -> Vec<String> {
    let mut v = args.ignore_field.clone();
    if !args.all_fields {
        v.extend(volatile_fields(protocol).iter().map(|f| f.to_string()));
    }
    v
}

/// One side, parsed.
pub fn side(spec: &str, listen: Option<&str>, is_target: bool) -> Result<Target, String> {
    let builtin = |rest: &str, stdio: bool| {
        let misbehave = rest
            .strip_prefix(':')
            .filter(|m| !m.is_empty())
            .map(str::to_owned);
        if stdio {
            Target::BuiltinStdio { misbehave }
        } else {
            Target::BuiltinTcp { misbehave }
        }
    };
    if let Some(rest) = spec.strip_prefix("builtin-stdio") {
        return Ok(builtin(rest, true));
    }
    if let Some(rest) = spec
        .strip_prefix("builtin")
        .filter(|r| r.is_empty() || r.starts_with(':'))
    {
        return Ok(builtin(rest, false));
    }
    if let Some(addr) = spec.strip_prefix("tcp://") {
        return Ok(Target::Connect(addr.to_owned()));
    }
    if is_target {
        return Err(format!(
            "--target `{spec}` must look like tcp://HOST:PORT or builtin[:MISBEHAVIOUR]"
        ));
    }
    Ok(match listen {
        Some(l) => Target::Listen {
            addr: l
                .strip_prefix("tcp://")
                .ok_or_else(|| format!("--listen `{l}` must look like tcp://HOST:PORT"))?
                .to_owned(),
            exec: spec.to_owned(),
        },
        None => Target::Exec(spec.to_owned()),
    })
}

/// How one message differs between the two sides.
#[derive(Debug, Clone, Serialize)]
pub struct MessageDiff {
    /// 1-based index among the messages the implementation sent (keep-alives left out).
    pub index: usize,
    pub a: Option<String>,
    pub b: Option<String>,
    pub fields: Vec<FieldDiff>,
}

/// How one scenario differs.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioDiff {
    pub id: String,
    pub verdict_a: String,
    pub verdict_b: String,
    pub reason_a: String,
    pub reason_b: String,
    pub messages: Vec<MessageDiff>,
}

impl ScenarioDiff {
    pub fn differs(&self) -> bool {
        self.verdict_a != self.verdict_b || !self.messages.is_empty()
    }
}

fn received<'a>(r: &'a ScenarioResult, skip: &[String]) -> Vec<(&'a str, Option<&'a serde_json::Value>)> {
    r.trace
        .iter()
        .filter(|t| t.kind == "received" && !skip.contains(&t.name))
        .map(|t| (t.name.as_str(), t.fields.as_ref()))
        .collect()
}

/// Compare two results of the same scenario.
pub fn compare(a: &ScenarioResult, b: &ScenarioResult, skip: &[String], ignore: &[String]) -> ScenarioDiff {
    let (ra, rb) = (received(a, skip), received(b, skip));
    let mut messages = Vec::new();
    for i in 0..ra.len().max(rb.len()) {
        let (x, y) = (ra.get(i), rb.get(i));
        let name = |m: Option<&(&str, Option<&serde_json::Value>)>| m.map(|(n, _)| n.to_string());
        let mut fields = Vec::new();
        match (x, y) {
            (Some((na, fa)), Some((nb, fb))) if na == nb => diff(*fa, *fb, na, ignore, &mut fields),
            _ => {}
        }
        if name(x) != name(y) || !fields.is_empty() {
            messages.push(MessageDiff {
                index: i + 1,
                a: name(x),
                b: name(y),
                fields,
            });
        }
    }
    let why = |r: &ScenarioResult| match r.step {
        Some(s) if !r.reason.is_empty() => format!("step {s}: {}", r.reason),
        _ => r.reason.clone(),
    };
    ScenarioDiff {
        id: a.id.clone(),
        verdict_a: a.verdict.as_str().to_owned(),
        verdict_b: b.verdict.as_str().to_owned(),
        reason_a: why(a),
        reason_b: why(b),
        messages,
    }
}

pub fn render(d: &ScenarioDiff) -> String {
    if !d.differs() {
        return format!("same    {}  ({})\n", d.id, d.verdict_a);
    }
    let mut out = format!("DIFFERS {}\n", d.id);
    if d.verdict_a != d.verdict_b {
        out.push_str(&format!("    verdict: A={} B={}\n", d.verdict_a, d.verdict_b));
    }
    for (side, r) in [("A", &d.reason_a), ("B", &d.reason_b)] {
        if !r.is_empty() {
            out.push_str(&format!("    {side}: {r}\n"));
        }
    }
    for m in &d.messages {
        let show = |n: &Option<String>| n.clone().unwrap_or_else(|| "(nothing)".into());
        if m.a == m.b {
            out.push_str(&format!("    message #{} {}:\n", m.index, show(&m.a)));
        } else {
            out.push_str(&format!(
                "    message #{}: A={} B={}\n",
                m.index,
                show(&m.a),
                show(&m.b)
            ));
        }
        for f in &m.fields {
            out.push_str(&format!("        {f}\n"));
        }
    }
    out
}

pub async fn run(args: &DiffArgs) -> i32 {
    let mut sides = Vec::new();
    for e in &args.exec {
        match side(e, args.listen.as_deref(), false) {
            Ok(t) => sides.push(t),
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        }
    }
    for t in &args.target {
        match side(t, None, true) {
            Ok(t) => sides.push(t),
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        }
    }
    let [a, b] = sides.as_slice() else {
        eprintln!("error: diff needs exactly two sides (--exec/--target, e.g. --exec builtin --exec builtin:now-ignore-session-id), got {}", sides.len());
        return exit::USAGE;
    };
    let implied = |t: &Target| match t {
        Target::Connect(_) => Some(PeerRole::Server),
        Target::Listen { .. } => Some(PeerRole::Client),
        _ => None,
    };
    let role = implied(a).or(implied(b));
    if (matches!(a, Target::Exec(_)) || matches!(b, Target::Exec(_)))
        && args.select.role.is_none()
        && role.is_none()
    {
        eprintln!(
            "error: a stdio side (--exec) needs --role server|client: the role the spawned programs play"
        );
        return exit::USAGE;
    }
    let scenarios = match load_selected(&args.select, role) {
        Ok(s) if s.is_empty() => {
            eprintln!("error: no scenario selected");
            return exit::USAGE;
        }
        Ok(s) => s,
        Err(code) => return code,
    };
    let profiles = match chosen_profiles(&args.select.profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let seed = seed_or_clock(args.seed);
    let plan = |t: &Target| ExecPlan {
        target: Arc::new(t.clone()),
        profiles: profiles.clone(),
        params: args.param.clone(),
        framing: args.framing.clone(),
        timing: Timing {
            scale: args.timeout_scale,
            disabled: false,
            speed: 1,
        },
        seed,
        jobs: args.jobs.max(1),
    };
    eprintln!(
        "diff: {} scenario(s); A = {}; B = {}; seed {seed}",
        scenarios.len(),
        a.describe(),
        b.describe()
    );
    if !args.all_fields {
        let mut volatile: Vec<&str> = scenarios
            .iter()
            .flat_map(|s| volatile_fields(&s.scenario.protocol).iter().copied())
            .collect();
        volatile.sort_unstable();
        volatile.dedup();
        if !volatile.is_empty() {
            eprintln!(
                "diff: not compared (differ between correct peers; --all-fields compares them): {}",
                volatile.join(", ")
            );
        }
    }
    let (ra, rb) = match (
        execute(scenarios.clone(), &plan(a), |_| {}).await,
        execute(scenarios.clone(), &plan(b), |_| {}).await,
    ) {
        (Ok((ra, _, false)), Ok((rb, _, false))) => (ra, rb),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
        _ => return exit::FAILURES,
    };
    let mut diffs = Vec::new();
    for (s, (x, y)) in scenarios.iter().zip(ra.iter().zip(rb.iter())) {
        let mut skip: Vec<String> = protocols::get(&s.scenario.protocol)
            .map(|p| p.ignorable().iter().map(|n| n.to_string()).collect())
            .unwrap_or_default();
        skip.extend(s.scenario.ignore.iter().cloned());
        let ignore = ignored_fields(&s.scenario.protocol, args);
        let d = compare(x, y, &skip, &ignore);
        print!("{}", render(&d));
        diffs.push(d);
    }
    let differing = diffs.iter().filter(|d| d.differs()).count();
    println!(
        "\n{} scenario(s): {differing} differ, {} the same (seed {seed})",
        diffs.len(),
        diffs.len() - differing
    );
    if let Some(p) = &args.json {
        let v = serde_json::json!({ "a": a.describe(), "b": b.describe(), "seed": seed, "scenarios": diffs });
        if let Err(e) =
            crate::report::write_atomic(p, serde_json::to_string_pretty(&v).unwrap_or_default().as_bytes())
        {
            eprintln!("error: cannot write {}: {e}", p.display());
        }
    }
    if differing == 0 {
        exit::OK
    } else {
        exit::FAILURES
    }
}
