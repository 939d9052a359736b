//! `peercheck bench now-load`: N concurrent NOW sessions holding heartbeats against the NOW agent
//! simulator (`peercheck simulate`, a child process), with request→reply probes spread over the hold.
//!
//! How it measures, so that the figure is the server's reply latency and not the generator's:
//! - every session is a tokio task (never an OS thread per session) on the bench's runtime;
//! - the sessions connect and negotiate first (capset round trip, reported apart as *setup*), and the
//!   hold starts for all of them at one instant, so no probe lands in the connect storm;
//! - each session sends `--probes` exec.run requests at seeded random instants spread uniformly over
//!   the hold (not all at once), timed from just before the write to the read that completes the
//!   exec.started frame; frames are parsed by their header, so a heartbeat arriving in the same read
//!   neither ends nor hides a reply;
//! - the generator's own scheduling delay is reported (how late each probe's timer woke): a reply
//!   timestamp can be late by as much;
//! - `--against echo` runs the same traffic against a trivial child that echoes each read and sends
//!   the same heartbeats, with no codec and no peer: the floor of this generator on this machine.
//!
//! Heartbeats are checked too: the largest gap between two heartbeats on any session is printed, so a
//! faster figure cannot come from a server that stopped heartbeating.

use super::{pct, rss_kib};
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

/// NOW header: msgSize (u32, body only), msgClass, msgType, msgFlags (u16).
const HEADER: usize = 8;
const HEARTBEAT: (u8, u8) = (0x10, 0x02);
const CAPSET: (u8, u8) = (0x10, 0x01);
const STARTED: (u8, u8) = (0x13, 0x06);
const RUN: (u8, u8) = (0x13, 0x10);

/// What the sessions talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Against {
    /// `peercheck simulate --protocol now --role server` (the figure of BENCHMARKS.md).
    Simulator,
    /// A trivial echo server with the same heartbeats: the generator's floor.
    Echo,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub sessions: usize,
    pub heartbeat: u32,
    pub hold: u64,
    pub probes: usize,
    pub against: Against,
    pub connect_concurrency: usize,
    pub seed: u64,
    /// The `peercheck` binary to run as the server (default: this one), to compare builds.
    pub server_exe: Option<std::path::PathBuf>,
}

/// What one session measured.
#[derive(Debug, Default)]
struct SessionReport {
    setup: Duration,
    replies: Vec<Duration>,
    lateness: Vec<Duration>,
    heartbeats: u64,
    max_gap: Duration,
}

#[derive(Debug)]
enum Ready {
    Up,
    Failed(String),
}

