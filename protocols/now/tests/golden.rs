//! Runs every vector of golden/now/*.yaml through the codec, with the checks the shared harness
//! makes: decode (name + field subset), encode = hex for `valid`, decode→encode round trip, every
//! strict prefix fails cleanly, `invalid` vectors fail with the named error.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used
)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use peercheck_wire::hexparse::parse_hex;
use peercheck_wire::{DecodeError, Decoded, Direction, Role, SessionOptions};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Vector {
    id: String,
    description: String,
    #[serde(default)]
    profile: Option<String>,
    direction: Direction,
    #[serde(default)]
    params: BTreeMap<String, String>,
    verdict: String,
    source: String,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    message: Option<Value>,
    hex: String,
    #[serde(default)]
    error: Option<String>,
}

pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../golden/now")
}

fn load_all() -> Vec<(String, Vector)> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap();
        let file: File = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        for v in file.vectors {
            out.push((p.file_name().unwrap().to_string_lossy().into_owned(), v));
        }
    }
    out
}

fn session(v: &Vector, role: Role) -> Box<dyn peercheck_wire::WireSession> {
    let opts = SessionOptions {
        local_role: Some(role),
        profile: v.profile.clone(),
        params: v.params.clone(),
    };
    peercheck_now::protocol().new_session(&opts).unwrap()
}

/// Decode everything; returns the messages and the first error (from next_received or finish).
fn decode_all(v: &Vector, bytes: &[u8]) -> (Vec<Decoded>, Option<DecodeError>) {
    let mut s = session(v, v.direction.sender().other());
    s.push_received(bytes);
    let mut msgs = Vec::new();
    loop {
        match s.next_received() {
            Ok(Some(m)) => msgs.push(m),
            Ok(None) => break,
            Err(e) => return (msgs, Some(e)),
        }
    }
    (msgs, s.finish().err())
}

/// Every key of `want` is in `got` with a matching value (recursively for objects).
fn subset(want: &Value, got: &Value, path: &str) -> Result<(), String> {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let gv = g
                    .get(k)
                    .ok_or_else(|| format!("{path}.{k}: missing in decoded fields {got}"))?;
                subset(wv, gv, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        _ if want == got => Ok(()),
        _ => Err(format!("{path}: expected {want}, decoded {got}")),
    }
}

fn check(file: &str, v: &Vector) -> Result<(), String> {
    let bytes = parse_hex(&v.hex)?;
    let (msgs, err) = decode_all(v, &bytes);
    match v.verdict.as_str() {
        "valid" | "acceptable" => {
            if let Some(e) = err {
                return Err(format!("decode error: {e}"));
            }
            if msgs.len() != 1 {
                return Err(format!("decoded {} messages, expected 1", msgs.len()));
            }
            let m = &msgs[0];
            let want = v.message.as_ref().ok_or("valid vector without message")?;
            let (name, fields) = want
                .as_object()
                .and_then(|o| o.iter().next())
                .ok_or("message is not { name: fields }")?;
            if &m.name != name {
                return Err(format!("decoded as {}, expected {name}", m.name));
            }
            subset(fields, &m.fields, name)?;
            // decode → encode gives the same bytes back (the structured form loses nothing).
            let mut sender = session(v, v.direction.sender());
            let mut decoded_form = serde_json::Map::new();
            decoded_form.insert(m.name.clone(), m.fields.clone());
            let again = sender
                .encode(&Value::Object(decoded_form))
                .map_err(|e| format!("re-encode: {e}"))?;
            if v.verdict == "valid" && again != bytes {
                return Err(format!(
                    "re-encode of decoded fields: {} != {}",
                    hex::encode(&again),
                    hex::encode(&bytes)
                ));
            }
            if v.verdict == "valid" {
                let enc = sender.encode(want).map_err(|e| format!("encode: {e}"))?;
                if enc != bytes {
                    return Err(format!(
                        "encode: got {}, golden {}",
                        hex::encode(&enc),
                        hex::encode(&bytes)
                    ));
                }
            }
            // The length span the wrong-length fault targets is there.
            if !m
                .spans
                .iter()
                .any(|s| s.name == peercheck_now::protocol().length_field())
            {
                return Err("no header.msgSize span".into());
            }
        }
        "invalid" => {
            let e = err.ok_or_else(|| {
                format!(
                    "decoded {:?} without error",
                    msgs.iter().map(|m| &m.name).collect::<Vec<_>>()
                )
            })?;
            let want = v.error.as_deref().ok_or("invalid vector without error")?;
            let text = format!("{} {}", e.field, e);
            if !text.contains(want) {
                return Err(format!("error `{text}` does not mention `{want}`"));
            }
        }
        other => return Err(format!("unknown verdict {other}")),
    }
    // Strict prefixes: no message, and an error either at once or from finish().
    for n in 1..bytes.len() {
        let (msgs, err) = decode_all(v, &bytes[..n]);
        if !msgs.is_empty() && v.verdict != "invalid" {
            return Err(format!("prefix of {n} bytes decoded a message"));
        }
        if err.is_none() {
            return Err(format!("prefix of {n} bytes did not fail"));
        }
    }
    let _ = file;
    Ok(())
}

#[test]
fn every_golden_vector_passes() {
    let all = load_all();
    assert!(all.len() >= 140, "only {} vectors", all.len());
    let mut ids = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for (file, v) in &all {
        assert!(v.id.starts_with("now."), "{}", v.id);
        assert!(ids.insert(v.id.clone()), "duplicate id {}", v.id);
        assert!(!v.source.is_empty());
        if let Err(e) = check(file, v) {
            failures.push(format!("{file} {}: {e}", v.id));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing vectors:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_catalogue_message_has_a_valid_vector() {
    let all = load_all();
    for info in peercheck_now::protocol().messages() {
        let covered = all.iter().any(|(_, v)| {
            v.verdict == "valid"
                && v.message
                    .as_ref()
                    .and_then(|m| m.as_object())
                    .is_some_and(|o| o.contains_key(info.name))
        });
        assert!(covered, "no valid golden vector for {}", info.name);
    }
}
