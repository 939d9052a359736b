//! Messages of a class or type the profile does not define, kept whole so they round-trip.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::primitives::HexBytes;

/// `unknown`: the header's class, type and flags plus the body bytes, as received.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Unknown {
    pub msg_class: u8,
    pub msg_type: u8,
    pub msg_flags: u16,
    pub body: HexBytes,
}
