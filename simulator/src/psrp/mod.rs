//! PSRP mock peers: a server (RunspacePool with scripted pipelines) and a client, over OutOfProc
//! lines (`framing=outofproc`, default) or raw fragments (`framing=fragments`).
//!
//! Params: the codec's (`framing`, `max-fragment-size`, `rpid`, `object-id`, `bom`, `blob-limit`).
//! Scripts (YAML, `PeerConfig::script`):
//! - server ([`script::ServerScript`]): `steps` run for every CREATE_PIPELINE (`output`, `error`,
//!   `debug`, `verbose`, `warning`, `progress`, `information`, `host-call`, `secure-output`), final
//!   `state` (completed | failed | stopped), `echo-input`, `commands` for GET_COMMAND_METADATA,
//!   `max-runspaces-cap`;
//! - client ([`script::ClientScript`]): `commands`, `input`, `host-responses` by method name,
//!   `expect-state`, `expect-outputs`, `connect`, `max-runspaces`, `exchange-key`, `rsa-bits`,
//!   `wait-data-ack`, `pool-requests` (set-max-runspaces, set-min-runspaces, get-available-runspaces,
//!   reset-runspace-state, get-command-metadata) made before the pipeline.
//!
//! The server enforces the pool and pipeline rules of §3.2.5 (wrong-state messages break the pool),
//! answers OutOfProc Command/Signal/Close with their acks and acknowledges every Data line; Data for a
//! pipeline never announced with `<Command>` is acknowledged and dropped, as PowerShell does. WSMan
//! disconnect/reconnect has no OutOfProc equivalent; CONNECT_RUNSPACEPOOL is supported.

pub mod client;
pub mod crypto;
pub mod script;
pub mod server;
pub mod wire;

#[cfg(test)]
mod tests;

use crate::peer::{Misbehaviour, Observable, Peer, PeerConfig};
use peercheck_wire::Role;

const fn server(name: &'static str, description: &'static str) -> Misbehaviour {
    Misbehaviour {
        name,
        role: Role::Server,
        observable: Observable::Wire,
        description,
    }
}

const fn client(name: &'static str, description: &'static str) -> Misbehaviour {
    Misbehaviour {
        name,
        role: Role::Client,
        observable: Observable::Wire,
        description,
    }
}

/// Misbehaviour modes this protocol's peers can exhibit.
pub const MISBEHAVIOURS: &[Misbehaviour] = &[
    server("psrp-fragment-id-from-1", "Numbers fragments from 1 instead of 0 (§2.2.4: \"MUST start with 0\")"),
    server("psrp-no-end-flag", "Never sets the End flag on the last fragment (§2.2.4)"),
    server("psrp-2013-message-types", "Answers CONNECT_RUNSPACEPOOL with RUNSPACEPOOL_INIT_DATA under the 2013 table's value 0x00010031 (ERRATA PSRP-1)"),
    server("psrp-reject-bom", "Breaks the pool when message Data starts with a UTF-8 BOM (ERRATA PSRP-4 says accept it)"),
    server("psrp-object-id-zero", "Sends every object with ObjectId 0 (§2.2.4: \"MUST be greater than 0\"; ERRATA PSRP-7)"),
    server("psrp-fragment-header-le", "Writes the fragment header little-endian (ERRATA PSRP-2: big-endian)"),
    server("psrp-no-runspacepool-opened", "Never sends RUNSPACEPOOL_STATE Opened after INIT_RUNSPACEPOOL (§3.2.5.2)"),
    server("psrp-pipeline-state-missing", "Ends pipelines without a PIPELINE_STATE (§3.2.5.2 rule 6: MUST send PIPELINE_STATE)"),
    server("psrp-wrong-pid", "Sends pipeline messages with a PID that is not the pipeline's (§2.2.1)"),
    server("psrp-blob-length-lies", "BlobLength one larger than the blob (§2.2.4)"),
    server("psrp-no-close-ack", "Never answers an OutOfProc Close with CloseAck"),
    server("psrp-no-data-ack", "Never answers OutOfProc Data with DataAck (PowerShell clients wait for it)"),
    client("psrp-destination-swapped", "Sends client messages with Destination = client (§2.2.1)"),
    client("psrp-client-no-capability", "Sends INIT_RUNSPACEPOOL without SESSION_CAPABILITY first (§3.1.5.3.3: it MUST be the first message)"),
    client("psrp-client-ignore-host-call", "Never answers host calls that return a value (§2.2.2.26 / §2.2.2.27)"),
    client("psrp-client-2013-message-types", "Connects with CONNECT_RUNSPACEPOOL under the 2013 table's value 0x00010030 (ERRATA PSRP-1)"),
];

/// Build a peer for the configured role.
pub fn new_peer(config: &PeerConfig) -> Result<Box<dyn Peer>, String> {
    let role = config.role.unwrap_or(Role::Server);
    let bug = config.misbehave.as_deref();
    if let Some(b) = bug {
        match MISBEHAVIOURS.iter().find(|m| m.name == b) {
            Some(m) if m.role == role => {}
            Some(m) => {
                return Err(format!(
                    "misbehaviour `{b}` belongs to the {} role",
                    m.role.as_str()
                ))
            }
            None => return Err(format!("unknown psrp misbehaviour `{b}`")),
        }
    }
    let is = |name: &str| bug == Some(name);
    let wire_bugs = wire::WireBugs {
        fragment_id_from_1: is("psrp-fragment-id-from-1"),
        no_end_flag: is("psrp-no-end-flag"),
        object_id_zero: is("psrp-object-id-zero"),
        header_le: is("psrp-fragment-header-le"),
        blob_length_lies: is("psrp-blob-length-lies"),
        types_2013: is("psrp-2013-message-types") || is("psrp-client-2013-message-types"),
        no_data_ack: is("psrp-no-data-ack"),
        destination_swapped: is("psrp-destination-swapped"),
    };
    let t = wire::Transport::new(role, config.profile.as_deref(), &config.params, wire_bugs)?;
    match role {
        Role::Server => {
            let bugs = server::ServerBugs {
                no_runspacepool_opened: is("psrp-no-runspacepool-opened"),
                pipeline_state_missing: is("psrp-pipeline-state-missing"),
                wrong_pid: is("psrp-wrong-pid"),
                reject_bom: is("psrp-reject-bom"),
                no_close_ack: is("psrp-no-close-ack"),
            };
            let script = script::parse(config.script.as_ref())?;
            Ok(Box::new(server::PsrpServer::new(t, script, bugs, config.seed)))
        }
        Role::Client => {
            let bugs = client::ClientBugs {
                no_capability: is("psrp-client-no-capability"),
                ignore_host_calls: is("psrp-client-ignore-host-call"),
            };
            let mut script: script::ClientScript = script::parse(config.script.as_ref())?;
            if is("psrp-client-2013-message-types") {
                script.connect = true;
            }
            Ok(Box::new(client::PsrpClient::new(t, script, bugs, config.seed)))
        }
    }
}
