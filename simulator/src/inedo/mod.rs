//! Inedo Agent protocol mock peers: the agent (protocol server) and a client, v1 and v2, with no
//! encryption, AES (pre-shared key, IV chain) or SSL (TLS after the clear handshake).
//!
//! No open implementation exists, so these peers are the reference for the readings in ERRATA
//! "Inedo Agent network protocol"; every open reading is a codec switch (see protocols/inedo/README.md).
//!
//! Peer params (besides the codec's `encryption`, `key`, `server-version`, `iv-chain`, `iv`):
//! - `root-path`: the agent's answer to Get Agent Root Path; the client's expected answer (any
//!   non-empty path when unset).
//! - `session-id`: the client's v1 session id (default: from the seed).

mod agent;
mod client;
#[cfg(test)]
mod tests;

use crate::peer::{Misbehaviour, Observable, Output, Peer, PeerConfig};
use peercheck_inedo::types::Iv;
use peercheck_inedo::InedoSession;
use peercheck_wire::{Role, SessionOptions};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The agent's default root path.
pub const DEFAULT_ROOT_PATH: &str = "C:\\ProgramData\\Inedo\\Agent";

/// ERRATA Inedo-11: the agent gives a client 30 s to complete the handshake.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How long the client peer waits for its answer.
pub const CLIENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Why `inedo-shared-iv-chain` cannot be seen on the wire.
const SHARED_IV_CHAIN_INVISIBLE: &str =
    "In CBC a wrong IV garbles only the first plaintext block, and that block is \
     exactly the 16-byte next-IV field; every other field decodes the same and the right next-IV is the \
     agent's random choice, so with no MAC a shared and a per-direction chain look identical on the wire \
     (ERRATA Inedo-7)";

/// Realistic implementation bugs the peers can imitate (`--misbehave <name>`).
pub const MISBEHAVIOURS: &[Misbehaviour] = &[
    Misbehaviour {
        name: "inedo-iv-reused",
        role: Role::Server,
        observable: Observable::Wire,
        description: "AES: every frame names the IV it was encrypted with as the next IV, so the whole \
                      direction runs under one IV (ERRATA Inedo-7)",
    },
    Misbehaviour {
        name: "inedo-length-counts-ciphertext-in-plain",
        role: Role::Server,
        observable: Observable::Wire,
        description: "plain/SSL: the frame length counts command + data as AES frames do, not the data \
                      alone (ERRATA Inedo-6)",
    },
    Misbehaviour {
        name: "inedo-data-at-offset-5",
        role: Role::Server,
        observable: Observable::Wire,
        description: "plain/SSL: writes the command as one byte so data starts at offset 5, as the spec \
                      table literally reads (ERRATA Inedo-4)",
    },
    Misbehaviour {
        name: "inedo-server-version-single-int",
        role: Role::Server,
        observable: Observable::Wire,
        description: "the reply carries the server version as one int32 while the client reads four \
                      (ERRATA Inedo-3)",
    },
    Misbehaviour {
        name: "inedo-accept-bad-guid",
        role: Role::Server,
        observable: Observable::Wire,
        description: "the agent does not check the protocol id and answers any handshake (spec Handshake: \
                      it must disconnect at once; ERRATA Inedo-11)",
    },
    Misbehaviour {
        name: "inedo-no-handshake-timeout",
        role: Role::Server,
        observable: Observable::Wire,
        description:
            "the agent waits forever for a handshake instead of giving up after 30 s (ERRATA Inedo-11)",
    },
    Misbehaviour {
        name: "inedo-shared-iv-chain",
        role: Role::Server,
        observable: Observable::None(SHARED_IV_CHAIN_INVISIBLE),
        description: "AES: the agent keeps one IV chain for both directions while the client keeps one per \
                      direction (ERRATA Inedo-7)",
    },
    Misbehaviour {
        name: "inedo-string-length-fixed-int32",
        role: Role::Server,
        observable: Observable::Wire,
        description: "the root path string has an int32 length prefix instead of .NET's 7-bit one \
                      (ERRATA Inedo-1)",
    },
    Misbehaviour {
        name: "inedo-no-padding",
        role: Role::Server,
        observable: Observable::Wire,
        description:
            "AES: frames are zero-filled to the block size instead of PKCS#7-padded (ERRATA Inedo-7)",
    },
    Misbehaviour {
        name: "inedo-iv-always-in-reply",
        role: Role::Server,
        observable: Observable::Wire,
        description: "the reply carries the 16-byte IV even without AES, misreading offsets 17/1 \
                      (ERRATA Inedo-5)",
    },
    Misbehaviour {
        name: "inedo-v2-keeps-agent-type",
        role: Role::Client,
        observable: Observable::Wire,
        description: "v2: client frames still carry the v1 agent-type byte (ERRATA Inedo-10)",
    },
    Misbehaviour {
        name: "inedo-guid-text-order",
        role: Role::Client,
        observable: Observable::Wire,
        description: "the handshake writes the protocol GUID in text (big-endian) order, not .NET order \
                      (ERRATA Inedo-2)",
    },
    Misbehaviour {
        name: "inedo-client-ignores-encryption",
        role: Role::Client,
        observable: Observable::Wire,
        description: "AES: the client keeps sending plain frames after the reply asked for AES",
    },
    Misbehaviour {
        name: "inedo-client-length-counts-header",
        role: Role::Client,
        observable: Observable::Wire,
        description: "plain/SSL: the client's frame length counts agent type + command + data, not the data \
                      alone (ERRATA Inedo-6)",
    },
];

