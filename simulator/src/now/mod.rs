//! NOW-PROTO mock peers: the agent (server) side and the RDP-client side, built on peercheck-now.
//!
//! - [`server::NowServer`]: answers the capset (intersection by default, the real agent's full answer
//!   with `capset-answer=full`, ERRATA NOW-11), heartbeats, exec sessions of every style from a
//!   script, session/system/RDM messages, NOW_STATUS errors.
//! - [`client::NowClient`]: sends its capset, runs scripted requests, checks the answers, finishes.
//! - [`MISBEHAVIOURS`]: realistic bugs each peer can exhibit on purpose.

pub mod client;
pub mod script;
pub mod server;
mod wire;

#[cfg(test)]
mod tests;

use crate::peer::{Misbehaviour, Observable, Peer, PeerConfig};
use peercheck_wire::Role;

/// A misbehaviour mode, parsed from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehave {
    VarstrNoNul,
    CapsetNotDowngraded,
    HeartbeatNever,
    HeartbeatTooSlow,
    ResultBeforeStarted,
    IgnoreSessionId,
    DataFlags10Layout,
    MsgSizeCountsHeader,
    NoCloseOnVersionMismatch,
    ExitCodeMissing,
    CancelNoResponse,
    DataAfterResult,
    ClientNoCapset,
    ClientSessionIdReuse,
}

/// Misbehaviour modes this protocol's peers can exhibit.
pub const MISBEHAVIOURS: &[Misbehaviour] = &[
    Misbehaviour {
        name: "now-varstr-no-nul",
        role: Role::Server,
        observable: Observable::Wire,
        description: "Writes every NOW_VARSTR without its NUL terminator (ERRATA NOW-5), like a codec written from the spec's \"excluding the null terminator\" alone",
    },
    Misbehaviour {
        name: "now-capset-not-downgraded",
        role: Role::Server,
        observable: Observable::Wire,
        description: "Echoes the client's capset back unchanged, claiming every capability the client offered instead of the intersection",
    },
    Misbehaviour {
        name: "now-heartbeat-never",
        role: Role::Server,
        observable: Observable::Wire,
        description: "Negotiates a heartbeat interval but never sends NOW_CHANNEL_HEARTBEAT_MSG",
    },
    Misbehaviour {
        name: "now-heartbeat-too-slow",
        role: Role::Server,
        observable: Observable::Wire,
        description: "Sends heartbeats at 3x the negotiated interval; now-client declares the link dead after 2x (ERRATA NOW-12)",
    },
    Misbehaviour {
        name: "now-result-before-started",
        role: Role::Server,
        observable: Observable::Wire,
        description: "Sends NOW_EXEC_RESULT_MSG before NOW_EXEC_STARTED_MSG (and the output after it)",
    },
    Misbehaviour {
        name: "now-ignore-session-id",
        role: Role::Server,
        observable: Observable::Wire,
        description: "Answers every exec request with session id 0 instead of the request's sessionId",
    },
    Misbehaviour {
        name: "now-data-flags-1.0-layout",
        role: Role::Server,
        observable: Observable::Wire,
        description: "Uses the 1.0 text's DATA flags (FIRST=1, LAST=2, STDOUT=8, STDERR=0x10) instead of the shipped ones (ERRATA NOW-3)",
    },
    Misbehaviour {
        name: "now-msgsize-counts-header",
        role: Role::Server,
        observable: Observable::Wire,
        description: "Puts header + body size in msgSize (the spec says the body only: \"excluding the header size\")",
    },
    Misbehaviour {
        name: "now-no-close-on-version-mismatch",
        role: Role::Server,
        observable: Observable::Wire,
        description: "Answers a capset with an incompatible major version instead of closing the channel with PROTOCOL_VERSION",
    },
    Misbehaviour {
        name: "now-exit-code-missing",
        role: Role::Server,
        observable: Observable::Wire,
        description: "Sends NOW_EXEC_RESULT_MSG in the 1.0 layout, without the exitCode field (ERRATA NOW-8)",
    },
    Misbehaviour {
        name: "now-cancel-no-response",
        role: Role::Server,
        observable: Observable::Wire,
        description: "Ignores NOW_EXEC_CANCEL_REQ_MSG: no CANCEL_RSP, the session keeps running",
    },
    Misbehaviour {
        name: "now-data-after-result",
        role: Role::Server,
        observable: Observable::Wire,
        description: "Sends one more stdout DATA after the session's RESULT (\"The session is considered terminated as soon as this message is sent\")",
    },
    Misbehaviour {
        name: "now-client-no-capset",
        role: Role::Client,
        observable: Observable::Wire,
        description: "Sends its first request without sending NOW_CHANNEL_CAPSET_MSG first",
    },
    Misbehaviour {
        name: "now-client-session-id-reuse",
        role: Role::Client,
        observable: Observable::Wire,
        description: "Starts every exec request with session id 1, even while that session is still running",
    },
];

impl Misbehave {
    pub fn parse(name: &str) -> Result<Self, String> {
        Ok(match name {
            "now-varstr-no-nul" => Misbehave::VarstrNoNul,
            "now-capset-not-downgraded" => Misbehave::CapsetNotDowngraded,
            "now-heartbeat-never" => Misbehave::HeartbeatNever,
            "now-heartbeat-too-slow" => Misbehave::HeartbeatTooSlow,
            "now-result-before-started" => Misbehave::ResultBeforeStarted,
            "now-ignore-session-id" => Misbehave::IgnoreSessionId,
            "now-data-flags-1.0-layout" => Misbehave::DataFlags10Layout,
            "now-msgsize-counts-header" => Misbehave::MsgSizeCountsHeader,
            "now-no-close-on-version-mismatch" => Misbehave::NoCloseOnVersionMismatch,
            "now-exit-code-missing" => Misbehave::ExitCodeMissing,
            "now-cancel-no-response" => Misbehave::CancelNoResponse,
            "now-data-after-result" => Misbehave::DataAfterResult,
            "now-client-no-capset" => Misbehave::ClientNoCapset,
            "now-client-session-id-reuse" => Misbehave::ClientSessionIdReuse,
            other => {
                let known: Vec<&str> = MISBEHAVIOURS.iter().map(|m| m.name).collect();
                return Err(format!(
                    "unknown NOW misbehaviour `{other}` (known: {})",
                    known.join(", ")
                ));
            }
        })
    }

    fn role(self) -> Role {
        match self {
            Misbehave::ClientNoCapset | Misbehave::ClientSessionIdReuse => Role::Client,
            _ => Role::Server,
        }
    }
}

/// Build a peer for the configured role (the role the simulator plays).
pub fn new_peer(config: &PeerConfig) -> Result<Box<dyn Peer>, String> {
    let role = config.role.unwrap_or(Role::Server);
    let misbehave = config.misbehave.as_deref().map(Misbehave::parse).transpose()?;
    if let Some(m) = misbehave {
        if m.role() != role {
            return Err(format!(
                "misbehaviour {:?} is for the {} role",
                m,
                m.role().as_str()
            ));
        }
    }
    match role {
        Role::Server => Ok(Box::new(server::NowServer::new(config, misbehave)?)),
        Role::Client => Ok(Box::new(client::NowClient::new(config, misbehave)?)),
    }
}
