//! `peercheck bench`: the speed and load figures of BENCHMARKS.md, reproducible by one command each.
//!
//! - `catalogue`: wall time of the whole catalogue against the built-in simulator (tcp and stdio).
//! - `now-load`: N concurrent NOW sessions with heartbeats against `peercheck simulate` (a child
//!   process, so each side has its own file-descriptor budget); request→reply latency percentiles
//!   and the simulator's RSS.
//! - `psrp-stream`: the PSRP server simulator streaming PIPELINE_OUTPUT to the PSRP client simulator
//!   over loopback TCP; payload throughput.
//!
//! Figures are printed, never asserted: speed targets are measured, not tested.

use super::exit;
use super::run::{execute, millis, ExecPlan};
use crate::engine::Timing;
use crate::protocols;
use crate::scenario;
use crate::transport::Target;
use peercheck_simulator::driver::{self, DriveConfig};
use peercheck_simulator::peer::PeerConfig;
use peercheck_wire::session::Role;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod now_load;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// The whole catalogue against the built-in simulator, over tcp and stdio.
    Catalogue {
        #[arg(default_value = "scenarios")]
        scenarios: std::path::PathBuf,
        /// Parallel scenarios.
        #[arg(short = 'j', long, default_value_t = 64)]
        jobs: usize,
    },
    /// Concurrent NOW sessions with heartbeats against the NOW agent simulator.
    NowLoad {
        #[arg(long, default_value_t = 10_000)]
        sessions: usize,
        /// Heartbeat interval the sessions negotiate (seconds).
        #[arg(long, default_value_t = 1)]
        heartbeat: u32,
        /// How long to hold the sessions open while measuring (seconds).
        #[arg(long, default_value_t = 10)]
        hold: u64,
        /// exec.run probes per session, at random instants spread over the hold.
        #[arg(long, default_value_t = 2)]
        probes: usize,
        /// simulator, or echo: a trivial echo server with the same heartbeats (the generator's floor).
        #[arg(long, value_enum, default_value = "simulator")]
        against: now_load::Against,
        /// Connections opened at once while setting the sessions up.
        #[arg(long, default_value_t = 256)]
        connect_concurrency: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Run this `peercheck` binary as the simulator (default: this one), to compare two builds.
        #[arg(long)]
        server_exe: Option<std::path::PathBuf>,
        /// Internal: be the echo server of `--against echo`.
        #[arg(long, hide = true)]
        serve_echo: bool,
    },
    /// PSRP PIPELINE_OUTPUT streaming between the simulators over loopback.
    PsrpStream {
        /// Total payload in MiB.
        #[arg(long, default_value_t = 200)]
        mib: usize,
        /// Size of one output object in KiB.
        #[arg(long, default_value_t = 256)]
        object_kib: usize,
        /// fragments (raw fragment stream) or outofproc (PowerShell's XML lines, base64, DataAck flow control).
        #[arg(long, default_value = "fragments", value_parser = ["fragments", "outofproc"])]
        framing: String,
    },
}

pub async fn run(cmd: &BenchCommand) -> i32 {
    let r = match cmd {
        BenchCommand::Catalogue { scenarios, jobs } => catalogue(scenarios, *jobs).await,
        BenchCommand::NowLoad {
            serve_echo: true,
            heartbeat,
            ..
        } => now_load::serve_echo(*heartbeat).await,
        BenchCommand::NowLoad {
            sessions,
            heartbeat,
            hold,
            probes,
            against,
            connect_concurrency,
            seed,
            server_exe,
            serve_echo: false,
        } => {
            now_load::run(&now_load::Options {
                sessions: *sessions,
                heartbeat: *heartbeat,
                hold: *hold,
                probes: *probes,
                against: *against,
                connect_concurrency: *connect_concurrency,
                seed: *seed,
                server_exe: server_exe.clone(),
            })
            .await
        }
        BenchCommand::PsrpStream {
            mib,
            object_kib,
            framing,
        } => psrp_stream(*mib, *object_kib, framing).await,
    };
    match r {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            exit::FAILURES
        }
    }
}