pub async fn run(o: &Options) -> Result<(), String> {
    let exe = match &o.server_exe {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(|e| e.to_string())?,
    };
    let mut cmd = tokio::process::Command::new(exe);
    match o.against {
        Against::Simulator => cmd.args([
            "simulate",
            "--protocol",
            "now",
            "--role",
            "server",
            "--listen",
            "127.0.0.1:0",
            "--quiet",
        ]),
        Against::Echo => cmd
            .args(["bench", "now-load", "--serve-echo", "--heartbeat"])
            .arg(o.heartbeat.to_string()),
    };
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = child.id().unwrap_or(0);
    let mut out = child.stdout.take().ok_or("no stdout")?;
    let mut banner = Vec::new();
    let mut b = [0u8; 1];
    while out.read(&mut b).await.map_err(|e| e.to_string())? == 1 && b != [b'\n'] {
        banner.extend_from_slice(&b);
    }
    let addr = String::from_utf8_lossy(&banner)
        .trim()
        .trim_start_matches("listening on ")
        .to_owned();
    let (capset, run) = messages(o.heartbeat)?;

    let start = Instant::now();
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let (go_tx, go_rx) = watch::channel(None::<Instant>);
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(o.connect_concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let hold = Duration::from_secs(o.hold);
    for i in 0..o.sessions {
        let s = Session {
            addr: addr.clone(),
            capset: capset.clone(),
            run: run.clone(),
            expect: if o.against == Against::Echo { RUN } else { STARTED },
            probes: o.probes,
            hold,
            seed: o.seed.wrapping_add(i as u64),
        };
        let (sem, ready, go) = (sem.clone(), ready_tx.clone(), go_rx.clone());
        set.spawn(async move { s.run(sem, ready, go).await });
    }
    drop(ready_tx);

    // Wait until every session is up (or failed), sampling the child's RSS meanwhile.
    let mut peak_rss = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let (mut up, mut failed_setup) = (0usize, Vec::new());
    let setup_deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    while up + failed_setup.len() < o.sessions {
        tokio::select! {
            r = ready_rx.recv() => match r {
                Some(Ready::Up) => up += 1,
                Some(Ready::Failed(e)) => failed_setup.push(e),
                None => break,
            },
            _ = tick.tick() => peak_rss = peak_rss.max(rss_kib(pid).unwrap_or(0)),
            _ = tokio::time::sleep_until(setup_deadline) => return Err(format!("only {up} of {} sessions came up in 300 s", o.sessions)),
        }
    }
    let setup_wall = start.elapsed();
    let rss_after_setup = rss_kib(pid).unwrap_or(0);
    let cpu0 = (cpu_ticks(&pid.to_string()), cpu_ticks("self"));
    let hold_start = Instant::now();
    let _ = go_tx.send(Some(hold_start));

    let mut reports = Vec::with_capacity(o.sessions);
    let mut failed = failed_setup.len();
    let mut first_error = failed_setup.first().cloned();
    loop {
        tokio::select! {
            r = set.join_next() => match r {
                None => break,
                Some(Ok(Ok(rep))) => reports.push(rep),
                Some(Ok(Err(e))) => { failed += 1; first_error.get_or_insert(e); }
                Some(Err(e)) => { failed += 1; first_error.get_or_insert(e.to_string()); }
            },
            _ = tick.tick() => peak_rss = peak_rss.max(rss_kib(pid).unwrap_or(0)),
        }
    }
    let held = hold_start.elapsed().as_secs_f64().max(1e-3);
    let cpu1 = (cpu_ticks(&pid.to_string()), cpu_ticks("self"));
    // CPU share (of one core) during the hold, from /proc/PID/stat (100 ticks a second).
    let share = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.0} %", b.saturating_sub(a) as f64 / held),
        _ => "?".to_owned(),
    };
    let (server_cpu, generator_cpu) = (share(cpu0.0, cpu1.0), share(cpu0.1, cpu1.1));
    // Sessions that failed during setup were counted there and also end in the join set.
    let failed = failed.min(o.sessions);
    let hwm = hwm_kib(pid).unwrap_or(0).max(peak_rss);
    let _ = child.kill().await;

    let mut setup: Vec<Duration> = reports.iter().map(|r| r.setup).collect();
    let mut replies: Vec<Duration> = reports.iter().flat_map(|r| r.replies.iter().copied()).collect();
    let mut late: Vec<Duration> = reports.iter().flat_map(|r| r.lateness.iter().copied()).collect();
    let mut gaps: Vec<Duration> = reports.iter().map(|r| r.max_gap).collect();
    setup.sort();
    replies.sort();
    late.sort();
    gaps.sort();
    let heartbeats: u64 = reports.iter().map(|r| r.heartbeats).sum();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let against = match o.against {
        Against::Simulator => "simulator",
        Against::Echo => "echo floor",
    };
    println!(
        "now-load ({against}): {} sessions ({failed} failed) up in {:.1} s (capset round trip p50 {:.2} ms, p99 {:.2} ms), held {} s with {} s heartbeats; {heartbeats} heartbeats, largest gap between two on one session {:.0} ms (p99 of sessions {:.0} ms)",
        o.sessions,
        setup_wall.as_secs_f64(),
        ms(pct(&setup, 0.5)),
        ms(pct(&setup, 0.99)),
        o.hold,
        o.heartbeat,
        ms(gaps.last().copied().unwrap_or_default()),
        ms(pct(&gaps, 0.99)),
    );
    println!(
        "now-load ({against}): request->reply over {} probes ({} planned) spread over the hold: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; generator timer lateness p50 {:.2} ms, p99 {:.2} ms",
        replies.len(),
        o.sessions * o.probes,
        ms(pct(&replies, 0.5)),
        ms(pct(&replies, 0.99)),
        ms(replies.last().copied().unwrap_or_default()),
        ms(pct(&late, 0.5)),
        ms(pct(&late, 0.99)),
    );
    println!(
        "now-load ({against}): server RSS after setup {:.1} MiB, peak {:.1} MiB; CPU during the hold (of one core): server {server_cpu}, generator {generator_cpu}",
        rss_after_setup as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    if failed > 0 {
        return Err(format!(
            "{failed} session(s) failed (first: {})",
            first_error.unwrap_or_default()
        ));
    }
    Ok(())
}

