//! Mock peers for every protocol, in both roles, built on the codecs in `protocols/`.
//!
//! `peer` is the sans-IO contract; `now`, `psrp` and `inedo` hold the peers; `faults` the scripted
//! fault model; `driver` serves peers over TCP or stdio with tokio.
#![forbid(unsafe_code)]

pub mod bugs;
pub mod driver;
pub mod faults;
pub mod peer;

#[cfg(feature = "inedo")]
pub mod inedo;
#[cfg(feature = "now")]
pub mod now;
#[cfg(feature = "psrp")]
pub mod psrp;

pub use driver::{drive, DriveConfig, DriveOutcome, Link};
pub use peer::{Misbehaviour, Observable, Output, Peer, PeerConfig};
