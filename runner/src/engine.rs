//! The step engine: runs one expanded scenario over one connection and says what happened.
//!
//! It owns no codec: it encodes and decodes through the protocol's `WireSession`, and applies
//! faults through the simulator's fault planner, so the bytes on the wire are the codec's bytes.

use crate::matcher::{self, Mismatch, Vars};
use crate::scenario::model::{parse_duration, Scenario, Step};
use peercheck_simulator::driver::{Link, LinkState, OpExecutor};
use peercheck_simulator::faults;
use peercheck_wire::hexdump;
use peercheck_wire::session::{Decoded, ProtocolDef, WireSession};
use rand::SeedableRng;
use serde::Serialize;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// Default `within` when a scenario names none.
pub const DEFAULT_WITHIN: Duration = Duration::from_secs(5);
/// Stand-in for "no deadline" (`--no-timeout`).
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// How the implementation behaved, before levels and expectations turn it into a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every step held.
    Passed,
    /// A step's requirement was broken by the implementation.
    Broken,
    /// A `require` step found the capability missing.
    Unsupported,
    /// The suite or the transport failed (not the implementation's fault).
    SuiteError,
}

/// One line of the exchange trace.
#[derive(Debug, Clone, Serialize)]
pub struct TraceEntry {
    pub at_ms: u64,
    /// `sent`, `received`, `note`.
    pub kind: &'static str,
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hex: String,
    #[serde(skip)]
    pub dump: String,
    /// Decoded fields of a received message (for `peercheck diff`); not in the JSON report.
    #[serde(skip)]
    pub fields: Option<serde_json::Value>,
}

/// What running one scenario produced.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub outcome: Outcome,
    /// 1-based step that decided a non-pass outcome.
    pub step: Option<usize>,
    pub reason: String,
    pub mismatches: Vec<Mismatch>,
    pub trace: Vec<TraceEntry>,
}

/// Timeouts as the command line set them, and the built-in simulator's clock speed.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub scale: f64,
    pub disabled: bool,
    /// The peer runs its clock this many times faster than real time (the built-in simulator,
    /// see pace.rs); every window and sleep of the scenario shrinks by it. 1 for anything else.
    pub speed: u32,
}

impl Timing {
    /// Real time for answer windows (`expect`, `expect-close`) and the connect timeout.
    pub fn apply(&self, d: Duration) -> Duration {
        if self.disabled {
            FOREVER
        } else {
            d.mul_f64(self.scale.max(0.0)) / self.speed.max(1)
        }
    }

    /// Real time for a silence window.
    pub fn silence(&self, d: Duration) -> Duration {
        if self.disabled {
            d
        } else {
            d.mul_f64(self.scale.max(0.0)) / self.speed.max(1)
        }
    }

    /// A real window as a report shows it: with the simulator's clock speed when it is not 1.
    pub fn describe(&self, real: Duration) -> String {
        match self.speed {
            0 | 1 => format!("{real:?}"),
            k => format!("{real:?} ({:?} on the simulator's clock, running {k}x)", real * k),
        }
    }

    /// Real time for a `sleep` step (not scaled by `--timeout-scale`: it is not a timeout).
    pub fn sleep(&self, d: Duration) -> Duration {
        d / self.speed.max(1)
    }
}

struct Stop {
    outcome: Outcome,
    reason: String,
    mismatches: Vec<Mismatch>,
}

impl Stop {
    fn broken(reason: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Broken,
            reason: reason.into(),
            mismatches: Vec::new(),
        }
    }
    fn suite(reason: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::SuiteError,
            reason: reason.into(),
            mismatches: Vec::new(),
        }
    }
}

/// Reads the link into the session and hands out decoded messages with deadlines.
struct Exchange<'a, L: Link + ?Sized> {
    link: &'a mut L,
    session: Box<dyn WireSession>,
    exec: OpExecutor,
    eof: bool,
    start: Instant,
    trace: Vec<TraceEntry>,
    buf: Vec<u8>,
    /// A write failed (the implementation had closed): fine if an `expect-close` follows,
    /// a failure otherwise.
    write_failed: Option<(usize, String)>,
    step: usize,
}

