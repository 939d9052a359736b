//! Checks golden/psrp/*.yaml as the shared golden harness does, through the public session contract:
//! decode as the receiver (exactly one message, fields contain the vector's), encode as the sender
//! (exact bytes, `valid` only), every strict prefix fails cleanly, `invalid` fails mentioning `error`.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use peercheck_wire::hexparse::parse_hex;
use peercheck_wire::{Decoded, Role, SessionOptions};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    id: String,
    #[allow(dead_code)]
    description: String,
    #[serde(default)]
    profile: Option<String>,
    direction: String,
    #[serde(default)]
    params: BTreeMap<String, String>,
    verdict: String,
    source: String,
    #[serde(default)]
    #[allow(dead_code)]
    flags: Vec<String>,
    #[serde(default)]
    message: Option<Value>,
    hex: String,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct VectorFile {
    vectors: Vec<Vector>,
}

fn vectors() -> Vec<Vector> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../golden/psrp");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            serde_yaml::from_str::<VectorFile>(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
                .vectors
        })
        .collect()
}

impl Vector {
    fn sender(&self) -> Role {
        match self.direction.as_str() {
            "to-server" => Role::Client,
            "to-client" => Role::Server,
            other => panic!("{}: bad direction {other}", self.id),
        }
    }

    fn options(&self, role: Role) -> SessionOptions {
        SessionOptions {
            local_role: Some(role),
            profile: self.profile.clone(),
            params: self.params.clone(),
        }
    }

    fn decode(&self, bytes: &[u8]) -> (Vec<Decoded>, Option<String>) {
        let mut s = peercheck_psrp::protocol()
            .new_session(&self.options(self.sender().other()))
            .unwrap();
        s.push_received(bytes);
        let mut out = Vec::new();
        loop {
            match s.next_received() {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(e) => return (out, Some(format!("{} {e}", e.field))),
            }
        }
        (out, s.finish().err().map(|e| format!("{} {e}", e.field)))
    }

    fn check(&self) -> Result<(), String> {
        let bytes = parse_hex(&self.hex).map_err(|e| format!("{}: {e}", self.id))?;
        let (msgs, err) = self.decode(&bytes);
        if self.verdict == "invalid" {
            let want = self
                .error
                .as_deref()
                .ok_or(format!("{}: invalid without error", self.id))?;
            return match err {
                Some(e) if e.contains(want) => Ok(()),
                Some(e) => Err(format!("{}: error `{e}` does not mention `{want}`", self.id)),
                None => Err(format!("{}: invalid vector decoded cleanly: {msgs:?}", self.id)),
            };
        }
        if let Some(e) = err {
            return Err(format!("{}: decode failed: {e}", self.id));
        }
        let [m] = msgs.as_slice() else {
            return Err(format!("{}: expected one message, got {}", self.id, msgs.len()));
        };
        let message = self.message.as_ref().ok_or(format!("{}: no message", self.id))?;
        let (name, fields) = message.as_object().and_then(|o| o.iter().next()).unwrap();
        if &m.name != name {
            return Err(format!("{}: decoded as {}, vector says {name}", self.id, m.name));
        }
        let mut diffs = Vec::new();
        contains(fields, &m.fields, name, &mut diffs);
        if !diffs.is_empty() {
            return Err(format!("{}: {}", self.id, diffs.join("; ")));
        }
        if self.verdict == "valid" {
            let mut s = peercheck_psrp::protocol()
                .new_session(&self.options(self.sender()))
                .unwrap();
            let enc = s
                .encode(message)
                .map_err(|e| format!("{}: encode: {e}", self.id))?;
            if enc != bytes {
                return Err(format!(
                    "{}: encodes to\n{}\nvector\n{}",
                    self.id,
                    hex::encode(enc),
                    hex::encode(&bytes)
                ));
            }
        } else if self.verdict != "acceptable" {
            return Err(format!("{}: verdict {}", self.id, self.verdict));
        }
        for k in 1..bytes.len() {
            let (msgs, err) = self.decode(&bytes[..k]);
            if err.is_none() || !msgs.is_empty() {
                return Err(format!("{}: the {k}-byte prefix decoded cleanly", self.id));
            }
        }
        Ok(())
    }
}

fn contains(expected: &Value, actual: &Value, path: &str, diffs: &mut Vec<String>) {
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

#[test]
fn every_psrp_golden_vector_holds() {
    let all = vectors();
    assert!(all.len() >= 80, "only {} vectors", all.len());
    let failures: Vec<String> = all.iter().filter_map(|v| v.check().err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} fail:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn ids_are_unique_prefixed_and_sourced() {
    let mut seen = std::collections::HashSet::new();
    for v in vectors() {
        assert!(v.id.starts_with("psrp."), "{}", v.id);
        assert!(seen.insert(v.id.clone()), "duplicate {}", v.id);
        assert!(!v.source.trim().is_empty(), "{} has no source", v.id);
    }
}

#[test]
fn every_message_type_has_a_valid_vector_and_recorded_ones_exist() {
    let all = vectors();
    let valid_with = |name: &str| {
        all.iter()
            .any(|v| v.verdict == "valid" && v.message.as_ref().is_some_and(|m| m.get(name).is_some()))
    };
    for (_, name, ..) in peercheck_psrp::MessageType::ALL {
        assert!(valid_with(name), "no valid vector for {name}");
    }
    for name in peercheck_psrp::outofproc::CONTROL_NAMES {
        assert!(valid_with(name), "no valid vector for {name}");
    }
    let recorded = all
        .iter()
        .filter(|v| v.source.starts_with("pypsrp recorded Windows PowerShell"))
        .count();
    assert!(recorded >= 10, "only {recorded} recorded PowerShell vectors");
    for error in [
        "PSRP_MAX_BLOB_LENGTH",
        "fragment id gap",
        "objectId",
        "Start",
        "truncated",
        "malformed",
        "PSRP_MAX_CLIXML_DEPTH",
    ] {
        assert!(
            all.iter().any(|v| v.error.as_deref() == Some(error)),
            "no invalid vector for {error}"
        );
    }
}