/// The capset (with the heartbeat hint) and the probe request, encoded by the NOW codec.
fn messages(heartbeat: u32) -> Result<(Vec<u8>, Vec<u8>), String> {
    let now = crate::protocols::get("now")?;
    let opts = peercheck_wire::session::SessionOptions {
        local_role: Some(peercheck_wire::session::Role::Client),
        profile: None,
        params: std::collections::BTreeMap::new(),
    };
    let mut enc = now.new_session(&opts)?;
    let capset = enc
        .encode(&serde_json::json!({ "channel.capset": { "msgFlags": 1, "versionMajor": 1, "versionMinor": 6, "execCapset": 0x1001, "heartbeatInterval": heartbeat } }))
        .map_err(|e| e.to_string())?;
    let run = enc
        .encode(&serde_json::json!({ "exec.run": { "sessionId": 1, "command": "calc" } }))
        .map_err(|e| e.to_string())?;
    Ok((capset, run))
}

#[derive(Debug)]
struct Session {
    addr: String,
    capset: Vec<u8>,
    run: Vec<u8>,
    expect: (u8, u8),
    probes: usize,
    hold: Duration,
    seed: u64,
}

/// Whole frames read so far on one connection.
#[derive(Debug)]
struct Frames {
    buf: Vec<u8>,
}

impl Frames {
    /// Read once and hand back the (class, type) of every complete frame.
    async fn read(&mut self, s: &mut TcpStream, found: &mut Vec<(u8, u8)>) -> Result<(), String> {
        let mut chunk = [0u8; 512];
        let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        self.buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
        let mut at = 0;
        while let Some(&[a, b, c, d, class, kind, _, _]) = self.buf.get(at..at + HEADER) {
            let size = usize::try_from(u32::from_le_bytes([a, b, c, d])).unwrap_or(usize::MAX);
            if self.buf.len().saturating_sub(at + HEADER) < size {
                break;
            }
            found.push((class, kind));
            at += HEADER + size;
        }
        self.buf.drain(..at);
        Ok(())
    }
}

impl Session {
    async fn run(
        self,
        sem: std::sync::Arc<tokio::sync::Semaphore>,
        ready: mpsc::UnboundedSender<Ready>,
        mut go: watch::Receiver<Option<Instant>>,
    ) -> Result<SessionReport, String> {
        match self.setup(&sem).await {
            Ok((s, frames, setup)) => {
                let _ = ready.send(Ready::Up);
                drop(ready);
                let start = loop {
                    if let Some(t) = *go.borrow_and_update() {
                        break t;
                    }
                    go.changed().await.map_err(|e| e.to_string())?;
                };
                self.hold(s, frames, setup, start).await
            }
            Err(e) => {
                let _ = ready.send(Ready::Failed(e.clone()));
                Err(e)
            }
        }
    }

    async fn setup(&self, sem: &tokio::sync::Semaphore) -> Result<(TcpStream, Frames, Duration), String> {
        let _permit = sem.acquire().await.map_err(|e| e.to_string())?;
        let mut s = TcpStream::connect(&self.addr).await.map_err(|e| e.to_string())?;
        let _ = s.set_nodelay(true);
        let mut frames = Frames { buf: Vec::new() };
        let mut found = Vec::new();
        let t = Instant::now();
        s.write_all(&self.capset).await.map_err(|e| e.to_string())?;
        while !found.contains(&CAPSET) {
            frames.read(&mut s, &mut found).await?;
        }
        Ok((s, frames, t.elapsed()))
    }