enum Next {
    Message(Box<Decoded>),
    Closed(String),
    TimedOut,
}

impl<L: Link + ?Sized> Exchange<'_, L> {
    fn note(&mut self, kind: &'static str, name: String, bytes: &[u8], dump: String) {
        self.trace.push(TraceEntry {
            at_ms: u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX),
            kind,
            name,
            hex: hex::encode(bytes),
            dump,
            fields: None,
        });
    }

    async fn write_pending(&mut self) -> Result<(), Stop> {
        while let Some(bytes) = self.session.poll_transmit() {
            self.note("sent", "(session)".into(), &bytes, String::new());
            if let Err(e) = self.link.write_all(&bytes).await {
                // The implementation has gone: what it sent before still counts, and an
                // `expect-close` next is satisfied (see `write_failed`).
                self.note("note", format!("write failed: {e}"), &[], String::new());
                self.write_failed.get_or_insert((self.step, e.to_string()));
                break;
            }
        }
        Ok(())
    }

    /// The next message from the implementation, waiting until `deadline`.
    async fn next(&mut self, deadline: Instant) -> Result<Next, Stop> {
        loop {
            match self.session.next_received() {
                Ok(Some(m)) => {
                    let dump = hexdump::annotated(&m.bytes, m.offset, &m.spans);
                    self.note("received", m.name.clone(), &m.bytes.clone(), dump);
                    if let Some(t) = self.trace.last_mut() {
                        t.fields = Some(m.fields.clone());
                    }
                    self.write_pending().await?;
                    return Ok(Next::Message(Box::new(m)));
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(Stop::broken(format!(
                        "the implementation sent a malformed message: {e}"
                    )))
                }
            }
            if self.eof {
                if let Err(e) = self.session.finish() {
                    return Err(Stop::broken(format!(
                        "the connection closed inside a message: {e}"
                    )));
                }
                return Ok(Next::Closed("end of stream".into()));
            }
            let read = tokio::time::timeout_at(deadline, self.link.read(&mut self.buf)).await;
            match read {
                Err(_) => return Ok(Next::TimedOut),
                Ok(Ok(0)) => self.eof = true,
                Ok(Ok(n)) => {
                    let chunk = self.buf.get(..n).unwrap_or(&[]).to_vec();
                    self.session.push_received(&chunk);
                    self.write_pending().await?;
                }
                Ok(Err(e)) => {
                    self.eof = true;
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                    ) {
                        return Ok(Next::Closed(format!("connection reset ({e})")));
                    }
                    return Err(Stop::suite(format!("read failed: {e}")));
                }
            }
        }
    }
}

