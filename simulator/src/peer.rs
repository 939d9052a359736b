//! The sans-IO mock-peer contract.
//!
//! A peer is a state machine: the driver hands it bytes and the time since the connection started,
//! and it answers with [`Output`]s. It never touches a socket or a clock, so the same peer runs over
//! TCP, over stdio, or in memory in a unit test, and faults can be applied to what it writes.

use peercheck_wire::session::Role;
use std::collections::BTreeMap;
use std::time::Duration;

/// What a peer asks its driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write these bytes. `label` names the message (`exec.data`, `pipeline-output`,
    /// `handshake-reply`) so faults can target "the 2nd exec.data".
    Send { label: String, bytes: Vec<u8> },
    /// Close the connection after everything before it was written.
    Close { reason: String },
    /// One line for the exchange log (already redacted: no keys, no credentials).
    Log(String),
    /// A client-role peer finished its script; `ok` says whether every answer checked out.
    Finished { ok: bool, summary: String },
    /// Start, feed or kill a real local process (only honoured by a driver configured with
    /// `run_real_commands`; otherwise the driver answers [`ProcessEvent::Failed`]).
    Process(ProcessRequest),
}

/// A real process the peer wants run. `id` is the peer's own token for it, never reused on a
/// connection; every [`ProcessEvent`] carries it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessRequest {
    /// Spawn `program` with `args` in its own process group. With `io`, stdin is a pipe fed by
    /// [`ProcessRequest::Stdin`] and stdout/stderr are streamed back as events; without it all
    /// three are /dev/null.
    Start {
        id: u64,
        program: String,
        args: Vec<String>,
        directory: Option<String>,
        io: bool,
    },
    /// Write to the process's stdin; `last` closes it afterwards.
    Stdin { id: u64, bytes: Vec<u8>, last: bool },
    /// Kill the process's whole group (CANCEL, ABORT).
    Kill { id: u64 },
}

/// What happened to a process started with [`ProcessRequest::Start`]. For one process the driver
/// delivers `Started` (or `Failed`), then output in order, both `Eof`s (with `io`), then `Exited`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessEvent {
    Started {
        id: u64,
        pid: u32,
    },
    /// The process could not be started (`not_found`: no such program).
    Failed {
        id: u64,
        not_found: bool,
        error: String,
    },
    Stdout {
        id: u64,
        bytes: Vec<u8>,
    },
    Stderr {
        id: u64,
        bytes: Vec<u8>,
    },
    /// End of stdout (`stderr` false) or stderr.
    Eof {
        id: u64,
        stderr: bool,
    },
    /// The exit code (128 + signal number when a signal ended it).
    Exited {
        id: u64,
        code: u32,
    },
}

/// The peer parameter that makes a server peer (NOW) ask its driver to run exec requests as real
/// processes. It takes effect only if the driver is also configured to run them
/// (`DriveConfig::run_real_commands`: `peercheck simulate --run-real-commands`, loopback only);
/// otherwise every such request fails with a protocol error status.
pub const REAL_COMMANDS_PARAM: &str = "run-real-commands";

/// How to build a peer.
#[derive(Debug, Clone, Default)]
pub struct PeerConfig {
    pub role: Option<Role>,
    /// Profile name (protocol-specific; `None` = default).
    pub profile: Option<String>,
    /// Protocol-specific settings (same keys as `SessionOptions::params`).
    pub params: BTreeMap<String, String>,
    /// A behaviour script (YAML, protocol-specific shape), e.g. exec outcomes or pipeline output.
    pub script: Option<serde_yaml::Value>,
    /// A named misbehaviour mode: a realistic implementation bug to exhibit on purpose.
    pub misbehave: Option<String>,
    /// Seed for any random choice the peer makes.
    pub seed: u64,
}

impl PeerConfig {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }
}

/// A sans-IO mock peer for one connection.
pub trait Peer: Send + std::fmt::Debug {
    /// The connection is up (a client peer usually sends its first message here).
    fn start(&mut self, now: Duration) -> Vec<Output>;
    /// Bytes arrived from the other side.
    fn input(&mut self, now: Duration, bytes: &[u8]) -> Vec<Output>;
    /// The deadline from `next_deadline` has passed.
    fn timer(&mut self, now: Duration) -> Vec<Output>;
    /// When `timer` should be called next (time since connection start), if ever.
    fn next_deadline(&self) -> Option<Duration>;
    /// The other side closed its end.
    fn peer_closed(&mut self, now: Duration) -> Vec<Output> {
        let _ = now;
        Vec::new()
    }
    /// A real process the peer asked for did something (see [`Output::Process`]).
    fn process_event(&mut self, now: Duration, event: ProcessEvent) -> Vec<Output> {
        let _ = (now, event);
        Vec::new()
    }
}

/// A misbehaviour mode: name (as given to `--misbehave`), the bug it imitates, and where a test
/// can see it.
#[derive(Debug, Clone, Copy)]
pub struct Misbehaviour {
    pub name: &'static str,
    pub role: Role,
    pub observable: Observable,
    pub description: &'static str,
}

/// Where a misbehaviour shows (what `peercheck selftest` expects of the catalogue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observable {
    /// On the connection that triggers it: a catalogue scenario must catch it.
    Wire,
    /// On later connections (a hang, a crash, a disconnect loop): a scenario runs on one
    /// connection, so where none catches it, it is left to `peercheck fuzz`, whose liveness probe
    /// opens a fresh connection.
    SecondConnection,
    /// Nowhere: no test on the wire can tell it from correct behaviour; the proof.
    None(&'static str),
}
