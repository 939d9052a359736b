//! Generic misbehaviour modes: bugs real implementations have when fed hostile bytes, for any
//! protocol. A [`BuggyPeer`] wraps a correct peer, decodes what arrives with the protocol's own
//! `WireSession` (so it knows what a message, a length field or a malformed body is), and exhibits
//! its bug when the trigger arrives. `peercheck fuzz` must find these without being told where.
//!
//! A bug's effect outlives the connection that caused it, as it does in a real server process:
//! the state is per process (one entry per mode). How each effect looks from outside:
//!
//! | mode | trigger | in a `peercheck simulate` process | in-process (the runner's built-in TCP simulator) |
//! |---|---|---|---|
//! | `bug-crash-on-short-body` | a body shorter than its fields (decode error *truncated*) | panic message on stderr, exit 101 | this and every later connection is dropped |
//! | `bug-panic-on-oversized` | a length or count over the protocol's limit (decode error *over limit*) | panic message, this connection dropped; a poisoned lock makes every later connection panic and drop | the same, without the stderr lines |
//! | `bug-hang-on-zero-length` | a message whose length field is 0 | the worker spins for ever (the process stops answering, even at end of input) | no connection answers any more |
//! | `bug-hang-on-lying-length` | the peer closes with a partial message left, its length promising bytes that never came | the read loop spins on EOF for ever | no connection answers any more |
//! | `bug-alloc-on-length` | a length field of 1 MiB or more (read before any limit check) | allocates (and touches) that much, up to 256 MiB held; a larger request aborts like a failed allocation | the same allocation (capped), no abort: every later connection is dropped instead |
//! | `bug-disconnect-loop` | any malformed input | closes this and every later connection right after accepting it | the same |
//!
//! Only the server role is wrapped: the modes describe servers (`peercheck fuzz` drives servers).

use crate::peer::{Misbehaviour, Observable, Output, Peer, PeerConfig};
use peercheck_wire::session::{ProtocolDef, Role, SessionOptions, WireSession};
use peercheck_wire::DecodeErrorKind;
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Prefix of every generic mode name.
pub const PREFIX: &str = "bug-";

/// Most memory `bug-alloc-on-length` holds; a request beyond it "fails" (aborts the process).
pub const ALLOC_CAP: usize = 256 << 20;
/// Smallest declared length `bug-alloc-on-length` allocates for.
pub const ALLOC_TRIGGER: u64 = 1 << 20;
/// Most received bytes kept for reading length fields.
const MAX_KEPT: usize = 1 << 20;

/// The generic modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    CrashOnShortBody,
    PanicOnOversized,
    HangOnZeroLength,
    HangOnLyingLength,
    AllocOnLength,
    DisconnectLoop,
}

/// Every mode: the bug, its name, and what it imitates.
pub const MODES: &[(Bug, &str, &str)] = &[
    (
        Bug::CrashOnShortBody,
        "bug-crash-on-short-body",
        "the process crashes (panic, exit 101) on a message body shorter than its fields; later connections are refused",
    ),
    (
        Bug::PanicOnOversized,
        "bug-panic-on-oversized",
        "panics on a length or count over the protocol limit while holding a lock: every later connection panics on the poisoned lock",
    ),
    (
        Bug::HangOnZeroLength,
        "bug-hang-on-zero-length",
        "a parse loop makes no progress on a zero length field: the server stops answering everyone",
    ),
    (
        Bug::HangOnLyingLength,
        "bug-hang-on-lying-length",
        "read_exact-style loop spins on EOF when the peer closes before the promised bytes: the server stops answering",
    ),
    (
        Bug::AllocOnLength,
        "bug-alloc-on-length",
        "allocates the declared length before checking it (up to 256 MiB held, aborts beyond)",
    ),
    (
        Bug::DisconnectLoop,
        "bug-disconnect-loop",
        "after one malformed message, closes every new connection right after accepting it",
    ),
];

impl Bug {
    pub fn name(self) -> &'static str {
        MODES
            .iter()
            .find(|(b, _, _)| *b == self)
            .map_or("bug-?", |(_, n, _)| n)
    }

    /// The generic mode named `name`, if it is one.
    pub fn parse(name: &str) -> Option<Bug> {
        MODES.iter().find(|(_, n, _)| *n == name).map(|(b, _, _)| *b)
    }
}

