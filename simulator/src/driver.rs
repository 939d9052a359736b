//! The tokio driver: runs a sans-IO [`Peer`] over a real link (TCP socket, stdio, child pipes),
//! applying scripted faults to what the peer writes.
//!
//! This is the only place in the simulator that does I/O or reads the clock.

mod process;

use crate::faults::{self, FaultRule, WireOp};
use crate::peer::{Output, Peer};
use peercheck_wire::span::FieldSpan;
use rand::SeedableRng;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// A bidirectional byte link the driver and the runner can read, write, close and reset.
pub trait Link: AsyncRead + AsyncWrite + Unpin + Send {
    /// Arrange for the link to be reset (TCP RST) rather than closed cleanly when dropped.
    fn arm_reset(&mut self) {}
}

impl Link for tokio::net::TcpStream {
    fn arm_reset(&mut self) {
        // SO_LINGER 0 makes the close send RST: the peer sees "connection reset".
        let _ = self.set_zero_linger();
    }
}

impl<R: AsyncRead + Unpin + Send, W: AsyncWrite + Unpin + Send> Link for tokio::io::Join<R, W> {}

/// Field spans of a message this side wrote (from the codec), for field-aware faults.
pub type Annotator = Arc<dyn Fn(&[u8]) -> Vec<FieldSpan> + Send + Sync>;
/// Where exchange log lines go.
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// How to drive one connection.
#[derive(Clone)]
pub struct DriveConfig {
    pub faults: Vec<FaultRule>,
    pub seed: u64,
    /// The protocol's length-field span name (for `wrong-length`).
    pub length_field: &'static str,
    pub annotate: Option<Annotator>,
    pub log: Option<LogSink>,
    /// Give up on a silent link after this long (None = wait for ever).
    pub idle_timeout: Option<Duration>,
    /// How many times faster than real time the peer's clock runs (1 = real time). The peer's
    /// timers (heartbeats, handshake and message-box timeouts) and fault delays all shrink by
    /// this factor, so a catalogue run whose windows are scaled by `1 / clock_speed` keeps every
    /// timing relation while waiting that much less (`peercheck run --sim-speed`).
    pub clock_speed: u32,
    /// Honour the peer's requests to run real local processes ([`Output::Process`]); off, every
    /// such request fails. Only `peercheck simulate --run-real-commands` on loopback sets it.
    pub run_real_commands: bool,
}

impl std::fmt::Debug for DriveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriveConfig")
            .field("faults", &self.faults)
            .field("seed", &self.seed)
            .field("clock_speed", &self.clock_speed)
            .field("run_real_commands", &self.run_real_commands)
            .finish()
    }
}

impl Default for DriveConfig {
    fn default() -> Self {
        Self {
            faults: Vec::new(),
            seed: 0,
            length_field: "length",
            annotate: None,
            log: None,
            idle_timeout: Some(Duration::from_secs(60)),
            clock_speed: 1,
            run_real_commands: false,
        }
    }
}

/// How a driven connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveOutcome {
    /// For client peers: whether the script's checks passed, and a summary.
    pub finished: Option<(bool, String)>,
    /// Why the loop stopped.
    pub end: String,
}

/// Carries out [`WireOp`]s on a link; keeps a held message (reorder) until the next write.
#[derive(Debug, Default)]
pub struct OpExecutor {
    held: Option<Vec<u8>>,
    pub stalled: bool,
    /// Fault delays are divided by this (the peer's clock speed; 0 and 1 = real time).
    pub clock_speed: u32,
}

/// What happened to the link while executing ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Open,
    Closed,
    Reset,
}

impl OpExecutor {
    /// An executor whose scripted delays run on a clock `speed` times faster than real time.
    pub fn with_clock_speed(speed: u32) -> Self {
        Self {
            clock_speed: speed,
            ..Self::default()
        }
    }

