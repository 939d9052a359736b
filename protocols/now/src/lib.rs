//! Sans-IO codec for Devolutions NOW-PROTO (messages on the "Devolutions::Now::Agent" RDP dynamic
//! virtual channel).
//!
//! - [`header`], [`primitives`], [`status`]: NOW_HEADER, NOW_VARU32/VARSTR/VARBUF/GUID, NOW_STATUS.
//! - [`msg`]: every message of 1.6 (plus the 1.0 text's), one module per class, and the catalogue.
//! - [`profile`]: `now-1.6` (default, as shipped), `now-1.3`, `now-1.0-text`, and layout switches.
//! - [`framer`]: msgSize framing with named limits; [`session`] / [`def`]: the peercheck contracts.
//!
//! Where the shipped implementations disagree with the spec text, the choice is cited as an
//! ERRATA entry (/work/shared/ERRATA.md, "NOW-n") and is a profile or a parameter.
#![forbid(unsafe_code)]

pub mod def;
pub mod flags;
pub mod framer;
pub mod header;
pub mod limits;
pub mod msg;
pub mod primitives;
pub mod profile;
pub mod session;
pub mod status;

pub use framer::{Frame, Framer};
pub use msg::{decode_message, encode_message, EncodeCx, NowMessage};
pub use profile::{Layout, Profile};
pub use session::{parse_structured, structured_fields, NowSession};
pub use status::Status;

/// The NOW-PROTO protocol definition.
pub fn protocol() -> &'static dyn peercheck_wire::ProtocolDef {
    &def::NOW_PROTOCOL
}
