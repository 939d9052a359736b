//! Protocol names as the tool commands take them (`psrp` = raw fragments, `psrp-outofproc`, like
//! `peercheck decode`) and sessions built from them.

use crate::cli::params_for;
use crate::protocols;
use peercheck_wire::session::{Direction, ProtocolDef, Role, SessionOptions, WireSession};
use std::collections::BTreeMap;

/// A protocol with the session parameters its command-line name implies.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub proto: &'static dyn ProtocolDef,
    pub params: BTreeMap<String, String>,
}

/// `now`, `psrp` (framing=fragments), `psrp-outofproc` (framing=outofproc), `inedo`; then the
/// `--param` pairs (which win over the implied framing).
pub fn resolve(name: &str, param_args: &[String]) -> Result<Resolved, String> {
    let (proto_name, framing) = match name {
        "psrp" => ("psrp", Some("fragments")),
        "psrp-outofproc" => ("psrp", Some("outofproc")),
        other => (other, None),
    };
    let proto = protocols::get(proto_name).map_err(|e| format!("{e} (also: psrp-outofproc)"))?;
    let mut params = BTreeMap::new();
    if let Some(f) = framing {
        params.insert("framing".to_owned(), f.to_owned());
    }
    params.extend(params_for(param_args, proto_name)?);
    Ok(Resolved { proto, params })
}

/// `to-server` / `to-client`.
pub fn direction(text: &str) -> Result<Direction, String> {
    match text {
        "to-server" => Ok(Direction::ToServer),
        "to-client" => Ok(Direction::ToClient),
        other => Err(format!("direction `{other}` is not to-server or to-client")),
    }
}

/// A session playing `role` with these settings.
pub fn session(
    proto: &dyn ProtocolDef,
    role: Role,
    profile: Option<&str>,
    params: &BTreeMap<String, String>,
) -> Result<Box<dyn WireSession>, String> {
    if let Some(p) = profile {
        if !proto.profiles().contains(&p) {
            return Err(format!(
                "unknown profile `{p}` for {} (known: {})",
                proto.name(),
                proto.profiles().join(", ")
            ));
        }
    }
    let opts = SessionOptions {
        local_role: Some(role),
        profile: profile.map(str::to_owned),
        params: params.clone(),
    };
    proto.new_session(&opts)
}

/// Decode `bytes` as the receiver of `direction`: every message, then the first error (from
/// decoding or left over at the end).
pub fn decode_all(
    proto: &dyn ProtocolDef,
    direction: Direction,
    profile: Option<&str>,
    params: &BTreeMap<String, String>,
    bytes: &[u8],
) -> Result<(Vec<peercheck_wire::session::Decoded>, Option<String>), String> {
    let mut s = session(proto, direction.sender().other(), profile, params)?;
    s.push_received(bytes);
    let mut out = Vec::new();
    loop {
        match s.next_received() {
            Ok(Some(m)) => out.push(m),
            Ok(None) => break,
            Err(e) => return Ok((out, Some(e.to_string()))),
        }
    }
    Ok((out, s.finish().err().map(|e| e.to_string())))
}

/// The structured form `{ name: fields }`.
pub fn structured(name: &str, fields: &serde_json::Value) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert(name.to_owned(), fields.clone());
    serde_json::Value::Object(m)
}