/// The generic mode a peer configuration asks for, if any.
pub fn requested(config: &PeerConfig) -> Option<Bug> {
    config.misbehave.as_deref().and_then(Bug::parse)
}

/// `config` without its misbehaviour (for building the correct peer inside the wrapper).
pub fn without_misbehave(config: &PeerConfig) -> PeerConfig {
    PeerConfig {
        misbehave: None,
        ..config.clone()
    }
}

/// `own` (a protocol's modes) followed by the generic modes, as one static list per protocol.
pub fn with_generic(protocol: &'static str, own: &'static [Misbehaviour]) -> &'static [Misbehaviour] {
    static LISTS: OnceLock<Mutex<BTreeMap<&'static str, &'static [Misbehaviour]>>> = OnceLock::new();
    let lists = LISTS.get_or_init(|| Mutex::new(BTreeMap::new()));
    let Ok(mut lists) = lists.lock() else {
        return own;
    };
    lists.entry(protocol).or_insert_with(|| {
        let mut v = own.to_vec();
        v.extend(MODES.iter().map(|(_, name, description)| Misbehaviour {
            name,
            role: Role::Server,
            // The effect outlives the connection (see the table above).
            observable: Observable::SecondConnection,
            description,
        }));
        Box::leak(v.into_boxed_slice())
    })
}

/// Wrap the correct peer `inner` so it exhibits `bug`. `proto` decodes what arrives.
pub fn wrap(
    bug: Bug,
    proto: &'static dyn ProtocolDef,
    config: &PeerConfig,
    inner: Box<dyn Peer>,
) -> Result<Box<dyn Peer>, String> {
    let role = config.role.unwrap_or(Role::Server);
    if role != Role::Server {
        return Err(format!("misbehaviour {} is for the server role", bug.name()));
    }
    let session = proto.new_session(&SessionOptions {
        local_role: Some(role),
        profile: config.profile.clone(),
        params: config.params.clone(),
    })?;
    Ok(Box::new(BuggyPeer {
        bug,
        inner,
        session,
        length_field: proto.length_field(),
        layout: None,
        kept: Vec::new(),
        kept_base: 0,
        received: 0,
        consumed: 0,
        broken_stream: false,
    }))
}

/// What a bug has done to the (simulated) process.
#[derive(Debug, Default)]
struct ProcessState {
    dead: bool,
    hung: bool,
    poisoned: bool,
    refusing: bool,
    held: Vec<Vec<u8>>,
    held_total: usize,
}

static STATE: Mutex<BTreeMap<&'static str, ProcessState>> = Mutex::new(BTreeMap::new());

fn with_state<T>(bug: Bug, f: impl FnOnce(&mut ProcessState) -> T) -> T {
    let mut guard = match STATE.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    f(guard.entry(bug.name()).or_default())
}

/// Forget every bug's effect (a "restart" of the simulated process; tests use it).
pub fn reset_process_state() {
    let mut guard = match STATE.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    guard.clear();
}

/// True when this process is `peercheck simulate`: there a crash is a real exit and a hang a
/// really stuck thread; in the runner's own process they are simulated by refusing to answer.
fn in_simulator_process() -> bool {
    std::env::args().nth(1).as_deref() == Some("simulate")
}

/// `len` bytes that are really resident: zeroed pages cost nothing until written, so write one byte
/// per page (fast even in a debug build, unlike filling every byte).
fn resident(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    for b in v.iter_mut().step_by(4096) {
        *b = 0xa5;
    }
    v
}

fn spin_for_ever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// A correct peer with one generic bug.
#[derive(Debug)]
pub struct BuggyPeer {
    bug: Bug,
    inner: Box<dyn Peer>,
    session: Box<dyn WireSession>,
    length_field: &'static str,
    /// Offset and width of the length field inside a message, learned from a decoded message.
    layout: Option<(usize, usize)>,
    /// Received bytes from stream offset `kept_base` on (bounded).
    kept: Vec<u8>,
    kept_base: usize,
    received: usize,
    /// Stream offset just after the last decoded message.
    consumed: usize,
    /// The session reported a decode error: the stream is not followed any further.
    broken_stream: bool,
}

