//! Shared helpers of the "reproduce bugs / generate golden vectors" commands: `encode`, `golden`,
//! `record`, `replay`, `diff` and `shrink`. Nothing here owns a codec: every byte goes through a
//! protocol's `WireSession`.

pub mod fielddiff;
pub mod proto;
pub mod record;
pub mod redact;
pub mod scenario_yaml;
pub mod shim;
pub mod shrinker;
pub mod target;
