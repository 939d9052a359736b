//! Running cases and judging liveness.
//!
//! What counts as a finding (a [`Problem`]):
//! - `crash`: the process we started exited (or was killed by a signal) — for a stdio child, an
//!   exit with a panic/abort status (101, 134, a signal) at or before end of input;
//! - `memory`: its resident memory went over `--max-rss`, or it died of a failed allocation;
//! - `panic`: it printed a panic message on stderr, even if it kept running;
//! - `hang`: the probe got no answer in time (stdio: the child did not exit at end of input);
//! - `disconnect`: the probe's fresh connection was closed instead of answered;
//! - `refused`: the probe could not connect at all (an external server that went away).

use super::mutate::Mutation;
use super::target::{self, Watched};
use super::{FuzzError, SETTLE};
use crate::cli::Builtin;
use crate::commands::fuzz::FuzzArgs;
use crate::engine::{self, Outcome, RunRecord, Timing};
use crate::scenario::model::Step;
use crate::scenario::Scenario;
use crate::transport::Target;
use peercheck_simulator::driver::Link;
use peercheck_wire::session::{ProtocolDef, Role, SessionOptions};
use peercheck_wire::span::FieldSpan;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Longest a mutated case may run.
const CASE_TIMEOUT: Duration = Duration::from_secs(15);

/// A liveness problem.
#[derive(Debug, Clone)]
pub struct Problem {
    pub kind: &'static str,
    pub detail: String,
}

/// One mutated case: the base scenario's steps up to the mutated one, then a short settle.
#[derive(Debug, Clone)]
pub struct Case {
    pub base: Scenario,
    /// Steps kept before the mutated step (indices into `base.steps`).
    pub kept: Vec<usize>,
    pub step: usize,
    pub mutation: Mutation,
    pub number: u64,
}

impl Case {
    pub fn new(base: &Scenario, step: usize, mutation: Mutation, number: u64) -> Self {
        Self {
            base: base.clone(),
            kept: (0..step).collect(),
            step,
            mutation,
            number,
        }
    }

    /// The scenario this case runs.
    pub fn scenario(&self) -> Scenario {
        let mut s = self.base.clone();
        let mut steps: Vec<Step> = self
            .kept
            .iter()
            .filter_map(|i| self.base.steps.get(*i).cloned())
            .collect();
        if let Some(st) = self.base.steps.get(self.step) {
            steps.push(self.mutation.apply(st));
        }
        steps.push(Step {
            sleep: Some(format!("{}ms", SETTLE.as_millis())),
            ..Default::default()
        });
        s.steps = steps;
        s
    }
}

enum Shape {
    /// A `peercheck simulate --listen` child (or any server command we start), restartable.
    ServerChild {
        cmd: String,
    },
    External {
        addr: String,
    },
    Stdio {
        cmd: String,
    },
}

/// The implementation under test for one protocol.
pub struct Under {
    shape: Shape,
    proc: Option<Watched>,
    addr: Option<String>,
    pub params: BTreeMap<String, String>,
    stderr_mark: usize,
}