    async fn hold(
        &self,
        mut s: TcpStream,
        mut frames: Frames,
        setup: Duration,
        start: Instant,
    ) -> Result<SessionReport, String> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed);
        let span = u64::try_from(self.hold.as_micros()).unwrap_or(u64::MAX).max(1);
        let mut at: Vec<Instant> = (0..self.probes)
            .map(|_| start + Duration::from_micros(rng.gen_range(0..span)))
            .collect();
        at.sort();
        let mut at = at.into_iter().peekable();
        let end = tokio::time::Instant::from_std(start + self.hold);
        let mut rep = SessionReport {
            setup,
            ..SessionReport::default()
        };
        let mut last_beat = Instant::now();
        let mut pending: Option<Instant> = None;
        let mut found = Vec::new();
        let far = tokio::time::Instant::from_std(start + self.hold * 2);
        let probe_timer = tokio::time::sleep_until(far);
        tokio::pin!(probe_timer);
        let mut armed = None;
        loop {
            if pending.is_none() && armed.is_none() {
                if let Some(t) = at.next() {
                    probe_timer.as_mut().reset(tokio::time::Instant::from_std(t));
                    armed = Some(t);
                }
            }
            tokio::select! {
                // Replies are timed first; a probe due at the very end still goes out.
                biased;
                r = frames.read(&mut s, &mut found) => {
                    r?;
                    let now = Instant::now();
                    for f in found.drain(..) {
                        if f == HEARTBEAT {
                            rep.heartbeats += 1;
                            rep.max_gap = rep.max_gap.max(now - last_beat);
                            last_beat = now;
                        } else if f == self.expect {
                            if let Some(t) = pending.take() {
                                rep.replies.push(now - t);
                            }
                        }
                    }
                }
                _ = &mut probe_timer, if armed.is_some() => {
                    let woke = Instant::now();
                    if let Some(t) = armed.take() {
                        rep.lateness.push(woke.saturating_duration_since(t));
                    }
                    let t = Instant::now();
                    s.write_all(&self.run).await.map_err(|e| e.to_string())?;
                    pending = Some(t);
                }
                _ = tokio::time::sleep_until(end) => break,
            }
        }
        // A probe still in flight when the hold ends is waited for (bounded), not dropped.
        if let Some(t) = pending {
            let waited = tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    frames.read(&mut s, &mut found).await?;
                    if found.drain(..).any(|f| f == self.expect) {
                        return Ok::<_, String>(Instant::now() - t);
                    }
                }
            })
            .await;
            match waited {
                Ok(Ok(d)) => rep.replies.push(d),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err("no reply to a probe within 10 s".into()),
            }
        }
        // The gap up to the end of the hold counts too (a server that stops heartbeating shows).
        rep.max_gap = rep.max_gap.max(Instant::now() - last_beat);
        Ok(rep)
    }
}

/// The floor: echo every read back, and send a heartbeat every `heartbeat` s after the first read.
pub async fn serve_echo(heartbeat: u32) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "listening on {}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let every = Duration::from_secs(u64::from(heartbeat.max(1)));
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            continue;
        };
        let _ = s.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let beat = tokio::time::sleep(Duration::from_secs(86_400));
            tokio::pin!(beat);
            let mut negotiated = false;
            loop {
                tokio::select! {
                    r = s.read(&mut buf) => match r {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(buf.get(..n).unwrap_or(&[])).await.is_err() { return; }
                            if !negotiated {
                                negotiated = true;
                                beat.as_mut().reset(tokio::time::Instant::now() + every);
                            }
                        }
                    },
                    _ = &mut beat, if negotiated => {
                        if s.write_all(&[0, 0, 0, 0, HEARTBEAT.0, HEARTBEAT.1, 0, 0]).await.is_err() { return; }
                        let next = beat.deadline() + every;
                        beat.as_mut().reset(next);
                    }
                }
            }
        });
    }
}

fn hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// utime + stime of a process (`self` or a pid), in clock ticks.
fn cpu_ticks(pid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = s.get(s.rfind(')')? + 1..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): utime and stime are fields 14 and 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}
