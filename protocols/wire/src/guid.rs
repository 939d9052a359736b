//! GUIDs as 16 wire bytes, shown in the usual text form.
//!
//! Both MS-PSRP and the Inedo protocol put GUIDs on the wire in .NET byte order: the first three
//! groups little-endian, the last two as written.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    pub const NIL: Guid = Guid([0; 16]);

    /// From the 16 bytes as they appear on the wire in .NET (mixed-endian) order.
    pub fn from_dotnet_bytes(b: [u8; 16]) -> Self {
        Guid(b)
    }

    pub fn to_dotnet_bytes(self) -> [u8; 16] {
        self.0
    }

    /// Parse `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (braces optional) into .NET wire order.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim().trim_start_matches('{').trim_end_matches('}');
        let hexs: String = t.chars().filter(|c| *c != '-').collect();
        if hexs.len() != 32 || t.len() != 36 {
            return Err(format!("`{text}` is not a GUID (expected 8-4-4-4-12 hex digits)"));
        }
        let raw = hex::decode(&hexs).map_err(|e| format!("`{text}` is not a GUID: {e}"))?;
        let mut b = [0u8; 16];
        b.copy_from_slice(&raw);
        // Text order is big-endian for the first three groups; .NET stores them little-endian.
        b[0..4].reverse();
        b[4..6].reverse();
        b[6..8].reverse();
        Ok(Guid(b))
    }

    /// A GUID from a 128-bit value (deterministic test ids), in text order.
    pub fn from_u128(v: u128) -> Self {
        let mut g = Guid(v.to_be_bytes());
        g.0[0..4].reverse();
        g.0[4..6].reverse();
        g.0[6..8].reverse();
        g
    }

    pub fn is_nil(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

impl FromStr for Guid {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Guid::parse(s)
    }
}

impl Serialize for Guid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Guid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Guid::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inedo_protocol_guid_is_in_dotnet_order() {
        // ERRATA Inedo 2: the protocol GUID's wire bytes.
        let g = Guid::parse("6cebd24e-4af7-4a13-b9af-81d3dfc644be").unwrap();
        assert_eq!(hex::encode(g.0), "4ed2eb6cf74a134ab9af81d3dfc644be");
        assert_eq!(g.to_string(), "6cebd24e-4af7-4a13-b9af-81d3dfc644be");
    }

    #[test]
    fn bad_text_is_an_error() {
        assert!(Guid::parse("not-a-guid").is_err());
        assert!(Guid::parse("6cebd24e4af74a13b9af81d3dfc644be").is_err());
    }
}
