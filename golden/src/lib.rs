//! Golden vectors: the data files in `golden/<protocol>/*.yaml`, loaded and checked through each
//! protocol's `WireSession` (the same path the runner uses), and rendered as annotated hexdumps for
//! the insta snapshots.
//!
//! Checks per vector (see README.md in this folder for the file format):
//! - `valid` and `acceptable`: the bytes decode to exactly one message with that name, whose fields
//!   contain every field the vector gives;
//! - `valid`: the message encodes to exactly these bytes;
//! - every strict prefix of the bytes fails cleanly (no message, then an error at end of input);
//! - `invalid`: decoding fails with an error mentioning `error`.
#![forbid(unsafe_code)]

pub mod export;
use peercheck_wire::hexparse::parse_hex;
use peercheck_wire::session::{Decoded, ProtocolDef, Role, SessionOptions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GoldenVerdict {
    /// What a correct implementation sends and must accept; our encoder produces exactly these bytes.
    Valid,
    /// A correct implementation must reject these bytes.
    Invalid,
    /// Must be accepted, but not what we would send (e.g. non-minimal encodings, other writers' output).
    Acceptable,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    pub id: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub profile: Option<String>,
    /// `to-server` (the client sends it) or `to-client`.
    pub direction: String,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    pub verdict: GoldenVerdict,
    pub source: String,
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub message: Option<serde_json::Value>,
    pub hex: String,
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorFile {
    pub vectors: Vec<Vector>,
}

/// The golden/ folder of this workspace.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
}

/// Every vector file under golden/<protocol>/, sorted.
pub fn vector_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for proto in ["now", "psrp", "inedo"] {
        if let Ok(rd) = std::fs::read_dir(golden_dir().join(proto)) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "yaml") {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

pub fn load(path: &Path) -> Result<VectorFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The protocol definition a vector belongs to (by its id prefix).
pub fn protocol_of(id: &str) -> Result<&'static dyn ProtocolDef, String> {
    match id.split('.').next() {
        Some("now") => Ok(peercheck_now::protocol()),
        Some("psrp") => Ok(peercheck_psrp::protocol()),
        Some("inedo") => Ok(peercheck_inedo::protocol()),
        _ => Err(format!("{id}: id must start with now., psrp. or inedo.")),
    }
}

impl Vector {
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        parse_hex(&self.hex).map_err(|e| format!("{}: hex: {e}", self.id))
    }

    fn sender(&self) -> Result<Role, String> {
        match self.direction.as_str() {
            "to-server" => Ok(Role::Client),
            "to-client" => Ok(Role::Server),
            d => Err(format!(
                "{}: direction `{d}` is not to-server or to-client",
                self.id
            )),
        }
    }

    fn options(&self, role: Role) -> SessionOptions {
        SessionOptions {
            local_role: Some(role),
            profile: self.profile.clone(),
            params: self.params.clone(),
        }
    }

    /// Decode `bytes` as the receiver: the messages, then the first error (from decoding or at end).
    pub fn decode(&self, bytes: &[u8]) -> Result<(Vec<Decoded>, Option<String>), String> {
        let proto = protocol_of(&self.id)?;
        let mut s = proto.new_session(&self.options(self.sender()?.other()))?;
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

    pub fn encode(&self) -> Result<Vec<u8>, String> {
        let proto = protocol_of(&self.id)?;
        let msg = self
            .message
            .as_ref()
            .ok_or_else(|| format!("{}: no message to encode", self.id))?;
        let mut s = proto.new_session(&self.options(self.sender()?))?;
        s.encode(msg).map_err(|e| format!("{}: encode: {e}", self.id))
    }

    /// Run every check that applies; the error says which and why.
    pub fn check(&self) -> Result<(), String> {
        let bytes = self.bytes()?;
        let (msgs, err) = self.decode(&bytes)?;
        match self.verdict {
            GoldenVerdict::Invalid => {
                let want = self.error.as_deref().unwrap_or("");
                match err {
                    None => {
                        return Err(format!(
                            "{}: invalid vector decoded without error: {msgs:?}",
                            self.id
                        ))
                    }
                    Some(e) if !e.contains(want) => {
                        return Err(format!("{}: error `{e}` does not mention `{want}`", self.id))
                    }
                    Some(_) => {}
                }
            }
            GoldenVerdict::Valid | GoldenVerdict::Acceptable => {
                if let Some(e) = err {
                    return Err(format!("{}: decode failed: {e}", self.id));
                }
                let [m] = msgs.as_slice() else {
                    return Err(format!(
                        "{}: expected one message, decoded {}",
                        self.id,
                        msgs.len()
                    ));
                };
                if let Some(expected) = &self.message {
                    let (name, fields) = expected
                        .as_object()
                        .and_then(|o| o.iter().next())
                        .ok_or_else(|| format!("{}: message must be {{ name: {{ fields }} }}", self.id))?;
                    if &m.name != name {
                        return Err(format!("{}: decoded as {}, vector says {name}", self.id, m.name));
                    }
                    let mut diffs = Vec::new();
                    contains(fields, &m.fields, &m.name, &mut diffs);
                    if !diffs.is_empty() {
                        return Err(format!(
                            "{}: decoded fields differ: {}",
                            self.id,
                            diffs.join("; ")
                        ));
                    }
                }
                if self.verdict == GoldenVerdict::Valid {
                    let enc = self.encode()?;
                    if enc != bytes {
                        return Err(format!(
                            "{}: encodes to {} but the vector says {}",
                            self.id,
                            hex::encode(&enc),
                            hex::encode(&bytes)
                        ));
                    }
                }
                self.check_prefixes(&bytes)?;
            }
        }
        Ok(())
    }

    /// Every strict prefix must yield no message and an error at end of input.
    fn check_prefixes(&self, bytes: &[u8]) -> Result<(), String> {
        for k in 0..bytes.len() {
            let prefix = bytes.get(..k).unwrap_or(&[]);
            let (msgs, err) = self.decode(prefix)?;
            if k > 0 && err.is_none() {
                return Err(format!(
                    "{}: the {k}-byte prefix decoded cleanly ({} message(s))",
                    self.id,
                    msgs.len()
                ));
            }
        }
        Ok(())
    }

    /// Annotated hexdump of the decode (or the error), for the snapshots.
    pub fn render(&self) -> String {
        let mut out = format!("## {} [{:?}] {}\n", self.id, self.verdict, self.description);
        out.push_str(&format!("source: {}\n", self.source));
        let bytes = match self.bytes() {
            Ok(b) => b,
            Err(e) => return out + &e + "\n",
        };
        match self.decode(&bytes) {
            Ok((msgs, err)) => {
                for m in &msgs {
                    out.push_str(&format!("{}:\n", m.name));
                    out.push_str(&peercheck_wire::hexdump::annotated(&m.bytes, m.offset, &m.spans));
                }
                if let Some(e) = err {
                    out.push_str(&peercheck_wire::hexdump::hexdump(&bytes, 0));
                    out.push_str(&format!("error: {e}\n"));
                }
            }
            Err(e) => out.push_str(&format!("setup error: {e}\n")),
        }
        out
    }
}

/// Is every field of `expected` present and equal in `actual` (numbers compared by value)?
pub fn contains(
    expected: &serde_json::Value,
    actual: &serde_json::Value,
    path: &str,
    diffs: &mut Vec<String>,
) {
    use serde_json::Value;
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                match a.get(k) {
                    Some(av) => contains(v, av, &format!("{path}.{k}"), diffs),
                    None => diffs.push(format!("{path}.{k} missing")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (x, y)) in e.iter().zip(a).enumerate() {
                contains(x, y, &format!("{path}[{i}]"), diffs);
            }
        }
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => {}
        (x, y) if x == y => {}
        (x, y) => diffs.push(format!("{path}: expected {x}, got {y}")),
    }
}
