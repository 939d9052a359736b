//! Profiles and params: every open reading of ERRATA "Inedo Agent network protocol" is a named
//! switch here, with its default.

use crate::crypto::AesKey;
use crate::types::{EncryptionMode, Iv};
use peercheck_wire::SessionOptions;

/// Profile names, default first.
pub const PROFILES: &[&str] = &["inedo-v1", "inedo-v2"];

/// Protocol generation (ERRATA Inedo-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Handshake with version 1000 and a session id; client frames carry the agent-type byte.
    V1,
    /// Handshake with min/max protocol versions; the reply returns the chosen version; client
    /// frames have no agent-type byte.
    V2,
}

/// ERRATA Inedo-3: how the reply's server version is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerVersionReading {
    /// `server-version=int32x4` (default): four little-endian int32 (the 2018 page; most plausible).
    Int32x4,
    /// `server-version=int32`: one int32 (the current page's table).
    Int32,
}

/// ERRATA Inedo-7: whether the two directions chain their IVs separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IvChain {
    /// `iv-chain=per-direction` (default): both directions start from the reply's IV; each frame's
    /// `nextIv` keys the next frame in the same direction.
    PerDirection,
    /// `iv-chain=shared`: one chain; each frame's `nextIv` keys the next frame in either direction.
    Shared,
}

/// Where a new session starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `phase=handshake` (default): a fresh connection.
    Handshake,
    /// `phase=frames`: the handshake is taken as done with `encryption` and `iv`; used to decode a
    /// lone frame (golden vectors, fuzzing).
    Frames,
}

/// Everything a session needs from the profile and params.
#[derive(Debug, Clone)]
pub struct Config {
    pub version: Version,
    /// `encryption=none|ssl|aes`: the mode a server's reply asks for when the message omits it, and
    /// the mode in `phase=frames`. A decoded reply always wins.
    pub encryption: EncryptionMode,
    /// `key=<32 or 64 hex digits>`: the pre-shared AES key (ERRATA Inedo-7).
    pub key: Option<AesKey>,
    pub server_version: ServerVersionReading,
    pub iv_chain: IvChain,
    /// `iv=<32 hex digits>`: the first IV (the reply's IV when the message omits it; the chain start
    /// in `phase=frames`).
    pub iv: Option<Iv>,
    pub phase: Phase,
    /// `pending=get-agent-root-path`: a Get Agent Root Path request is already outstanding, so the
    /// next response with command 3 is typed as its reply (for decoding a lone reply frame).
    pub pending_root_path: bool,
}

/// The IV a reply uses when neither the message nor the params give one: fixed, so encoding stays
/// deterministic (the codec never draws random numbers; peers pass a seeded `iv`).
pub const DEFAULT_IV: Iv = Iv([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);

pub const PARAMS: &[&str] = &[
    "encryption",
    "key",
    "server-version",
    "iv-chain",
    "iv",
    "phase",
    "pending",
];

impl Config {
    pub fn from_options(options: &SessionOptions) -> Result<Self, String> {
        let version = match options.profile.as_deref() {
            None | Some("inedo-v1") | Some("inedo") => Version::V1,
            Some("inedo-v2") => Version::V2,
            Some(other) => {
                return Err(format!(
                    "unknown inedo profile `{other}` (known: {})",
                    PROFILES.join(", ")
                ))
            }
        };
        if let Some(unknown) = options.params.keys().find(|k| !PARAMS.contains(&k.as_str())) {
            return Err(format!(
                "unknown inedo param `{unknown}` (known: {})",
                PARAMS.join(", ")
            ));
        }
        let encryption = match options.param("encryption") {
            None | Some("none") => EncryptionMode::NONE,
            Some("ssl") | Some("tls") => EncryptionMode::SSL,
            Some("aes") => EncryptionMode::AES,
            Some(other) => return Err(format!("encryption=`{other}`: expected none, aes or ssl")),
        };
        let key = options.param("key").map(AesKey::parse).transpose()?;
        let server_version = match options.param("server-version") {
            None | Some("int32x4") => ServerVersionReading::Int32x4,
            Some("int32") => ServerVersionReading::Int32,
            Some(other) => return Err(format!("server-version=`{other}`: expected int32x4 or int32")),
        };
        let iv_chain = match options.param("iv-chain") {
            None | Some("per-direction") => IvChain::PerDirection,
            Some("shared") => IvChain::Shared,
            Some(other) => return Err(format!("iv-chain=`{other}`: expected per-direction or shared")),
        };
        let iv = options
            .param("iv")
            .map(Iv::parse)
            .transpose()
            .map_err(|e| format!("iv: {e}"))?;
        let phase = match options.param("phase") {
            None | Some("handshake") => Phase::Handshake,
            Some("frames") => Phase::Frames,
            Some(other) => return Err(format!("phase=`{other}`: expected handshake or frames")),
        };
        let pending_root_path = match options.param("pending") {
            None | Some("none") => false,
            Some("get-agent-root-path") => true,
            Some(other) => return Err(format!("pending=`{other}`: expected get-agent-root-path")),
        };
        Ok(Config {
            version,
            encryption,
            key,
            server_version,
            iv_chain,
            iv,
            phase,
            pending_root_path,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn options(profile: Option<&str>, params: &[(&str, &str)]) -> SessionOptions {
        SessionOptions {
            local_role: None,
            profile: profile.map(str::to_owned),
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn defaults_are_the_most_plausible_readings() {
        let c = Config::from_options(&options(None, &[])).unwrap();
        assert_eq!(c.version, Version::V1);
        assert_eq!(c.server_version, ServerVersionReading::Int32x4);
        assert_eq!(c.iv_chain, IvChain::PerDirection);
        assert_eq!(c.encryption, EncryptionMode::NONE);
        assert_eq!(c.phase, Phase::Handshake);
    }

    #[test]
    fn switches_parse_and_typos_are_refused() {
        let c = Config::from_options(&options(
            Some("inedo-v2"),
            &[
                ("server-version", "int32"),
                ("iv-chain", "shared"),
                ("encryption", "aes"),
            ],
        ))
        .unwrap();
        assert_eq!(
            (c.version, c.server_version, c.iv_chain),
            (Version::V2, ServerVersionReading::Int32, IvChain::Shared)
        );
        assert!(Config::from_options(&options(Some("inedo-v3"), &[])).is_err());
        assert!(Config::from_options(&options(None, &[("ivchain", "shared")])).is_err());
        assert!(Config::from_options(&options(None, &[("key", "00")])).is_err());
        assert!(Config::from_options(&options(None, &[("iv", "00")])).is_err());
    }
}
