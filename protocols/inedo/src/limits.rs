//! Named maxima for every length read from the peer.
//!
//! The spec (Inedo Agent network protocol v1, "Client to Server Message" / "Server to Client Message")
//! gives every length as a signed `int32` and sets no maximum; these limits are the suite's own, so a
//! lying length is rejected before anything is buffered or allocated for it.

use peercheck_wire::Limit;

/// Largest frame length field accepted: the Data length in plain frames, the encrypted length in AES
/// frames (ERRATA Inedo-6).
pub const MAX_FRAME_LEN: Limit = Limit::new("INEDO_MAX_FRAME_LEN", 16 * 1024 * 1024);

/// Largest byte count of a .NET `BinaryWriter` length-prefixed string (ERRATA Inedo-1).
pub const MAX_STRING_LEN: Limit = Limit::new("INEDO_MAX_STRING_LEN", 1024 * 1024);
