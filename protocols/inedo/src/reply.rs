//! The server's handshake reply (spec "Handshake", second table).
//!
//! `encryptionMode` (int8), `iv` (int8[16], AES only), `sessionId` (int32; v2: the chosen protocol
//! version, ERRATA Inedo-10), `serverVersion`. Offsets "17/1" and "21/5" mean with / without the IV
//! (ERRATA Inedo-5). The server version is four int32 or one (ERRATA Inedo-3): a plain reply is 21 or
//! 9 bytes, an AES reply 37 or 25.

use crate::config::{Config, ServerVersionReading, Version, DEFAULT_IV};
use crate::message::HandshakeReply;
use crate::span_writer::SpanWriter;
use crate::types::{EncryptionMode, Iv, ServerVersion};
use peercheck_wire::{DecodeError, EncodeError, Reader};

/// Server version used when the message gives none.
pub const DEFAULT_SERVER_VERSION: [i32; 4] = [1, 0, 0, 0];
/// v2 chosen version used when the message gives none (the top of the v43 range).
pub const DEFAULT_CHOSEN_VERSION: i32 = 2000;

const PART_NAMES: [&str; 4] = ["major", "minor", "build", "revision"];

/// The reply with every default filled in, as it goes on the wire.
pub fn complete(reply: &HandshakeReply, cfg: &Config) -> Result<HandshakeReply, EncodeError> {
    let mode = reply.encryption_mode.unwrap_or(cfg.encryption);
    let iv = match (mode == EncryptionMode::AES, reply.iv) {
        (true, iv) => Some(iv.or(cfg.iv).unwrap_or(DEFAULT_IV)),
        (false, None) => None,
        (false, Some(_)) => {
            return Err(EncodeError::new(
                "iv",
                "the IV is only included if using AES encryption (spec Handshake)",
            ))
        }
    };
    let (session_id, protocol_version) = match cfg.version {
        Version::V1 if reply.protocol_version.is_some() => {
            return Err(EncodeError::new(
                "protocolVersion",
                "v1 replies carry sessionId (ERRATA Inedo-10)",
            ))
        }
        Version::V2 if reply.session_id.is_some() => {
            return Err(EncodeError::new(
                "sessionId",
                "v2 replies carry the chosen protocolVersion (ERRATA Inedo-10)",
            ))
        }
        Version::V1 => (Some(reply.session_id.unwrap_or(0)), None),
        Version::V2 => (
            None,
            Some(reply.protocol_version.unwrap_or(DEFAULT_CHOSEN_VERSION)),
        ),
    };
    let server_version = match (cfg.server_version, reply.server_version) {
        (ServerVersionReading::Int32x4, None) => ServerVersion::Parts(DEFAULT_SERVER_VERSION),
        (ServerVersionReading::Int32, None) => ServerVersion::Single(0),
        (ServerVersionReading::Int32x4, Some(v @ ServerVersion::Parts(_)))
        | (ServerVersionReading::Int32, Some(v @ ServerVersion::Single(_))) => v,
        (ServerVersionReading::Int32x4, Some(ServerVersion::Single(_))) => {
            return Err(EncodeError::new(
                "serverVersion",
                "server-version=int32x4 expects [major, minor, build, revision] (ERRATA Inedo-3)",
            ))
        }
        (ServerVersionReading::Int32, Some(ServerVersion::Parts(_))) => {
            return Err(EncodeError::new(
                "serverVersion",
                "server-version=int32 expects one number (ERRATA Inedo-3)",
            ))
        }
    };
    Ok(HandshakeReply {
        encryption_mode: Some(mode),
        iv,
        session_id,
        protocol_version,
        server_version: Some(server_version),
    })
}