/// Build a peer for the configured role.
pub fn new_peer(config: &PeerConfig) -> Result<Box<dyn Peer>, String> {
    let role = config.role.unwrap_or(Role::Server);
    if let Some(name) = config.misbehave.as_deref() {
        match MISBEHAVIOURS.iter().find(|m| m.name == name) {
            Some(m) if m.role == role => {}
            Some(m) => {
                return Err(format!(
                    "misbehaviour `{name}` belongs to the {} peer",
                    m.role.as_str()
                ))
            }
            None => {
                let known: Vec<&str> = MISBEHAVIOURS.iter().map(|m| m.name).collect();
                return Err(format!(
                    "unknown inedo misbehaviour `{name}` (known: {})",
                    known.join(", ")
                ));
            }
        }
    }
    match role {
        Role::Server => Ok(Box::new(agent::AgentPeer::new(config)?)),
        Role::Client => Ok(Box::new(client::ClientPeer::new(config)?)),
    }
}

/// The misbehaviour in force, if it is `name`.
fn is(config: &PeerConfig, name: &str) -> bool {
    config.misbehave.as_deref() == Some(name)
}

/// A codec session for a peer: only the codec's params, plus overrides a misbehaviour needs.
fn session(config: &PeerConfig, role: Role, overrides: &[(&str, &str)]) -> Result<InedoSession, String> {
    let mut params: std::collections::BTreeMap<String, String> = config
        .params
        .iter()
        .filter(|(k, _)| peercheck_inedo::config::PARAMS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in overrides {
        params.insert((*k).to_owned(), (*v).to_owned());
    }
    InedoSession::new(&SessionOptions {
        local_role: Some(role),
        profile: config.profile.clone(),
        params,
    })
}

/// Seeded randomness for IVs and session ids (never a clock or the OS).
#[derive(Debug)]
struct Dice(ChaCha8Rng);

impl Dice {
    fn new(seed: u64) -> Self {
        Dice(ChaCha8Rng::seed_from_u64(seed))
    }

    fn iv(&mut self) -> Iv {
        let mut b = [0u8; 16];
        self.0.fill_bytes(&mut b);
        Iv(b)
    }

    fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.0.next_u32().to_le_bytes())
    }
}

/// Whatever TLS wants written, as a send.
fn drain_tls(session: &mut InedoSession, out: &mut Vec<Output>) {
    while let Some(bytes) = peercheck_wire::WireSession::poll_transmit(session) {
        out.push(Output::Send {
            label: "tls".to_owned(),
            bytes,
        });
    }
}

/// A send, skipped when empty (TLS may hold data until its handshake is done).
fn send(out: &mut Vec<Output>, label: &str, bytes: Vec<u8>) {
    if !bytes.is_empty() {
        out.push(Output::Send {
            label: label.to_owned(),
            bytes,
        });
    }
}