/// What the arriving bytes triggered.
enum Trigger {
    None,
    Fire(String),
}

impl BuggyPeer {
    /// Outputs when the process is already affected, `None` when the correct peer may answer.
    fn gate(&self, first_input: bool) -> Option<Vec<Output>> {
        with_state(self.bug, |s| {
            if s.dead || s.refusing {
                Some(vec![Output::Close {
                    reason: format!("{}: not serving any more", self.bug.name()),
                }])
            } else if s.hung {
                Some(Vec::new())
            } else if s.poisoned && first_input {
                if in_simulator_process() {
                    eprintln!("thread 'tokio-runtime-worker' panicked at src/server.rs:57:38:\ncalled `Result::unwrap()` on an `Err` value: PoisonError {{ .. }}");
                }
                Some(vec![Output::Close {
                    reason: format!("{}: lock poisoned", self.bug.name()),
                }])
            } else {
                None
            }
        })
    }

    /// The length field value of the message starting at stream offset `at`, from kept bytes.
    fn declared_at(&self, at: usize) -> Option<u64> {
        // Unknown until a well-formed message showed where the length field is.
        let (rel, width) = self.layout?;
        let start = at.checked_add(rel)?.checked_sub(self.kept_base)?;
        let raw = self.kept.get(start..start.checked_add(width)?)?;
        Some(raw.iter().rev().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn learn_layout(&mut self, m: &peercheck_wire::Decoded) -> Option<u64> {
        let span = peercheck_wire::span::find(&m.spans, self.length_field)?;
        let rel = span.start.checked_sub(m.offset)?;
        let width = span.end.checked_sub(span.start)?;
        let bytes = m.bytes.get(rel..rel.checked_add(width)?)?;
        let value = bytes.iter().rev().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        // Only trust raw offsets when they match the decoded value (raw framings like NOW and
        // Inedo frames; not the base64 inside PSRP's OutOfProc lines).
        let shown: String = span.value.chars().take_while(char::is_ascii_digit).collect();
        if width <= 8 && shown.parse::<u64>().ok() == Some(value) {
            self.layout.get_or_insert((rel, width));
        }
        shown.parse::<u64>().ok()
    }

    fn observe(&mut self, bytes: &[u8]) -> Trigger {
        self.received = self.received.saturating_add(bytes.len());
        if self.kept.len() < MAX_KEPT {
            self.kept.extend_from_slice(bytes);
        }
        if self.broken_stream {
            return Trigger::None;
        }
        self.session.push_received(bytes);
        while self.session.poll_transmit().is_some() {}
        loop {
            match self.session.next_received() {
                Ok(Some(m)) => {
                    let declared = self.learn_layout(&m);
                    self.consumed = m.offset.saturating_add(m.bytes.len());
                    if let Some(t) = self.on_length(declared) {
                        return t;
                    }
                }
                Ok(None) => {
                    // A partial message: implementations read its header and act on the length.
                    if self.received > self.consumed {
                        let declared = self.declared_at(self.consumed);
                        if self.bug == Bug::AllocOnLength {
                            if let Some(t) = self.on_length(declared) {
                                return t;
                            }
                        }
                    }
                    return Trigger::None;
                }
                Err(e) => {
                    self.broken_stream = true;
                    let declared = self.declared_at(self.consumed);
                    if let Some(t) = self.on_length(declared) {
                        return t;
                    }
                    return match (self.bug, &e.kind) {
                        (Bug::CrashOnShortBody, DecodeErrorKind::Truncated { needed, available }) => {
                            Trigger::Fire(format!(
                                "range end index {} out of range for slice of length {available} (field `{}`)",
                                available.saturating_add(*needed),
                                e.field
                            ))
                        }
                        (Bug::PanicOnOversized, DecodeErrorKind::OverLimit { value, .. }) => {
                            Trigger::Fire(format!("capacity overflow (field `{}` = {value})", e.field))
                        }
                        (Bug::DisconnectLoop, _) => Trigger::Fire(format!("malformed input: {e}")),
                        _ => Trigger::None,
                    };
                }
            }
        }
    }

    /// Triggers that look at a declared length (zero-length hang, allocation).
    fn on_length(&self, declared: Option<u64>) -> Option<Trigger> {
        let len = declared?;
        match self.bug {
            Bug::HangOnZeroLength if len == 0 => Some(Trigger::Fire("zero length".into())),
            Bug::AllocOnLength if len >= ALLOC_TRIGGER => Some(Trigger::Fire(format!("allocate {len}"))),
            _ => None,
        }
    }

    /// Carry out the bug. Returns the outputs for this connection.
    fn fire(&mut self, why: String) -> Vec<Output> {
        let name = self.bug.name();
        let simulate = in_simulator_process();
        match self.bug {
            Bug::CrashOnShortBody => {
                if simulate {
                    eprintln!("thread 'main' panicked at src/codec.rs:88:23:\n{why}\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace");
                    std::process::exit(101);
                }
                with_state(self.bug, |s| s.dead = true);
                vec![Output::Close {
                    reason: format!("{name}: crashed ({why})"),
                }]
            }
            Bug::PanicOnOversized => {
                if simulate {
                    eprintln!("thread 'tokio-runtime-worker' panicked at src/frame.rs:41:17:\n{why}");
                }
                with_state(self.bug, |s| s.poisoned = true);
                vec![Output::Close {
                    reason: format!("{name}: panicked ({why})"),
                }]
            }
            Bug::HangOnZeroLength | Bug::HangOnLyingLength => {
                with_state(self.bug, |s| s.hung = true);
                if simulate {
                    spin_for_ever();
                }
                vec![Output::Log(format!("{name}: stuck ({why})"))]
            }
            Bug::AllocOnLength => {
                let want = self
                    .declared_at(self.consumed)
                    .or_else(|| why.rsplit(' ').next().and_then(|n| n.parse().ok()))
                    .unwrap_or(0);
                let want = usize::try_from(want).unwrap_or(usize::MAX);
                let failed = with_state(self.bug, |s| {
                    let room = ALLOC_CAP.saturating_sub(s.held_total);
                    let take = want.min(room);
                    // Decide first (so later connections see the effect at once), then allocate.
                    s.dead |= want > room;
                    if take > 0 {
                        s.held.push(resident(take));
                        s.held_total = s.held_total.saturating_add(take);
                    }
                    want > room
                });
                if failed {
                    if simulate {
                        eprintln!("memory allocation of {want} bytes failed");
                        std::process::abort();
                    }
                    return vec![Output::Close {
                        reason: format!("{name}: out of memory allocating {want} bytes"),
                    }];
                }
                // The allocation "succeeded": carry on as the correct peer would.
                Vec::new()
            }
            Bug::DisconnectLoop => {
                with_state(self.bug, |s| s.refusing = true);
                vec![Output::Close {
                    reason: format!("{name}: {why}"),
                }]
            }
        }
    }
}

impl Peer for BuggyPeer {
    fn start(&mut self, now: Duration) -> Vec<Output> {
        match self.gate(false) {
            Some(out) => out,
            None => self.inner.start(now),
        }
    }

    fn input(&mut self, now: Duration, bytes: &[u8]) -> Vec<Output> {
        if let Some(out) = self.gate(self.received == 0) {
            return out;
        }
        match self.observe(bytes) {
            Trigger::None => self.inner.input(now, bytes),
            Trigger::Fire(why) => {
                let out = self.fire(why);
                if out.is_empty() {
                    self.inner.input(now, bytes)
                } else {
                    out
                }
            }
        }
    }

    fn timer(&mut self, now: Duration) -> Vec<Output> {
        match self.gate(false) {
            Some(out) => out,
            None => self.inner.timer(now),
        }
    }

    fn next_deadline(&self) -> Option<Duration> {
        let affected = with_state(self.bug, |s| s.dead || s.hung || s.refusing);
        if affected {
            None
        } else {
            self.inner.next_deadline()
        }
    }

    fn peer_closed(&mut self, now: Duration) -> Vec<Output> {
        if let Some(out) = self.gate(false) {
            return out;
        }
        if self.bug == Bug::HangOnLyingLength && !self.broken_stream && self.received > self.consumed {
            let promised = self.declared_at(self.consumed);
            let _ = self.fire(format!(
                "EOF after {} of a message promising {promised:?} bytes",
                self.received - self.consumed
            ));
            return Vec::new();
        }
        self.inner.peer_closed(now)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_mode_has_a_unique_prefixed_name() {
        let mut names: Vec<&str> = MODES.iter().map(|(_, n, _)| *n).collect();
        assert!(names.iter().all(|n| n.starts_with(PREFIX)));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), MODES.len());
        for (b, n, _) in MODES {
            assert_eq!(Bug::parse(n), Some(*b));
            assert_eq!(b.name(), *n);
        }
        assert_eq!(Bug::parse("now-varstr-no-nul"), None);
    }

    #[cfg(feature = "now")]
    fn now_peer(bug: Bug) -> Box<dyn Peer> {
        let config = PeerConfig {
            role: Some(Role::Server),
            misbehave: Some(bug.name().into()),
            ..PeerConfig::default()
        };
        let inner = crate::now::new_peer(&without_misbehave(&config)).unwrap();
        wrap(bug, peercheck_now::protocol(), &config, inner).unwrap()
    }

    #[cfg(feature = "now")]
    fn now_client_bytes(msg: serde_json::Value) -> Vec<u8> {
        let mut s = peercheck_now::protocol()
            .new_session(&SessionOptions {
                local_role: Some(Role::Client),
                ..SessionOptions::default()
            })
            .unwrap();
        s.encode(&msg).unwrap()
    }

    #[cfg(feature = "now")]
    fn capset() -> Vec<u8> {
        now_client_bytes(
            serde_json::json!({ "channel.capset": { "msgFlags": 1, "versionMajor": 1, "versionMinor": 6, "execCapset": 0x1001, "heartbeatInterval": 60 } }),
        )
    }

    /// Each trigger, fed to a fresh in-process peer, affects that peer and every later one; the
    /// correct input does not. (One test: the process state is shared.)
    #[cfg(feature = "now")]
    #[test]
    fn triggers_fire_on_their_input_only() {
        let t = Duration::ZERO;
        let data = now_client_bytes(
            serde_json::json!({ "exec.data": { "msgFlags": 3, "sessionId": 9, "data": "6869" } }),
        );
        let mut zero = data.clone();
        zero.splice(0..4, [0, 0, 0, 0]);
        let mut short = data.clone();
        short.splice(0..4, [1, 0, 0, 0]);
        let mut over = data.clone();
        over.splice(0..4, [0xff, 0xff, 0xff, 0x7f]);
        let cases: [(Bug, Vec<u8>); 4] = [
            (Bug::HangOnZeroLength, zero),
            (Bug::CrashOnShortBody, short),
            (Bug::PanicOnOversized, over.clone()),
            (Bug::AllocOnLength, over),
        ];
        reset_process_state();
        for (bug, trigger) in cases {
            // Correct traffic passes through.
            let mut p = now_peer(bug);
            let out = p.input(t, &capset());
            assert!(
                out.iter().any(|o| matches!(o, Output::Send { .. })),
                "{bug:?}: {out:?}"
            );
            let _ = p.input(t, &data);
            let mut later = now_peer(bug);
            assert!(
                !later.input(t, &capset()).is_empty(),
                "{bug:?} fired on correct input"
            );
            // The trigger affects this connection and the next ones.
            let out = p.input(t, &trigger);
            assert!(
                !out.iter().any(|o| matches!(o, Output::Send { .. })),
                "{bug:?}: {out:?}"
            );
            let mut after = now_peer(bug);
            let out = after.input(t, &capset());
            assert!(
                !out.iter().any(|o| matches!(o, Output::Send { .. })),
                "{bug:?} did not outlive the connection: {out:?}"
            );
        }
        reset_process_state();
    }

    #[test]
    fn generic_modes_follow_the_protocol_modes() {
        static OWN: &[Misbehaviour] = &[Misbehaviour {
            name: "own",
            role: Role::Client,
            observable: Observable::Wire,
            description: "d",
        }];
        let l = with_generic("test-proto", OWN);
        assert_eq!(l.first().map(|m| m.name), Some("own"));
        assert_eq!(l.len(), 1 + MODES.len());
        // The generic bugs show on later connections; a protocol's own modes say for themselves.
        assert!(l
            .iter()
            .skip(1)
            .all(|m| m.observable == Observable::SecondConnection));
        assert!(std::ptr::eq(l, with_generic("test-proto", OWN)));
    }
}