/// Encode a reply already passed through [`complete`].
pub fn encode(reply: &HandshakeReply) -> SpanWriter {
    let mut w = SpanWriter::default();
    let mode = reply.encryption_mode.unwrap_or_default();
    w.put("encryptionMode", &[mode.0], mode.to_string());
    if let Some(iv) = reply.iv {
        w.put_blob("iv", &iv.0);
    }
    if let Some(id) = reply.session_id {
        w.put_i32("sessionId", id);
    }
    if let Some(v) = reply.protocol_version {
        w.put_i32("protocolVersion", v);
    }
    match reply.server_version {
        Some(ServerVersion::Parts(parts)) => {
            for (name, part) in PART_NAMES.iter().zip(parts) {
                w.put_i32(&format!("serverVersion.{name}"), part);
            }
        }
        Some(ServerVersion::Single(v)) => w.put_i32("serverVersion", v),
        None => {}
    }
    w
}

pub fn decode(r: &mut Reader<'_>, cfg: &Config) -> Result<HandshakeReply, DecodeError> {
    let mode = EncryptionMode(r.u8("encryptionMode")?);
    // "AES initialization vector is only included if using AES encryption."
    let iv = if mode == EncryptionMode::AES {
        Some(Iv(r.array::<16>("iv")?))
    } else {
        None
    };
    let mut reply = HandshakeReply {
        encryption_mode: Some(mode),
        iv,
        ..HandshakeReply::default()
    };
    match cfg.version {
        Version::V1 => reply.session_id = Some(r.i32_le("sessionId")?),
        Version::V2 => reply.protocol_version = Some(r.i32_le("protocolVersion")?),
    }
    reply.server_version = Some(match cfg.server_version {
        ServerVersionReading::Int32x4 => {
            let mut parts = [0i32; 4];
            r.scope("serverVersion", |r| {
                for (slot, name) in parts.iter_mut().zip(PART_NAMES) {
                    *slot = r.i32_le(name)?;
                }
                Ok::<_, DecodeError>(())
            })?;
            ServerVersion::Parts(parts)
        }
        ServerVersionReading::Int32 => ServerVersion::Single(r.i32_le("serverVersion")?),
    });
    Ok(reply)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use peercheck_wire::SessionOptions;

    fn cfg(profile: &str, params: &[(&str, &str)]) -> Config {
        Config::from_options(&SessionOptions {
            local_role: None,
            profile: Some(profile.to_owned()),
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        })
        .unwrap()
    }

    #[test]
    fn reply_sizes_follow_errata_inedo_3() {
        for (params, len) in [
            (vec![], 21),
            (vec![("encryption", "aes")], 37),
            (vec![("server-version", "int32")], 9),
            (vec![("server-version", "int32"), ("encryption", "aes")], 25),
        ] {
            let c = cfg("inedo-v1", &params);
            let full = complete(&HandshakeReply::default(), &c).unwrap();
            let w = encode(&full);
            assert_eq!(w.bytes.len(), len, "{params:?}");
            assert_eq!(decode(&mut Reader::new(&w.bytes), &c).unwrap(), full);
        }
    }

    #[test]
    fn the_aes_iv_comes_from_the_message_then_the_param_then_the_fixed_default() {
        let c = cfg(
            "inedo-v1",
            &[("encryption", "aes"), ("iv", "ffeeddccbbaa99887766554433221100")],
        );
        let full = complete(&HandshakeReply::default(), &c).unwrap();
        assert_eq!(
            full.iv,
            Some(Iv::parse("ffeeddccbbaa99887766554433221100").unwrap())
        );
        let c = cfg("inedo-v1", &[("encryption", "aes")]);
        assert_eq!(
            complete(&HandshakeReply::default(), &c).unwrap().iv,
            Some(DEFAULT_IV)
        );
        let no_aes = HandshakeReply {
            iv: Some(DEFAULT_IV),
            ..HandshakeReply::default()
        };
        assert!(complete(&no_aes, &cfg("inedo-v1", &[])).is_err());
    }

    #[test]
    fn v2_returns_the_chosen_version_and_shapes_must_match_the_reading() {
        let c = cfg("inedo-v2", &[]);
        let full = complete(&HandshakeReply::default(), &c).unwrap();
        assert_eq!((full.session_id, full.protocol_version), (None, Some(2000)));
        let single = HandshakeReply {
            server_version: Some(ServerVersion::Single(5)),
            ..HandshakeReply::default()
        };
        assert!(complete(&single, &c).is_err());
    }
}
