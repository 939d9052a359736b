//! inedo mock peers (placeholder until the peers land).

use crate::peer::{Misbehaviour, Peer, PeerConfig};

/// Misbehaviour modes this protocol's peers can exhibit.
pub const MISBEHAVIOURS: &[Misbehaviour] = &[];

/// Build a peer for the configured role.
pub fn new_peer(_config: &PeerConfig) -> Result<Box<dyn Peer>, String> {
    Err("the inedo simulator is not built yet".into())
}
