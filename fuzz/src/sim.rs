//! Sequences of arbitrary operations against a simulator peer (`peercheck_simulator::<p>::new_peer`):
//! inputs (well-formed messages of the other side drawn from the schema, or raw bytes) split at
//! arbitrary points, timer ticks, time jumps, the other side closing. The peer must never panic.

use crate::gen;
use arbitrary::Unstructured;
use peercheck_simulator::peer::{Peer, PeerConfig};
use peercheck_wire::session::{ProtocolDef, Role, SessionOptions};
use std::time::Duration;

type NewPeer = fn(&PeerConfig) -> Result<Box<dyn Peer>, String>;

fn run(proto: &dyn ProtocolDef, new_peer: NewPeer, misbehaviours: &[&str], data: &[u8]) {
    let mut u = Unstructured::new(data);
    let role = if u.arbitrary::<bool>().unwrap_or(false) {
        Role::Client
    } else {
        Role::Server
    };
    let Ok(profile) = u.choose(proto.profiles()) else {
        return;
    };
    let misbehave = match u.int_in_range(0u8..=3) {
        Ok(0) => u.choose(misbehaviours).ok().map(|s| (*s).to_owned()),
        _ => None,
    };
    let config = PeerConfig {
        role: Some(role),
        profile: Some((*profile).to_owned()),
        seed: u.arbitrary().unwrap_or(0),
        misbehave,
        ..PeerConfig::default()
    };
    let Ok(mut peer) = new_peer(&config) else { return };
    // The suite's side: encodes what the other role sends.
    let mut ours = proto
        .new_session(&SessionOptions {
            local_role: Some(role.other()),
            profile: Some((*profile).to_owned()),
            params: Default::default(),
        })
        .ok();
    let schema = gen::schema_of(proto);
    let mut now = Duration::ZERO;
    let _ = peer.start(now);
    for _ in 0..64 {
        let Ok(op) = u.int_in_range(0u8..=9) else { break };
        match op {
            0..=4 => {
                let bytes = match (op, ours.as_mut()) {
                    (0..=2, Some(s)) => {
                        match gen::message(schema, &mut u).ok().and_then(|m| s.encode(&m).ok()) {
                            Some(b) => b,
                            None => continue,
                        }
                    }
                    _ => {
                        let n = u.int_in_range(0..=64).unwrap_or(0);
                        u.bytes(n).unwrap_or(&[]).to_vec()
                    }
                };
                // Deliver in up to three arbitrary pieces.
                let mut rest: &[u8] = &bytes;
                for _ in 0..2 {
                    let cut = u.int_in_range(0..=rest.len()).unwrap_or(rest.len());
                    let (a, b) = rest.split_at(cut);
                    let _ = peer.input(now, a);
                    rest = b;
                }
                let _ = peer.input(now, rest);
            }
            5 | 6 => {
                if let Some(d) = peer.next_deadline() {
                    now = now.max(d);
                }
                let _ = peer.timer(now);
            }
            7 => now += Duration::from_millis(u64::from(u.arbitrary::<u16>().unwrap_or(0))),
            8 => {
                let _ = peer.peer_closed(now);
                return;
            }
            _ => {
                let _ = peer.timer(now);
            }
        }
    }
}

fn names(list: &[peercheck_simulator::peer::Misbehaviour]) -> Vec<&'static str> {
    list.iter().map(|m| m.name).collect()
}

pub fn sim_now(data: &[u8]) {
    let m = names(peercheck_simulator::now::MISBEHAVIOURS);
    run(
        peercheck_now::protocol(),
        peercheck_simulator::now::new_peer,
        &m,
        data,
    );
}

pub fn sim_psrp(data: &[u8]) {
    let m = names(peercheck_simulator::psrp::MISBEHAVIOURS);
    run(
        peercheck_psrp::protocol(),
        peercheck_simulator::psrp::new_peer,
        &m,
        data,
    );
}

pub fn sim_inedo(data: &[u8]) {
    let m = names(peercheck_simulator::inedo::MISBEHAVIOURS);
    run(
        peercheck_inedo::protocol(),
        peercheck_simulator::inedo::new_peer,
        &m,
        data,
    );
}
