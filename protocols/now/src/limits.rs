//! Named maxima for every length read from a NOW peer.
//!
//! NOW-PROTO itself bounds nothing but NOW_VARU32 (30 bits). A peer that announces a 4 GiB message
//! must be refused as soon as its 8-byte header is in, not after buffering it.

use peercheck_wire::Limit;

/// Largest `msgSize` (body bytes, header excluded) accepted. 16 MiB: far above any message the
/// shipped implementations send (exec data is chunked), far below what would hurt.
/// Overridable per session with the `max-msg-size` parameter.
pub const MAX_MSG_SIZE: Limit = Limit::new("NOW_MAX_MSG_SIZE", 16 * 1024 * 1024);

/// Largest NOW_VARSTR `len` accepted (it can never exceed the body either).
pub const MAX_VARSTR_LEN: Limit = Limit::new("NOW_MAX_VARSTR_LEN", 16 * 1024 * 1024);

/// Largest NOW_VARBUF `size` accepted.
pub const MAX_VARBUF_LEN: Limit = Limit::new("NOW_MAX_VARBUF_LEN", 16 * 1024 * 1024);

/// NOW_VARU32 range, [0, 0x3FFFFFFF] (NOW-PROTO 1.3 NOW_VARU32; ERRATA NOW-4). Enforced when encoding.
pub const VARU32_MAX: Limit = Limit::new("NOW_VARU32_MAX", 0x3FFF_FFFF);

/// Size of NOW_HEADER: "msgSize (4 bytes): The message size, excluding the header size (8 bytes)."
pub const HEADER_SIZE: usize = 8;