    pub async fn run<L: Link + ?Sized>(
        &mut self,
        link: &mut L,
        ops: Vec<WireOp>,
    ) -> std::io::Result<LinkState> {
        for op in ops {
            if self.stalled {
                return Ok(LinkState::Open);
            }
            match op {
                WireOp::Write(bytes) => {
                    link.write_all(&bytes).await?;
                    link.flush().await?;
                    if let Some(held) = self.held.take() {
                        link.write_all(&held).await?;
                        link.flush().await?;
                    }
                }
                WireOp::Sleep(d) => tokio::time::sleep(d / self.clock_speed.max(1)).await,
                WireOp::Gap(d) => tokio::time::sleep(d).await,
                WireOp::HoldForNext(bytes) => {
                    if let Some(prev) = self.held.replace(bytes) {
                        link.write_all(&prev).await?;
                    }
                }
                WireOp::Stall => self.stalled = true,
                WireOp::Close => {
                    let _ = link.shutdown().await;
                    return Ok(LinkState::Closed);
                }
                WireOp::Reset => {
                    link.arm_reset();
                    return Ok(LinkState::Reset);
                }
            }
        }
        Ok(LinkState::Open)
    }

    /// Write out a message still held for reordering (at the end of a script).
    pub async fn flush_held<L: Link + ?Sized>(&mut self, link: &mut L) -> std::io::Result<()> {
        if let Some(held) = self.held.take() {
            link.write_all(&held).await?;
            link.flush().await?;
        }
        Ok(())
    }
}

/// The read buffer starts small (a NOW heartbeat or request is a few bytes; 10 000 idle sessions
/// must not hold 64 KiB each) and doubles up to this when a read fills it (bulk streams).
const READ_BUF_MIN: usize = 2 * 1024;
const READ_BUF_MAX: usize = 64 * 1024;
/// Fault-free sends are coalesced into one write up to this many bytes: a peer that answers one
/// input with a 200 MB stream starts writing after the first MiB instead of after the last.
const COALESCE_MAX: usize = 1024 * 1024;

