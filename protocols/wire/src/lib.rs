//! Shared, sans-IO building blocks for the peercheck codecs.
//!
//! Every codec in `protocols/` decodes through [`Reader`], which checks the length before every read
//! and records the byte span of each field it reads, so that errors name the offset and the field, and
//! reports can print annotated hexdumps without a second parser.
//!
//! The crate also defines the protocol-neutral contract the simulator and the runner speak to
//! ([`session::WireSession`], [`Decoded`]), so neither has to know any codec's types.
#![forbid(unsafe_code)]

pub mod error;
pub mod guid;
pub mod hexdump;
pub mod hexparse;
pub mod limits;
pub mod reader;
pub mod session;
pub mod span;
pub mod writer;

pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use guid::Guid;
pub use limits::Limit;
pub use reader::Reader;
pub use session::{Decoded, Direction, MessageInfo, ProtocolDef, Role, Sender, SessionOptions, WireSession};
pub use span::FieldSpan;
pub use writer::WriteExt;
