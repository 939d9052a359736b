//! Golden vectors: the data files in `golden/<protocol>/*.yaml`, loaded and checked through each
//! protocol's `WireSession` (the same path the runner uses), and rendered as annotated hexdumps for
//! the insta snapshots.
//!
//! Checks per vector (see README.md in this folder for the file format):
//! - `valid` and `acceptable`: the vector gives a message; the bytes decode to exactly one message
//!   with that name, whose fields contain every field the vector gives; the decoded fields encode
//!   again (`valid`: to exactly these bytes);
//! - `valid`: the message encodes to exactly these bytes;
//! - `invalid`: the vector names an `error`, and decoding fails with an error mentioning it;
//! - every strict prefix of the bytes fails cleanly (no message of a `valid` or `acceptable`
//!   vector, and an error at once or at end of input).
//!
//! This is the one golden harness: the protocol crates have no golden tests of their own
//! (golden/tests/golden.rs adds the per-protocol coverage checks, and for NOW the exact field
//! comparison and the length-field span).
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
                let want = self
                    .error
                    .as_deref()
                    .ok_or_else(|| format!("{}: invalid vector without `error`", self.id))?;
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
                let expected = self
                    .message
                    .as_ref()
                    .ok_or_else(|| format!("{}: {:?} vector without `message`", self.id, self.verdict))?;
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
                self.check_round_trip(m, &bytes)?;
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
            }
        }
        self.check_prefixes(&bytes)
    }

    /// The decoded fields encode again (the structured form loses nothing): to the same bytes for
    /// a `valid` vector, without error for an `acceptable` one.
    fn check_round_trip(&self, m: &Decoded, bytes: &[u8]) -> Result<(), String> {
        let mut form = serde_json::Map::new();
        form.insert(m.name.clone(), m.fields.clone());
        let proto = protocol_of(&self.id)?;
        let mut s = proto.new_session(&self.options(self.sender()?))?;
        let again = s
            .encode(&serde_json::Value::Object(form))
            .map_err(|e| format!("{}: re-encode of the decoded fields: {e}", self.id))?;
        if self.verdict == GoldenVerdict::Valid && again != bytes {
            return Err(format!(
                "{}: the decoded fields re-encode to {}, the vector is {}",
                self.id,
                hex::encode(&again),
                hex::encode(bytes)
            ));
        }
        Ok(())
    }

    /// Every strict prefix must fail: an error at once or at end of input, and no message
    /// (a prefix of an `invalid` vector may decode messages before its bad part).
    fn check_prefixes(&self, bytes: &[u8]) -> Result<(), String> {
        for k in 1..bytes.len() {
            let prefix = bytes.get(..k).unwrap_or(&[]);
            let (msgs, err) = self.decode(prefix)?;
            if err.is_none() {
                return Err(format!(
                    "{}: the {k}-byte prefix decoded cleanly ({} message(s))",
                    self.id,
                    msgs.len()
                ));
            }
            if !msgs.is_empty() && self.verdict != GoldenVerdict::Invalid {
                return Err(format!("{}: the {k}-byte prefix decoded a message", self.id));
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
    compare(expected, actual, path, false, diffs);
}

/// [`contains`] for the golden vectors themselves: only objects may have more fields than the
/// vector names; lists and everything in them, and numbers, must be exactly as written.
pub fn contains_exactly(
    expected: &serde_json::Value,
    actual: &serde_json::Value,
    path: &str,
    diffs: &mut Vec<String>,
) {
    compare(expected, actual, path, true, diffs);
}

fn compare(
    expected: &serde_json::Value,
    actual: &serde_json::Value,
    path: &str,
    exact: bool,
    diffs: &mut Vec<String>,
) {
    use serde_json::Value;
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                match a.get(k) {
                    Some(av) => compare(v, av, &format!("{path}.{k}"), exact, diffs),
                    None => diffs.push(format!("{path}.{k} missing")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if !exact && e.len() == a.len() => {
            for (i, (x, y)) in e.iter().zip(a).enumerate() {
                compare(x, y, &format!("{path}[{i}]"), exact, diffs);
            }
        }
        (Value::Number(x), Value::Number(y)) if !exact && x.as_f64() == y.as_f64() => {}
        (x, y) if x == y => {}
        (x, y) => diffs.push(format!("{path}: expected {x}, got {y}")),
    }
}
