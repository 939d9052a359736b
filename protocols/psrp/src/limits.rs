//! Named maxima for every length, count and depth a PSRP peer controls.

use peercheck_wire::Limit;

/// Largest `BlobLength` accepted in one fragment (§2.2.4). PowerShell sends at most 32747 bytes per
/// blob (ERRATA PSRP-6) but other senders pick bigger fragments; 16 MiB keeps a lying header harmless.
pub const MAX_BLOB_LENGTH: Limit = Limit::new("PSRP_MAX_BLOB_LENGTH", 16 * 1024 * 1024);

/// §2.2.4: "BlobLength … MUST be set to a value greater than or equal to 0 and less than or equal to
/// 32768". Applied with the session param `blob-limit=spec`; PowerShell itself enforces only the
/// per-object limits (ERRATA PSRP-6), which is the default.
pub const SPEC_MAX_BLOB_LENGTH: Limit = Limit::new("PSRP_SPEC_MAX_BLOB_LENGTH", 32768);

/// Largest reassembled object (§2.2.4, ERRATA PSRP-6: PowerShell's client allows 200 MB per object).
pub const MAX_OBJECT_SIZE: Limit = Limit::new("PSRP_MAX_OBJECT_SIZE", 200 * 1024 * 1024);

/// Deepest CLIXML element nesting accepted (§2.2.5; PowerShell's serialization depth is far lower).
pub const MAX_CLIXML_DEPTH: Limit = Limit::new("PSRP_MAX_CLIXML_DEPTH", 64);

/// Most CLIXML elements in one message (bounds the tree built from a small but dense message).
pub const MAX_CLIXML_NODES: Limit = Limit::new("PSRP_MAX_CLIXML_NODES", 1_000_000);

/// Longest OutOfProc line (one XML packet, DESIGN.md framing). A PowerShell fragment of 32768 bytes
/// is 43692 characters of base64; 1 MiB leaves room for senders with bigger fragments.
pub const MAX_OOP_LINE: Limit = Limit::new("PSRP_MAX_OOP_LINE", 1024 * 1024);

/// Smallest fragment size an encoder accepts: the 21-byte header plus one byte of blob.
pub const MIN_FRAGMENT_SIZE: usize = crate::fragment::FRAGMENT_HEADER_LEN + 1;

/// PowerShell's fragment size, header included (ERRATA PSRP-6).
pub const DEFAULT_FRAGMENT_SIZE: usize = 32768;