/// Run `scenario` over `link`.
pub async fn run<L: Link + ?Sized>(
    scenario: &Scenario,
    protocol: &dyn ProtocolDef,
    session: Box<dyn WireSession>,
    link: &mut L,
    timing: Timing,
    seed: u64,
) -> RunRecord {
    let mut ex = Exchange {
        link,
        session,
        exec: OpExecutor::with_clock_speed(timing.speed),
        eof: false,
        start: Instant::now(),
        trace: Vec::new(),
        buf: vec![0u8; 64 * 1024],
        write_failed: None,
        step: 0,
    };
    let mut vars = Vars::new();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let default_within = scenario
        .timeout
        .as_deref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(DEFAULT_WITHIN);
    let mut ignorable: Vec<String> = protocol.ignorable().iter().map(|s| s.to_string()).collect();
    ignorable.extend(scenario.ignore.iter().cloned());

    for (i, step) in scenario.steps.iter().enumerate() {
        ex.step = i + 1;
        let r = run_step(
            step,
            &mut ex,
            protocol,
            &mut vars,
            &ignorable,
            default_within,
            timing,
            &mut rng,
        )
        .await;
        if let Err(stop) = r {
            let _ = ex.link.shutdown().await;
            return RunRecord {
                outcome: stop.outcome,
                step: Some(i + 1),
                reason: stop.reason,
                mismatches: stop.mismatches,
                trace: ex.trace,
            };
        }
    }
    let _ = ex.exec.flush_held(ex.link).await;
    let _ = ex.link.shutdown().await;
    if let Some((step, e)) = ex.write_failed.take() {
        return RunRecord {
            outcome: Outcome::Broken,
            step: Some(step),
            reason: format!("the implementation closed the connection before the suite could send ({e})"),
            mismatches: Vec::new(),
            trace: ex.trace,
        };
    }
    RunRecord {
        outcome: Outcome::Passed,
        step: None,
        reason: String::new(),
        mismatches: Vec::new(),
        trace: ex.trace,
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_step<L: Link + ?Sized>(
    step: &Step,
    ex: &mut Exchange<'_, L>,
    protocol: &dyn ProtocolDef,
    vars: &mut Vars,
    ignorable: &[String],
    default_within: Duration,
    timing: Timing,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Result<(), Stop> {
    let within = |d: &Option<String>| {
        timing.apply(
            d.as_deref()
                .and_then(|t| parse_duration(t).ok())
                .unwrap_or(default_within),
        )
    };
    if let Some(msg) = &step.send {
        let msg = matcher::substitute(msg, vars).map_err(Stop::suite)?;
        let bytes = match ex.session.encode(&msg) {
            Ok(b) => b,
            Err(e) => return Err(blame_encode_failure(ex, e.to_string()).await),
        };
        let name = msg
            .as_object()
            .and_then(|m| m.keys().next().cloned())
            .unwrap_or_default();
        send_bytes(ex, protocol, name, bytes, step, rng).await?;
        return ex.write_pending().await;
    }
    if let Some(h) = &step.send_hex {
        let bytes = peercheck_wire::hexparse::parse_hex(h).map_err(Stop::suite)?;
        return send_bytes(ex, protocol, "(raw bytes)".into(), bytes, step, rng).await;
    }
    if let Some(expected) = &step.expect {
        let deadline = Instant::now() + within(&step.within);
        let wanted: Vec<&String> = expected
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        loop {
            match ex.next(deadline).await? {
                Next::TimedOut => {
                    return Err(Stop::broken(format!(
                        "no {} within {}",
                        join_names(&wanted),
                        timing.describe(within(&step.within))
                    )))
                }
                Next::Closed(how) => {
                    return Err(Stop::broken(format!(
                        "the implementation closed ({how}) while {} was expected",
                        join_names(&wanted)
                    )))
                }
                Next::Message(m) => {
                    let fields_expected = expected.get(&m.name);
                    let Some(fields_expected) = fields_expected else {
                        if ignorable.contains(&m.name) {
                            continue;
                        }
                        return Err(Stop::broken(format!(
                            "expected {}, got {} {}",
                            join_names(&wanted),
                            m.name,
                            short_fields(&m.fields)
                        )));
                    };
                    let mut mismatches = Vec::new();
                    let mut trial = vars.clone();
                    if !fields_expected.is_null() {
                        matcher::match_value(
                            fields_expected,
                            Some(&m.fields),
                            &m.name,
                            &mut trial,
                            &mut mismatches,
                        );
                    }
                    if !mismatches.is_empty() {
                        let first = mismatches.first().map(ToString::to_string).unwrap_or_default();
                        return Err(Stop {
                            outcome: Outcome::Broken,
                            reason: format!("{} does not match: {first}", m.name),
                            mismatches,
                        });
                    }
                    *vars = trial;
                    for (var, path) in &step.capture {
                        let v = matcher::get_path(&m.fields, path).ok_or_else(|| {
                            Stop::broken(format!("{} has no field `{path}` to capture as `{var}`", m.name))
                        })?;
                        vars.insert(var.clone(), v.clone());
                    }
                    return Ok(());
                }
            }
        }
    }
    if let Some(close) = &step.expect_close {
        let deadline = Instant::now() + within(&close.within);
        loop {
            match ex.next(deadline).await {
                Ok(Next::Closed(_)) => {
                    ex.write_failed = None;
                    return Ok(());
                }
                Ok(Next::TimedOut) if close.or_silence => return Ok(()),
                Ok(Next::TimedOut) => {
                    return Err(Stop::broken(format!(
                        "the connection stayed open for {}",
                        timing.describe(within(&close.within))
                    )))
                }
                Ok(Next::Message(m)) => {
                    if close.allow.contains(&m.name) || ignorable.contains(&m.name) {
                        continue;
                    }
                    return Err(Stop::broken(format!(
                        "expected the connection to close, got {}",
                        m.name
                    )));
                }
                // Garbage right before a close is still not a clean close.
                Err(stop) => return Err(stop),
            }
        }
    }
    if let Some(d) = &step.expect_silence {
        let d = parse_duration(d).map_err(Stop::suite)?;
        let deadline = Instant::now() + timing.silence(d);
        loop {
            match ex.next(deadline).await? {
                Next::TimedOut => return Ok(()),
                Next::Closed(how) => {
                    return Err(Stop::broken(format!(
                        "expected silence, but the connection closed ({how})"
                    )))
                }
                Next::Message(m) if ignorable.contains(&m.name) => continue,
                Next::Message(m) => return Err(Stop::broken(format!("expected silence, got {}", m.name))),
            }
        }
    }
    if let Some(d) = &step.sleep {
        tokio::time::sleep(timing.sleep(parse_duration(d).map_err(Stop::suite)?)).await;
        return Ok(());
    }
    if let Some(req) = &step.require {
        let value = vars.get(&req.var).cloned();
        let mut mism = Vec::new();
        let mut scratch = vars.clone();
        matcher::match_value(&req.matches, value.as_ref(), &req.var, &mut scratch, &mut mism);
        if !mism.is_empty() {
            return Err(Stop {
                outcome: Outcome::Unsupported,
                reason: format!("the implementation does not advertise {}", req.capability),
                mismatches: mism,
            });
        }
        return Ok(());
    }
    Err(Stop::suite("step without an action (include left unexpanded?)"))
}

/// An encode failure is the suite's problem, unless the session broke on the implementation's
/// bytes (a TLS alert or garbage already received): then it is the implementation's.
async fn blame_encode_failure<L: Link + ?Sized>(ex: &mut Exchange<'_, L>, e: String) -> Stop {
    let deadline = Instant::now() + Duration::from_millis(50);
    match ex.next(deadline).await {
        Err(stop) if stop.outcome == Outcome::Broken => Stop::broken(format!(
            "{} (so the suite could not encode its next message: {e})",
            stop.reason
        )),
        _ => Stop::suite(format!("cannot encode the message: {e}")),
    }
}

async fn send_bytes<L: Link + ?Sized>(
    ex: &mut Exchange<'_, L>,
    protocol: &dyn ProtocolDef,
    name: String,
    bytes: Vec<u8>,
    step: &Step,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Result<(), Stop> {
    let spans = ex.session.annotate_sent(&bytes);
    let dump = hexdump::annotated(&bytes, 0, &spans);
    let label = if step.fault.is_empty() {
        name
    } else {
        format!("{name} [faults: {:?}]", step.fault)
    };
    ex.note("sent", label, &bytes, dump);
    let ops = faults::plan(&step.fault, bytes, &spans, protocol.length_field(), rng).map_err(Stop::suite)?;
    match ex.exec.run(ex.link, ops).await {
        Ok(LinkState::Open) => Ok(()),
        Ok(LinkState::Closed) | Ok(LinkState::Reset) => {
            ex.eof = true;
            Ok(())
        }
        Err(e) => {
            // Keep reading what the implementation sent before it closed: an `expect-close`
            // next is satisfied, anything else fails on the close (or at the end of the steps).
            ex.note("note", format!("write failed: {e}"), &[], String::new());
            ex.write_failed.get_or_insert((ex.step, e.to_string()));
            Ok(())
        }
    }
}

fn join_names(names: &[&String]) -> String {
    match names {
        [one] => one.to_string(),
        many => format!(
            "one of {}",
            many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn short_fields(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.len() > 160 {
        format!("{}…", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}
