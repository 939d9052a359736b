//! Sans-IO codec for the Inedo Agent network protocol, v1 and v2
//! (`specs/inedo-agent-network-protocol-v1.md`, ERRATA "Inedo Agent network protocol").
//!
//! No open implementation exists; every open reading of the spec is a named switch (see
//! [`config`]) and the mock peers in `simulator/src/inedo` are the reference.
//!
//! - [`handshake`] / [`reply`]: the opening exchange (v1 and v2, both server-version readings).
//! - [`frame`]: plain and AES frames; [`crypto`]: AES-CBC/PKCS#7 under the pre-shared key.
//! - [`tls`]: SSL mode, rustls driven sans-IO.
//! - [`session`]: the [`peercheck_wire::WireSession`] tying them together; [`def`]: the
//!   [`peercheck_wire::ProtocolDef`].
#![forbid(unsafe_code)]

pub mod config;
pub mod crypto;
pub mod def;
pub mod dotnet_string;
pub mod frame;
pub mod handshake;
pub mod limits;
pub mod message;
pub mod reply;
pub mod session;
pub mod span_writer;
pub mod tls;
pub mod types;

pub use def::protocol;
pub use message::Message;
pub use session::InedoSession;
