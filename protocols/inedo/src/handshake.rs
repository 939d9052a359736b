//! The client handshake (spec "Handshake", first table; v2: ERRATA Inedo-10).
//!
//! v1, 24 bytes: protocol ID (Guid), protocol version (int32, "1000 (currently hardcoded)"),
//! session ID (int32). v2, 24 bytes: protocol ID, minimum (1000) and maximum (2000) protocol version.

use crate::config::Version;
use crate::message::Handshake;
use crate::span_writer::SpanWriter;
use peercheck_wire::{DecodeError, EncodeError, Guid, Reader};

/// "Protocol ID: 6CEBD24E-4AF7-4A13-B9AF-81D3DFC644BE", in .NET byte order on the wire
/// (ERRATA Inedo-2: `4E D2 EB 6C F7 4A 13 4A B9 AF 81 D3 DF C6 44 BE`).
pub const PROTOCOL_ID: Guid = Guid([
    0x4e, 0xd2, 0xeb, 0x6c, 0xf7, 0x4a, 0x13, 0x4a, 0xb9, 0xaf, 0x81, 0xd3, 0xdf, 0xc6, 0x44, 0xbe,
]);

/// Both handshake generations are 24 bytes.
pub const HANDSHAKE_LEN: usize = 24;

/// v1 "Protocol Version: 1000 (currently hardcoded)".
pub const V1_PROTOCOL_VERSION: i32 = 1000;
/// v2 range the shipped agent (v43) advertises (ERRATA Inedo-10).
pub const V2_MIN_VERSION: i32 = 1000;
pub const V2_MAX_VERSION: i32 = 2000;

pub fn encode(h: &Handshake, version: Version) -> Result<SpanWriter, EncodeError> {
    let mut w = SpanWriter::default();
    w.put(
        "protocolId",
        &h.protocol_id.to_dotnet_bytes(),
        h.protocol_id.to_string(),
    );
    match version {
        Version::V1 => {
            if h.min_version.is_some() || h.max_version.is_some() {
                return Err(EncodeError::new(
                    "minVersion",
                    "minVersion/maxVersion belong to the inedo-v2 handshake (ERRATA Inedo-10)",
                ));
            }
            w.put_i32(
                "protocolVersion",
                h.protocol_version.unwrap_or(V1_PROTOCOL_VERSION),
            );
            w.put_i32("sessionId", h.session_id.unwrap_or(0));
        }
        Version::V2 => {
            if h.protocol_version.is_some() || h.session_id.is_some() {
                return Err(EncodeError::new(
                    "protocolVersion",
                    "protocolVersion/sessionId belong to the inedo-v1 handshake; v2 sends minVersion/maxVersion \
                     (ERRATA Inedo-10)",
                ));
            }
            w.put_i32("minVersion", h.min_version.unwrap_or(V2_MIN_VERSION));
            w.put_i32("maxVersion", h.max_version.unwrap_or(V2_MAX_VERSION));
        }
    }
    Ok(w)
}

/// Decode a handshake. With `check_id`, a wrong protocol ID is an error as soon as its 16 bytes are
/// in: "If the protocol ID is not valid, the server will immediately disconnect" (spec "Handshake";
/// ERRATA Inedo-11).
pub fn decode(r: &mut Reader<'_>, version: Version, check_id: bool) -> Result<Handshake, DecodeError> {
    let start = r.offset();
    let raw: [u8; 16] = r
        .bytes_quiet(16, "protocolId")?
        .try_into()
        .map_err(|_| r.invalid_at(start, "protocolId", "short read"))?;
    let id = Guid::from_dotnet_bytes(raw);
    r.note(start, "protocolId", id.to_string());
    if check_id && id != PROTOCOL_ID {
        return Err(r.invalid_at(
            start,
            "protocolId",
            format!(
                "bad protocol id {id} (wire {}); expected {PROTOCOL_ID} in .NET byte order (ERRATA Inedo-2); \
                 \"If the protocol ID is not valid, the server will immediately disconnect\"",
                hex::encode(raw)
            ),
        ));
    }
    let mut h = Handshake {
        protocol_id: id,
        ..Handshake::default()
    };
    match version {
        Version::V1 => {
            h.protocol_version = Some(r.i32_le("protocolVersion")?);
            h.session_id = Some(r.i32_le("sessionId")?);
        }
        Version::V2 => {
            h.min_version = Some(r.i32_le("minVersion")?);
            h.max_version = Some(r.i32_le("maxVersion")?);
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn v1_default_handshake_is_the_guid_then_1000_then_the_session_id() {
        let h = Handshake {
            session_id: Some(7),
            ..Handshake::default()
        };
        let w = encode(&h, Version::V1).unwrap();
        assert_eq!(
            hex::encode(&w.bytes),
            "4ed2eb6cf74a134ab9af81d3dfc644be e8030000 07000000".replace(' ', "")
        );
        assert_eq!(w.bytes.len(), HANDSHAKE_LEN);
        let back = decode(&mut Reader::new(&w.bytes), Version::V1, true).unwrap();
        assert_eq!(back.protocol_version, Some(1000));
        assert_eq!(back.session_id, Some(7));
    }

    #[test]
    fn v2_carries_min_and_max() {
        let w = encode(&Handshake::default(), Version::V2).unwrap();
        assert_eq!(hex::encode(&w.bytes[16..]), "e8030000d0070000");
        let back = decode(&mut Reader::new(&w.bytes).traced(), Version::V2, true).unwrap();
        assert_eq!((back.min_version, back.max_version), (Some(1000), Some(2000)));
    }

    #[test]
    fn fields_of_the_other_generation_are_refused() {
        let v2_fields = Handshake {
            min_version: Some(1000),
            ..Handshake::default()
        };
        assert!(encode(&v2_fields, Version::V1).is_err());
        let v1_fields = Handshake {
            session_id: Some(1),
            ..Handshake::default()
        };
        assert!(encode(&v1_fields, Version::V2).is_err());
    }

    #[test]
    fn a_wrong_guid_fails_on_its_sixteen_bytes_alone() {
        // The GUID in text (big-endian) order: a classic serialisation bug.
        let text_order = hex::decode("6cebd24e4af74a13b9af81d3dfc644be").unwrap();
        let e = decode(&mut Reader::new(&text_order), Version::V1, true).unwrap_err();
        assert_eq!(e.field, "protocolId");
        assert!(!e.is_truncation());
        // Without the check it decodes (a lenient peer) and asks for the rest.
        let e = decode(&mut Reader::new(&text_order), Version::V1, false).unwrap_err();
        assert!(e.is_truncation());
    }
}
