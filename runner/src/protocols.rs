//! The protocols compiled into this binary: codecs (for sessions) and simulator peers.

use peercheck_simulator::peer::{Misbehaviour, Peer, PeerConfig};
use peercheck_wire::session::ProtocolDef;

/// Every protocol this build knows, in a stable order.
pub fn all() -> Vec<&'static dyn ProtocolDef> {
    vec![
        #[cfg(feature = "now")]
        peercheck_now::protocol(),
        #[cfg(feature = "psrp")]
        peercheck_psrp::protocol(),
        #[cfg(feature = "inedo")]
        peercheck_inedo::protocol(),
    ]
}

/// The protocol's message schema, built once per process (schemars is costly, and every send
/// and expect step of every scenario is checked against it).
pub fn message_schema(proto: &dyn ProtocolDef) -> &'static serde_json::Value {
    static SCHEMAS: std::sync::OnceLock<Vec<(&'static str, serde_json::Value)>> = std::sync::OnceLock::new();
    static NULL: serde_json::Value = serde_json::Value::Null;
    SCHEMAS
        .get_or_init(|| {
            all()
                .into_iter()
                .map(|p| (p.name(), p.message_schema()))
                .collect()
        })
        .iter()
        .find(|(n, _)| *n == proto.name())
        .map_or(&NULL, |(_, s)| s)
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|p| p.name()).collect()
}

/// Look a protocol up by name; the error lists the known ones.
pub fn get(name: &str) -> Result<&'static dyn ProtocolDef, String> {
    all()
        .into_iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| format!("unknown protocol `{name}` (known: {})", names().join(", ")))
}

/// A simulator peer for `protocol`.
pub fn new_peer(protocol: &str, config: &PeerConfig) -> Result<Box<dyn Peer>, String> {
    // Generic misbehaviours (simulator/src/bugs.rs) wrap the protocol's correct peer.
    if let Some(bug) = peercheck_simulator::bugs::requested(config) {
        let inner = new_peer(protocol, &peercheck_simulator::bugs::without_misbehave(config))?;
        return peercheck_simulator::bugs::wrap(bug, get(protocol)?, config, inner);
    }
    match protocol {
        #[cfg(feature = "now")]
        "now" => peercheck_simulator::now::new_peer(config),
        #[cfg(feature = "psrp")]
        "psrp" => peercheck_simulator::psrp::new_peer(config),
        #[cfg(feature = "inedo")]
        "inedo" => peercheck_simulator::inedo::new_peer(config),
        other => {
            let _ = config;
            Err(format!("no simulator for protocol `{other}`"))
        }
    }
}

/// The misbehaviour modes of a protocol's simulator peers.
pub fn misbehaviours(protocol: &str) -> &'static [Misbehaviour] {
    let own: &'static [Misbehaviour] = match protocol {
        #[cfg(feature = "now")]
        "now" => peercheck_simulator::now::MISBEHAVIOURS,
        #[cfg(feature = "psrp")]
        "psrp" => peercheck_simulator::psrp::MISBEHAVIOURS,
        #[cfg(feature = "inedo")]
        "inedo" => peercheck_simulator::inedo::MISBEHAVIOURS,
        _ => &[],
    };
    match get(protocol) {
        Ok(p) => peercheck_simulator::bugs::with_generic(p.name(), own),
        Err(_) => own,
    }
}

/// The closest names to `wanted` among `options` (for "did you mean" hints).
pub fn closest<'a>(wanted: &str, options: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut scored: Vec<(f64, &str)> = options
        .into_iter()
        .map(|o| (strsim::jaro_winkler(wanted, o), o))
        .filter(|(s, _)| *s > 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(3).map(|(_, o)| o).collect()
}
