//! The tokio driver: runs a sans-IO [`Peer`] over a real link (TCP socket, stdio, child pipes),
//! applying scripted faults to what the peer writes.
//!
//! This is the only place in the simulator that does I/O or reads the clock.

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
}

impl std::fmt::Debug for DriveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriveConfig")
            .field("faults", &self.faults)
            .field("seed", &self.seed)
            .field("clock_speed", &self.clock_speed)
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

/// Drive `peer` over `link` until either side closes, the peer closes, or the idle timeout.
pub async fn drive<L: Link>(mut peer: Box<dyn Peer>, mut link: L, cfg: DriveConfig) -> DriveOutcome {
    let clock = PeerClock::start(cfg.clock_speed);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut exec = OpExecutor::with_clock_speed(cfg.clock_speed);
    let mut finished = None;
    let mut buf = vec![0u8; 64 * 1024];
    let log = |line: &str| {
        if let Some(sink) = &cfg.log {
            sink(line);
        }
    };

    let mut outputs = peer.start(Duration::ZERO);
    loop {
        for out in std::mem::take(&mut outputs) {
            match out {
                Output::Send { label, bytes } => {
                    let n = counts.entry(label.clone()).or_insert(0);
                    *n += 1;
                    let kinds: Vec<_> = cfg
                        .faults
                        .iter()
                        .filter(|r| r.applies(&label, *n))
                        .map(|r| r.fault.clone())
                        .collect();
                    log(&format!(
                        "-> {label} ({} bytes){}",
                        bytes.len(),
                        fault_note(&kinds)
                    ));
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
            }
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
        let idle = cfg.idle_timeout.map(|d| Instant::now() + d);
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
                Ok(n) => outputs = peer.input(clock.now(), buf.get(..n).unwrap_or(&[])),
                Err(e) => return DriveOutcome { finished, end: format!("read failed: {e}") },
            },
            _ = sleep_until_opt(deadline), if deadline.is_some() => outputs = peer.timer(clock.now()),
            _ = sleep_until_opt(idle), if idle.is_some() => {
                return DriveOutcome { finished, end: "idle timeout".into() };
            }
        }
    }
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

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
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
