//! The command line (clap). Exit codes: see `ExitCode` in main.rs and docs/cli.md.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "peercheck",
    version,
    about = "Conformance suite and mock peers for NOW-PROTO, MS-PSRP and the Inedo Agent protocol"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios against an implementation (default: the built-in simulator).
    Run(RunArgs),
    /// List scenarios (id, level, role, spec section, title).
    List(ListArgs),
    /// Load and check every scenario; reject those that can never pass.
    Check(CheckArgs),
    /// Decode bytes into messages (JSON per message, or an annotated dump).
    Decode(DecodeArgs),
    /// Play a protocol peer (server or client) over TCP or stdio.
    Simulate(SimulateArgs),
    /// Print the JSON Schema of scenario files.
    Schema(SchemaArgs),
    /// Which spec requirements the catalogue covers (requirements/*.yaml).
    Coverage(CoverageArgs),
    /// Prove the catalogue: 100% pass on the correct simulator, and every misbehaviour mode caught.
    Selftest(SelftestArgs),
    /// Encode a structured message (YAML) into its exact bytes.
    Encode(crate::commands::encode::EncodeArgs),
    /// Golden vectors: export them for other implementations, or verify a decoder shim against them.
    #[command(subcommand)]
    Golden(crate::commands::golden::GoldenCommand),
    /// A transparent recording proxy that writes a replayable scenario.
    Record(crate::commands::record::RecordArgs),
    /// Replay a scenario file (like `run` on one file) with an optional per-frame trace.
    Replay(crate::commands::replay::ReplayArgs),
    /// Run the same scenarios against two implementations and show where their answers differ.
    Diff(crate::commands::diff::DiffArgs),
    /// Shrink a failing scenario while the failure still reproduces.
    Shrink(crate::commands::shrink::ShrinkArgs),
    /// Speed and load figures (BENCHMARKS.md).
    #[command(subcommand)]
    Bench(crate::commands::bench::BenchCommand),
    /// Fuzz a live implementation with protocol-aware mutations of catalogue exchanges.
    Fuzz(crate::commands::fuzz::FuzzArgs),
}