async fn catalogue(dir: &std::path::Path, jobs: usize) -> Result<(), String> {
    let (all, errs) = scenario::load_dir(dir);
    if let Some(e) = errs.first() {
        return Err(e.to_string());
    }
    let profiles = super::chosen_profiles(&[])?;
    for (name, target) in [
        ("tcp", Target::BuiltinTcp { misbehave: None }),
        ("stdio", Target::BuiltinStdio { misbehave: None }),
    ] {
        let plan = ExecPlan {
            target: Arc::new(target),
            profiles: profiles.clone(),
            params: Vec::new(),
            framing: None,
            timing: Timing {
                scale: 1.0,
                disabled: false,
                speed: crate::pace::DEFAULT_MAX_SPEED,
            },
            seed: 1,
            jobs,
        };
        let list: Vec<_> = all
            .iter()
            .filter(|s| {
                let p = profiles.get(&s.scenario.protocol).cloned().unwrap_or_default();
                s.scenario.profiles.is_empty() || s.scenario.profiles.contains(&p)
            })
            .cloned()
            .collect();
        let n = list.len();
        let start = Instant::now();
        let (results, _, _) = execute(list, &plan, |_| {}).await?;
        let wall = start.elapsed();
        let passed = results
            .iter()
            .filter(|r| r.verdict == crate::verdict::Verdict::Pass)
            .count();
        let busy: u64 = results.iter().map(|r| r.duration_ms).sum();
        println!(
            "catalogue/{name}: {n} scenarios ({passed} pass) in {:.2} s wall with -j {jobs}; sum of scenario times {:.2} s",
            wall.as_secs_f64(),
            busy as f64 / 1000.0
        );
    }
    Ok(())
}

/// Percentile of sorted durations.
fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank: the smallest sample with at least p of all samples at or below it.
    let rank = (1..=sorted.len())
        .find(|r| *r as f64 >= p * sorted.len() as f64)
        .unwrap_or(sorted.len());
    sorted.get(rank.saturating_sub(1)).copied().unwrap_or_default()
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn psrp_stream(mib: usize, object_kib: usize, framing: &str) -> Result<(), String> {
    let object = "x".repeat(object_kib.max(1) * 1024);
    let count = (mib * 1024 / object_kib.max(1)).max(1);
    let steps: Vec<serde_yaml::Value> = (0..count)
        .map(|_| serde_yaml::to_value(serde_json::json!({ "output": { "S": object } })).unwrap_or_default())
        .collect();
    let script = serde_yaml::to_value(serde_json::json!({ "steps": steps, "echo-input": false }))
        .map_err(|e| e.to_string())?;
    let mut params = BTreeMap::new();
    params.insert("framing".to_owned(), framing.to_owned());
    let server_cfg = PeerConfig {
        role: Some(Role::Server),
        script: Some(script),
        params: params.clone(),
        ..PeerConfig::default()
    };
    let client_cfg = PeerConfig {
        role: Some(Role::Client),
        params,
        ..PeerConfig::default()
    };
    let server = protocols::new_peer("psrp", &server_cfg)?;
    let client = protocols::new_peer("psrp", &client_cfg)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let cfg = DriveConfig {
        idle_timeout: Some(Duration::from_secs(120)),
        ..DriveConfig::default()
    };
    let scfg = cfg.clone();
    let srv = tokio::spawn(async move {
        if let Ok((s, _)) = listener.accept().await {
            driver::drive(server, s, scfg).await;
        }
    });
    let start = Instant::now();
    let s = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let outcome = driver::drive(client, s, cfg).await;
    let wall = start.elapsed();
    srv.abort();
    let payload = (count * object.len()) as f64 / (1024.0 * 1024.0);
    println!(
        "psrp-stream ({framing}): {count} PIPELINE_OUTPUT objects of {object_kib} KiB ({payload:.0} MiB payload) in {:.2} s = {:.0} MiB/s (client: {:?}); {} ms",
        wall.as_secs_f64(),
        payload / wall.as_secs_f64(),
        outcome.finished,
        millis(wall)
    );
    match outcome.finished {
        Some((true, _)) => Ok(()),
        other => Err(format!(
            "the client did not finish cleanly: {other:?} ({})",
            outcome.end
        )),
    }
}