impl std::fmt::Debug for Under {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Under").field("addr", &self.addr).finish()
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl Under {
    pub fn new(
        args: &FuzzArgs,
        protocol: &str,
        profile: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<Self, FuzzError> {
        let transport = args.transport.target().map_err(FuzzError::Usage)?;
        if let Target::BuiltinTcp { misbehave: Some(m) } | Target::BuiltinStdio { misbehave: Some(m) } =
            &transport
        {
            if !crate::protocols::misbehaviours(protocol)
                .iter()
                .any(|x| x.name == m)
            {
                return Err(FuzzError::Usage(format!(
                    "unknown misbehaviour `{m}` for {protocol}"
                )));
            }
        }
        let shape = match transport {
            Target::Connect(addr) => {
                target::loopback_only(&addr).map_err(FuzzError::Usage)?;
                Shape::External { addr }
            }
            Target::Exec(e) => Shape::Stdio {
                cmd: e
                    .replace("{protocol}", protocol)
                    .replace("{profile}", profile)
                    .replace("{role}", "server"),
            },
            Target::Listen { .. } => {
                return Err(FuzzError::Usage(
                    "peercheck fuzz has no --listen: it fuzzes servers (--target, --exec or --builtin)"
                        .into(),
                ))
            }
            Target::BuiltinTcp { misbehave } | Target::BuiltinStdio { misbehave } => {
                let stdio = matches!(args.transport.builtin, Some(Builtin::Stdio));
                let exe = std::env::current_exe().map_err(|e| FuzzError::Usage(e.to_string()))?;
                let mut cmd = format!(
                    "{} simulate --protocol {protocol} --role server --profile {profile} --quiet",
                    shell_quote(&exe.display().to_string())
                );
                for (k, v) in params {
                    cmd.push_str(&format!(" --param {}", shell_quote(&format!("{k}={v}"))));
                }
                if let Some(m) = &misbehave {
                    cmd.push_str(&format!(" --misbehave {}", shell_quote(m)));
                }
                if stdio {
                    Shape::Stdio {
                        cmd: format!("{cmd} --stdio"),
                    }
                } else {
                    Shape::ServerChild {
                        cmd: format!("{cmd} --listen 127.0.0.1:0"),
                    }
                }
            }
        };
        Ok(Self {
            shape,
            proc: None,
            addr: None,
            params: params.clone(),
            stderr_mark: 0,
        })
    }

    pub fn restartable(&self) -> bool {
        !matches!(self.shape, Shape::External { .. })
    }

    /// Start the server child if it is not running.
    pub async fn ensure_running(&mut self) -> Result<(), FuzzError> {
        match &self.shape {
            Shape::ServerChild { cmd } => {
                let alive = self.proc.as_mut().is_some_and(|p| p.exited().is_none());
                if !alive {
                    if let Some(old) = self.proc.take() {
                        let _ = old.kill().await;
                    }
                    let mut p = Watched::spawn(cmd)?;
                    let addr = p.listening_addr(Duration::from_secs(20)).await?;
                    self.addr = Some(addr);
                    self.stderr_mark = 0;
                    self.proc = Some(p);
                }
                Ok(())
            }
            Shape::External { addr } => {
                self.addr = Some(addr.clone());
                Ok(())
            }
            Shape::Stdio { .. } => Ok(()),
        }
    }

    pub async fn restart(&mut self) -> Result<(), FuzzError> {
        if let Some(p) = self.proc.take() {
            let _ = p.kill().await;
        }
        self.ensure_running().await
    }

    pub async fn shutdown(mut self) {
        if let Some(p) = self.proc.take() {
            let _ = p.kill().await;
        }
    }

    /// A fresh connection: a TCP stream, or a stdio child with its pipes.
    async fn connect(&mut self) -> Result<(Box<dyn Link>, Option<Watched>), Problem> {
        match &self.shape {
            Shape::Stdio { cmd } => {
                let mut p = Watched::spawn(cmd).map_err(|e| Problem {
                    kind: "refused",
                    detail: format!("{e:?}"),
                })?;
                let (out, inp) = p.take_pipes().ok_or(Problem {
                    kind: "refused",
                    detail: "no stdio pipes".into(),
                })?;
                Ok((Box::new(tokio::io::join(out, inp)), Some(p)))
            }
            _ => {
                let addr = self.addr.clone().unwrap_or_default();
                match tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(&addr))
                    .await
                {
                    Ok(Ok(s)) => {
                        let _ = s.set_nodelay(true);
                        Ok((Box::new(s), None))
                    }
                    Ok(Err(e)) => Err(Problem {
                        kind: "refused",
                        detail: format!("cannot connect to {addr}: {e}"),
                    }),
                    Err(_) => Err(Problem {
                        kind: "hang",
                        detail: format!("connecting to {addr} timed out"),
                    }),
                }
            }
        }
    }
}

fn session_options(scenario: &Scenario, profile: &str, params: &BTreeMap<String, String>) -> SessionOptions {
    let mut p = scenario.params.clone();
    for (k, v) in params {
        p.entry(k.clone()).or_insert_with(|| v.clone());
    }
    SessionOptions {
        local_role: Some(Role::Client),
        profile: Some(profile.to_owned()),
        params: p,
    }
}

/// Field spans of bytes the suite sent in `scenario` (best effort: a fresh session annotates).
pub fn spans_of(proto: &dyn ProtocolDef, profile: &str, scenario: &Scenario, bytes: &[u8]) -> Vec<FieldSpan> {
    proto
        .new_session(&session_options(scenario, profile, &BTreeMap::new()))
        .map(|s| s.annotate_sent(bytes))
        .unwrap_or_default()
}

/// Run a scenario on a fresh connection (the process watched for stdio is killed after).
pub async fn run_scenario(
    under: &mut Under,
    proto: &dyn ProtocolDef,
    profile: &str,
    scenario: &Scenario,
    timing: Timing,
    seed: u64,
) -> Result<RunRecord, Problem> {
    let session = proto
        .new_session(&session_options(scenario, profile, &under.params))
        .map_err(|e| Problem {
            kind: "suite",
            detail: e,
        })?;
    let (mut link, child) = under.connect().await?;
    let rec = tokio::time::timeout(
        CASE_TIMEOUT,
        engine::run(scenario, proto, session, &mut link, timing, seed),
    )
    .await;
    drop(link);
    if let Some(c) = child {
        let _ = c.kill().await;
    }
    rec.map_err(|_| Problem {
        kind: "hang",
        detail: format!("`{}` did not finish within {CASE_TIMEOUT:?}", scenario.id),
    })
}

/// The probe: the protocol's basic handshake scenario on a fresh connection.
pub async fn probe(
    under: &mut Under,
    proto: &dyn ProtocolDef,
    profile: &str,
    probe: &Scenario,
    timeout: Duration,
    seed: u64,
) -> Result<(), Problem> {
    let session = proto
        .new_session(&session_options(probe, profile, &under.params))
        .map_err(|e| Problem {
            kind: "suite",
            detail: e,
        })?;
    let (mut link, child) = under.connect().await?;
    let timing = Timing {
        scale: 1.0,
        disabled: false,
        speed: 1,
    };
    let rec = tokio::time::timeout(
        timeout,
        engine::run(probe, proto, session, &mut link, timing, seed),
    )
    .await;
    drop(link);
    if let Some(c) = child {
        let _ = c.kill().await;
    }
    match rec {
        Err(_) => Err(Problem {
            kind: "hang",
            detail: format!("the probe `{}` got no answer within {timeout:?}", probe.id),
        }),
        Ok(r) if r.outcome == Outcome::Passed => Ok(()),
        Ok(r) => {
            let kind = if r.reason.contains("closed") || r.reason.contains("reset") {
                "disconnect"
            } else if r.reason.starts_with("no ") {
                "hang"
            } else {
                "unresponsive"
            };
            Err(Problem {
                kind,
                detail: format!("the probe `{}` failed: {}", probe.id, r.reason),
            })
        }
    }
}

fn exit_problem(status: std::process::ExitStatus, stderr: &str) -> Problem {
    let tail: String = stderr
        .lines()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join(" | ");
    let kind = if stderr.contains("memory allocation of") {
        "memory"
    } else {
        "crash"
    };
    Problem {
        kind,
        detail: format!("the process exited ({status}); stderr: {tail}"),
    }
}

/// A status that means the program died rather than ended: a signal, Rust's panic exit code 101,
/// or 134 (abort through a shell).
fn died(status: std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal().is_some() || matches!(status.code(), Some(101) | Some(134))
}

/// Run one case and judge liveness. `Ok(None)`: alive (or the case was void).
#[allow(clippy::too_many_arguments)]
pub async fn run_case(
    under: &mut Under,
    proto: &dyn ProtocolDef,
    profile: &str,
    case: &Case,
    probe_scenario: &Scenario,
    probe_timeout: Duration,
    max_rss: u64,
    seed: u64,
) -> Result<Option<Problem>, FuzzError> {
    let scenario = case.scenario();
    let seed = super::case_seed(seed, case.number);
    let timing = Timing {
        scale: 1.0,
        disabled: false,
        speed: 1,
    };
    if let Shape::Stdio { .. } = under.shape {
        return Ok(stdio_case(under, proto, profile, &scenario, probe_timeout, max_rss, seed).await);
    }
    under.ensure_running().await?;
    let mark = under.proc.as_ref().map_or(0, Watched::stderr_len);
    let rec = run_scenario(under, proto, profile, &scenario, timing, seed).await;
    match &rec {
        Ok(r) if r.outcome == Outcome::SuiteError => return Ok(None),
        Err(p) if p.kind == "refused" => return Ok(Some(p.clone())),
        _ => {}
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    if let Some(p) = under.proc.as_mut() {
        if let Some(status) = p.exited() {
            // Let the stderr reader catch up with the last lines.
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Ok(Some(exit_problem(status, &p.stderr_since(mark))));
        }
        if let Some(rss) = p.rss_mib() {
            if rss > max_rss {
                return Ok(Some(Problem {
                    kind: "memory",
                    detail: format!("resident memory {rss} MiB is over --max-rss {max_rss} MiB"),
                }));
            }
        }
    }
    let probed = probe(under, proto, profile, probe_scenario, probe_timeout, seed).await;
    if let Some(p) = under.proc.as_mut() {
        if let Some(status) = p.exited() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Ok(Some(exit_problem(status, &p.stderr_since(mark))));
        }
        let err = p.stderr_since(mark);
        if target::shows_panic(&err) {
            let line = err
                .lines()
                .find(|l| l.contains("panicked at"))
                .unwrap_or("")
                .to_owned();
            let next = err
                .lines()
                .skip_while(|l| !l.contains("panicked at"))
                .nth(1)
                .unwrap_or("");
            return Ok(Some(Problem {
                kind: "panic",
                detail: format!("stderr shows a panic: {line} {next}"),
            }));
        }
    }
    Ok(probed.err())
}

/// A stdio case: a child of its own; it must neither die nor outlive its input.
async fn stdio_case(
    under: &mut Under,
    proto: &dyn ProtocolDef,
    profile: &str,
    scenario: &Scenario,
    probe_timeout: Duration,
    max_rss: u64,
    seed: u64,
) -> Option<Problem> {
    let session = proto
        .new_session(&session_options(scenario, profile, &under.params))
        .ok()?;
    let Shape::Stdio { cmd } = &under.shape else {
        return None;
    };
    let mut child = Watched::spawn(cmd).ok()?;
    let (out, inp) = child.take_pipes()?;
    let mut link = tokio::io::join(out, inp);
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        let pid = child.pid;
        tokio::spawn(async move {
            loop {
                if let Some(kib) = pid.and_then(rss_kib) {
                    peak.fetch_max(kib / 1024, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let timing = Timing {
        scale: 1.0,
        disabled: false,
        speed: 1,
    };
    let rec = tokio::time::timeout(
        CASE_TIMEOUT,
        engine::run(scenario, proto, session, &mut link, timing, seed),
    )
    .await;
    // End of input: a healthy program exits by itself.
    drop(link);
    let status = child.wait_exit(probe_timeout).await;
    sampler.abort();
    let err = child.stderr_since(0);
    let problem = match (status, rec) {
        (_, Ok(r)) if r.outcome == Outcome::SuiteError => None,
        (Some(s), _) if died(s) => Some(exit_problem(s, &err)),
        (None, _) => Some(Problem {
            kind: "hang",
            detail: format!("the program did not exit within {probe_timeout:?} of its input ending"),
        }),
        _ if target::shows_panic(&err) => Some(Problem {
            kind: "panic",
            detail: format!(
                "stderr shows a panic: {}",
                err.lines().find(|l| l.contains("panicked at")).unwrap_or("")
            ),
        }),
        _ => None,
    };
    let peak = peak.load(Ordering::Relaxed);
    let problem = problem.or_else(|| {
        (peak > max_rss).then(|| Problem {
            kind: "memory",
            detail: format!("resident memory peaked at {peak} MiB, over --max-rss {max_rss} MiB"),
        })
    });
    let _ = child.kill().await;
    problem
}

fn rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