#[derive(Debug, Args, Clone)]
pub struct SelectArgs {
    /// Scenario folder or a single scenario file.
    #[arg(default_value = "scenarios")]
    pub scenarios: PathBuf,
    /// Only ids matching this glob (repeatable), e.g. 'psrp*'.
    #[arg(long)]
    pub filter: Vec<String>,
    /// Only scenarios with this tag (repeatable).
    #[arg(long)]
    pub tag: Vec<String>,
    /// Only this level (repeatable): must, should, may.
    #[arg(long, value_parser = ["must", "should", "may"])]
    pub level: Vec<String>,
    /// Only scenarios where the implementation plays this role.
    #[arg(long, value_parser = ["server", "client"])]
    pub role: Option<String>,
    /// Profile per protocol (repeatable), e.g. now-1.3, psrp-2.4, inedo-v2. Default: each protocol's first.
    #[arg(long)]
    pub profile: Vec<String>,
    /// Run only shard k of n (stable across runs), e.g. 2/4.
    #[arg(long)]
    pub partition: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Builtin {
    Tcp,
    Stdio,
}

// Where the implementation under test is, for `run`, `replay`, `shrink` and `fuzz`: one set of
// flags, one `target()`. A command that words a flag differently says so with
// `#[command(mut_arg(...))]` (help text, extra conflicts) on its own args struct. No doc comment
// here: on a flattened struct it would replace the command's about text.
#[derive(Debug, Clone, Args)]
pub struct TransportArgs {
    /// The implementation is a server here: tcp://HOST:PORT.
    #[arg(long, conflicts_with_all = ["listen", "builtin"])]
    pub target: Option<String>,
    /// The implementation is a client: listen here (tcp://127.0.0.1:0) and launch --exec with {addr}.
    #[arg(long, requires = "exec", conflicts_with = "builtin")]
    pub listen: Option<String>,
    /// stdio mode: spawn this per scenario and speak on its stdin/stdout ({protocol}, {role}, {profile}, {id}).
    #[arg(long, conflicts_with = "builtin")]
    pub exec: Option<String>,
    /// Run against the built-in simulator over tcp (default) or stdio.
    #[arg(long, value_enum)]
    pub builtin: Option<Builtin>,
    /// With the built-in simulator: make it exhibit this misbehaviour.
    #[arg(long)]
    pub misbehave: Option<String>,
}

impl TransportArgs {
    /// The transport these flags name: `--target` (the implementation is a server), `--listen`
    /// with `--exec` (a client), `--exec` alone (stdio), else the built-in simulator (tcp unless
    /// `--builtin stdio`), with `--misbehave` if given (which no other transport takes).
    pub fn target(&self) -> Result<crate::transport::Target, String> {
        use crate::transport::Target;
        if self.misbehave.is_some() && (self.target.is_some() || self.listen.is_some() || self.exec.is_some())
        {
            return Err("--misbehave applies to the built-in simulator only".into());
        }
        if let Some(t) = &self.target {
            let addr = t
                .strip_prefix("tcp://")
                .ok_or_else(|| format!("--target `{t}` must look like tcp://HOST:PORT"))?;
            return Ok(Target::Connect(addr.to_owned()));
        }
        if let Some(l) = &self.listen {
            let addr = l
                .strip_prefix("tcp://")
                .ok_or_else(|| format!("--listen `{l}` must look like tcp://HOST:PORT"))?;
            let exec = self
                .exec
                .clone()
                .ok_or("--listen needs --exec 'client command {addr}'")?;
            return Ok(Target::Listen {
                addr: addr.to_owned(),
                exec,
            });
        }
        if let Some(e) = &self.exec {
            return Ok(Target::Exec(e.clone()));
        }
        let misbehave = self.misbehave.clone();
        Ok(match self.builtin.unwrap_or(Builtin::Tcp) {
            Builtin::Tcp => Target::BuiltinTcp { misbehave },
            Builtin::Stdio => Target::BuiltinStdio { misbehave },
        })
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub transport: TransportArgs,
    /// PSRP framing on a byte stream: outofproc (default) or fragments.
    #[arg(long, value_parser = ["outofproc", "fragments"])]
    pub framing: Option<String>,
    /// Session parameter for the suite's side, `key=value` or `protocol:key=value` (repeatable).
    #[arg(long)]
    pub param: Vec<String>,
    /// Parallel scenarios (default: number of cores).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Seed for every random choice (printed at start).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Multiply every timeout.
    #[arg(long, default_value_t = 1.0)]
    pub timeout_scale: f64,
    /// Built-in simulator only: let its clock run up to this many times faster than real time,
    /// every window of a scenario shrinking alike (1 = real time; see ARCHITECTURE.md).
    #[arg(long, default_value_t = crate::pace::DEFAULT_MAX_SPEED, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub sim_speed: u32,
    /// Wait for ever (debugging).
    #[arg(long)]
    pub no_timeout: bool,
    /// Known deviations of this implementation.
    #[arg(long)]
    pub expectations: Option<PathBuf>,
    /// Rewrite the expectations file from this run's results.
    #[arg(long, requires = "expectations")]
    pub update_expectations: bool,
    /// Write a JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Fail the run on non-strict (SHOULD) verdicts too.
    #[arg(long)]
    pub strict: bool,
    /// Print only failures and the summary.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Output as JSON lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario folder or file.
    #[arg(default_value = "scenarios")]
    pub scenarios: PathBuf,
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// now, psrp (raw fragments), psrp-outofproc, inedo.
    #[arg(long)]
    pub protocol: String,
    #[arg(long)]
    pub profile: Option<String>,
    #[arg(long, value_parser = ["to-server", "to-client"], default_value = "to-server")]
    pub direction: String,
    /// Session parameter `key=value` (repeatable), e.g. key=… for Inedo AES.
    #[arg(long)]
    pub param: Vec<String>,
    /// Input as hex text.
    #[arg(long, conflicts_with = "file")]
    pub hex: Option<String>,
    /// Input file (raw bytes; hex text with --input-hex). Default: stdin.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Treat --file / stdin as hex text.
    #[arg(long)]
    pub input_hex: bool,
    /// json (one object per message) or text (annotated dump).
    #[arg(long, value_parser = ["json", "text"], default_value = "json")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    #[arg(long)]
    pub protocol: Option<String>,
    #[arg(long, value_parser = ["server", "client"])]
    pub role: Option<String>,
    /// Listen here (default 127.0.0.1:0) and serve every connection.
    #[arg(long, conflicts_with_all = ["connect", "stdio"])]
    pub listen: Option<String>,
    /// Connect to this address (client role, or a server that dials out).
    #[arg(long, conflicts_with = "stdio")]
    pub connect: Option<String>,
    /// Speak on stdin/stdout (one connection).
    #[arg(long)]
    pub stdio: bool,
    #[arg(long)]
    pub profile: Option<String>,
    /// Peer parameter `key=value` (repeatable).
    #[arg(long)]
    pub param: Vec<String>,
    /// Behaviour script (YAML).
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// Fault script (YAML).
    #[arg(long)]
    pub faults: Option<PathBuf>,
    /// Fault shorthand `[target[#n]:]fault`, e.g. `exec.data#2:drop`, `split=3` (repeatable).
    #[arg(long)]
    pub fault: Vec<String>,
    /// Exhibit a named implementation bug.
    #[arg(long)]
    pub misbehave: Option<String>,
    /// List the misbehaviour modes and exit.
    #[arg(long)]
    pub list_misbehaviours: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Run the peer's clock this many times faster than real time (timers, fault delays).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub clock_speed: u32,
    /// No exchange log on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// NOW server only, loopback listener only: run exec requests as real local commands instead
    /// of scripted outcomes (RUN/PROCESS/SHELL/BATCH; PWSH/WINPS when `pwsh` exists).
    #[arg(long)]
    pub run_real_commands: bool,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Write here instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Parse `key=value` pairs (optionally `protocol:key=value`) for `protocol`.
pub fn params_for(
    pairs: &[String],
    protocol: &str,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut out = std::collections::BTreeMap::new();
    for p in pairs {
        let (scope, kv) = match p.split_once(':') {
            Some((s, kv)) if !s.contains('=') => (Some(s), kv),
            _ => (None, p.as_str()),
        };
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--param `{p}` is not key=value"))?;
        if scope.is_none_or(|s| s == protocol) {
            out.insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    Ok(out)
}

#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// Scenario folder.
    #[arg(default_value = "scenarios")]
    pub scenarios: PathBuf,
    /// Requirement registry folder (default: requirements/ beside the scenarios).
    #[arg(long)]
    pub requirements: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when a MUST is neither covered nor justified.
    #[arg(long)]
    pub fail_uncovered_must: bool,
}

#[derive(Debug, Args)]
pub struct SelftestArgs {
    /// Scenario folder.
    #[arg(default_value = "scenarios")]
    pub scenarios: PathBuf,
    /// Only this protocol (repeatable).
    #[arg(long)]
    pub protocol: Vec<String>,
    /// Only misbehaviour modes matching this glob.
    #[arg(long)]
    pub mode: Option<String>,
    /// Write the catch matrix (Markdown) here.
    #[arg(long)]
    pub matrix: Option<PathBuf>,
    /// Parallel scenarios.
    #[arg(short = 'j', long, default_value_t = 16)]
    pub jobs: usize,
    /// Also run the correct simulator over stdio.
    #[arg(long)]
    pub stdio: bool,
    /// Per misbehaviour mode, stop at the first batch of scenarios that catches it (fast; the matrix
    /// then lists those catchers only).
    #[arg(long)]
    pub first_catch: bool,
    #[arg(long, default_value_t = 1.0)]
    pub timeout_scale: f64,
    /// Let the simulator's clock run up to this many times faster than real time (1 = real time).
    #[arg(long, default_value_t = crate::pace::DEFAULT_MAX_SPEED, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub sim_speed: u32,
}