/// Drive `peer` over `link` until either side closes, the peer closes, or the idle timeout.
pub async fn drive<L: Link>(mut peer: Box<dyn Peer>, mut link: L, cfg: DriveConfig) -> DriveOutcome {
    let clock = PeerClock::start(cfg.clock_speed);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut exec = OpExecutor::with_clock_speed(cfg.clock_speed);
    let mut procs = process::Processes::new(cfg.run_real_commands);
    let mut finished = None;
    let mut buf = vec![0u8; READ_BUF_MIN];
    // Without faults every Send is written as is: consecutive ones go out in one write.
    let plain = cfg.faults.is_empty();
    let mut pending: Vec<u8> = Vec::new();
    let logging = cfg.log.is_some();
    let log = |line: &str| {
        if let Some(sink) = &cfg.log {
            sink(line);
        }
    };
    // One timer each for the peer's deadline and the idle timeout, re-armed rather than re-created.
    let far = || Instant::now() + Duration::from_secs(86_400 * 365);
    let deadline_timer = tokio::time::sleep_until(far());
    let idle_timer = tokio::time::sleep_until(far());
    tokio::pin!(deadline_timer, idle_timer);

    let mut outputs = peer.start(Duration::ZERO);
    loop {
        for out in std::mem::take(&mut outputs) {
            match out {
                Output::Send { label, bytes } if plain => {
                    if logging {
                        log(&format!("-> {label} ({} bytes)", bytes.len()));
                    }
                    pending.extend_from_slice(&bytes);
                    if pending.len() >= COALESCE_MAX {
                        if let Err(e) = write_pending(&mut link, &mut pending).await {
                            return DriveOutcome {
                                finished,
                                end: format!("write failed: {e}"),
                            };
                        }
                    }
                }
                Output::Send { label, bytes } => {
                    let n = counts.entry(label.clone()).or_insert(0);
                    *n += 1;
                    let kinds: Vec<_> = cfg
                        .faults
                        .iter()
                        .filter(|r| r.applies(&label, *n))
                        .map(|r| r.fault.clone())
                        .collect();
                    if logging {
                        log(&format!(
                            "-> {label} ({} bytes){}",
                            bytes.len(),
                            fault_note(&kinds)
                        ));
                    }
                    let spans = match (&cfg.annotate, kinds.is_empty()) {
                        (Some(a), false) => a(&bytes),
                        _ => Vec::new(),
                    };
                    let ops = match faults::plan(&kinds, bytes, &spans, cfg.length_field, &mut rng) {
                        Ok(ops) => ops,
                        Err(e) => {
                            log(&format!("fault script error: {e}"));
                            return DriveOutcome {
                                finished,
                                end: format!("fault script error: {e}"),
                            };
                        }
                    };
                    match exec.run(&mut link, ops).await {
                        Ok(LinkState::Open) => {}
                        Ok(LinkState::Closed) => {
                            return DriveOutcome {
                                finished,
                                end: "closed by fault".into(),
                            }
                        }
                        Ok(LinkState::Reset) => {
                            return DriveOutcome {
                                finished,
                                end: "reset by fault".into(),
                            }
                        }
                        Err(e) => {
                            return DriveOutcome {
                                finished,
                                end: format!("write failed: {e}"),
                            }
                        }
                    }
                }
                Output::Close { reason } => {
                    log(&format!("closing: {reason}"));
                    let _ = write_pending(&mut link, &mut pending).await;
                    let _ = exec.flush_held(&mut link).await;
                    let _ = link.shutdown().await;
                    return DriveOutcome {
                        finished,
                        end: format!("peer closed: {reason}"),
                    };
                }
                Output::Log(line) => log(&line),
                Output::Finished { ok, summary } => {
                    log(&format!(
                        "finished ({}): {summary}",
                        if ok { "ok" } else { "FAILED" }
                    ));
                    finished = Some((ok, summary));
                }
                Output::Process(req) => {
                    if logging {
                        log(&format!("process: {req:?}"));
                    }
                    procs.handle(req);
                }
            }
        }
        if let Err(e) = write_pending(&mut link, &mut pending).await {
            return DriveOutcome {
                finished,
                end: format!("write failed: {e}"),
            };
        }
        if finished.is_some() {
            let _ = exec.flush_held(&mut link).await;
            let _ = link.shutdown().await;
            return DriveOutcome {
                finished,
                end: "script finished".into(),
            };
        }
        let deadline = peer.next_deadline().map(|d| clock.instant_at(d));
        if let Some(at) = deadline {
            if deadline_timer.deadline() != at {
                deadline_timer.as_mut().reset(at);
            }
        }
        if let Some(d) = cfg.idle_timeout {
            idle_timer.as_mut().reset(Instant::now() + d);
        }
        tokio::select! {
            r = link.read(&mut buf) => match r {
                Ok(0) => {
                    outputs = peer.peer_closed(clock.now());
                    if outputs.is_empty() {
                        return DriveOutcome { finished, end: "other side closed".into() };
                    }
                    // Flush what the peer says on close, then stop.
                    outputs.push(Output::Close { reason: "other side closed".into() });
                }
                Ok(n) => {
                    outputs = peer.input(clock.now(), buf.get(..n).unwrap_or(&[]));
                    if n == buf.len() && buf.len() < READ_BUF_MAX {
                        buf.resize(buf.len() * 2, 0);
                    }
                }
                Err(e) => return DriveOutcome { finished, end: format!("read failed: {e}") },
            },
            _ = &mut deadline_timer, if deadline.is_some() => outputs = peer.timer(clock.now()),
            Some(ev) = procs.rx.recv() => {
                procs.observe(&ev);
                outputs = peer.process_event(clock.now(), ev);
            }
            _ = &mut idle_timer, if cfg.idle_timeout.is_some() => {
                return DriveOutcome { finished, end: "idle timeout".into() };
            }
        }
    }
}

/// Write what the peer sent without faults, in one write.
async fn write_pending<L: Link + ?Sized>(link: &mut L, pending: &mut Vec<u8>) -> std::io::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let r = async {
        link.write_all(pending).await?;
        link.flush().await
    }
    .await;
    pending.clear();
    if pending.capacity() > READ_BUF_MAX {
        *pending = Vec::new();
    }
    r
}

/// The peer's view of time: real time since the connection started, times the clock speed.
#[derive(Debug, Clone, Copy)]
struct PeerClock {
    start: Instant,
    speed: u32,
}

impl PeerClock {
    fn start(speed: u32) -> Self {
        Self {
            start: Instant::now(),
            speed: speed.max(1),
        }
    }

    /// Peer time now.
    fn now(&self) -> Duration {
        self.start.elapsed().saturating_mul(self.speed)
    }

    /// The real instant at which the peer's clock reads `at`.
    fn instant_at(&self, at: Duration) -> Instant {
        self.start + at / self.speed
    }
}

fn fault_note(kinds: &[faults::FaultKind]) -> String {
    if kinds.is_empty() {
        String::new()
    } else {
        format!(" [faults: {kinds:?}]")
    }
}

impl<L: Link + ?Sized> Link for Box<L> {
    fn arm_reset(&mut self) {
        (**self).arm_reset()
    }
}
