//! `peercheck fuzz`: protocol-aware mutation of catalogue exchanges against a live server, with a
//! liveness probe after every case. The campaign itself is in `crate::fuzzing`; docs/fuzzing.md.

use super::exit;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    mut_arg("target", |a| a
        .help("The implementation is a server here: tcp://127.0.0.1:PORT (loopback only)")
        .conflicts_with("exec")),
    mut_arg("listen", |a| a.hide(true)),
    mut_arg("exec", |a| a.help("stdio mode: spawn this per case and speak on its stdin/stdout ({protocol}, {profile})")),
    mut_arg("builtin", |a| a.help("The built-in simulator: `tcp` (default; a `peercheck simulate --listen` child process serving every connection) or `stdio` (a child per case)")),
    mut_arg("misbehave", |a| a.help("With the built-in simulator: make it exhibit this misbehaviour (e.g. bug-crash-on-short-body)"))
)]
pub struct FuzzArgs {
    /// Scenario folder or file to start from (the catalogue).
    #[arg(default_value = "scenarios")]
    pub scenarios: PathBuf,
    /// Only scenarios whose id matches this glob (repeatable), e.g. 'now.exec.*'.
    #[arg(long)]
    pub filter: Vec<String>,
    /// Profile per protocol (repeatable), e.g. now-1.3. Default: each protocol's first.
    #[arg(long)]
    pub profile: Vec<String>,
    #[command(flatten)]
    pub transport: crate::cli::TransportArgs,
    /// Session parameter for both sides, `key=value` or `protocol:key=value` (repeatable).
    #[arg(long)]
    pub param: Vec<String>,
    /// Liveness probe: the catalogue scenario to run on a fresh connection after each case
    /// (default per protocol: now.channel.capset.answer, inedo.handshake.reply-v1-none).
    #[arg(long)]
    pub probe: Option<String>,
    /// Seed for every random choice (printed at start).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop after this many mutated cases.
    #[arg(long, default_value_t = 500)]
    pub max_cases: u64,
    /// Stop after this long (e.g. 60s, 10m... as `30s`, `500ms`).
    #[arg(long, default_value = "120s")]
    pub max_time: String,
    /// Stop after this many findings (0 = never).
    #[arg(long, default_value_t = 0)]
    pub max_findings: usize,
    /// A child whose resident memory grows over this many MiB is a finding (needs a child we started).
    #[arg(long, default_value_t = 192)]
    pub max_rss: u64,
    /// How long the probe (and a stdio child's exit at end of input) may take before it is a hang.
    #[arg(long, default_value = "2s")]
    pub probe_timeout: String,
    /// Write each finding here: a replayable scenario pair plus finding.json.
    #[arg(long, default_value = "fuzz-findings")]
    pub out: PathBuf,
    /// Do not shrink findings (faster; the reproducer is the case as found).
    #[arg(long)]
    pub no_shrink: bool,
    /// Print every case.
    #[arg(short, long)]
    pub verbose: bool,
}

pub async fn run(args: &FuzzArgs) -> i32 {
    match crate::fuzzing::campaign(args).await {
        Ok(0) => exit::OK,
        Ok(_) => exit::FAILURES,
        Err(crate::fuzzing::FuzzError::Usage(e)) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
        Err(crate::fuzzing::FuzzError::Unreachable(e)) => {
            eprintln!("error: {e}");
            exit::UNREACHABLE
        }
    }
}
