//! Mutations of one step of a scenario: what the suite sends, changed the way hostile peers do.
//!
//! Every mutation is expressed in the scenario language, so a finding is a replayable file:
//! - field-aware, from the codec's spans of the bytes the step sent (`WireSession::annotate_sent`):
//!   the length field set to 0, off by one, lying long, at the 31/32-bit maximum (`wrong-length`
//!   fault); any other field XORed (`corrupt-field`: flags, ids, enum values, string bytes);
//! - structured, on the step's `send` form: a number to 0/1/-1/boundaries/max, a string empty,
//!   huge or with a NUL, a value nested deep;
//! - byte-level: a bit flipped (`corrupt-byte`), the message truncated (`truncate`), garbage
//!   before it (`garbage`), bytes inserted or deleted (the step becomes `send-hex`).

use crate::scenario::model::Step;
use peercheck_simulator::faults::FaultKind;
use peercheck_wire::span::FieldSpan;
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::Value;

/// One mutation of one step.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    /// Attach faults to the step (the bytes are the codec's, changed on the way out).
    Faults(Vec<FaultKind>),
    /// Replace the step's structured message.
    Structured {
        path: String,
        value: Value,
        message: Value,
    },
    /// Replace the step by these raw bytes.
    Bytes(Vec<u8>),
}

impl Mutation {
    /// One line for the case log and finding.json.
    pub fn describe(&self) -> String {
        match self {
            Mutation::Faults(f) => format!("faults {f:?}"),
            Mutation::Structured { path, value, .. } => {
                let v = value.to_string();
                let v = if v.len() > 60 {
                    format!("{}… ({} chars)", v.chars().take(40).collect::<String>(), v.len())
                } else {
                    v
                };
                format!("field {path} = {v}")
            }
            Mutation::Bytes(b) => format!("raw bytes ({} bytes)", b.len()),
        }
    }

    /// The step after the mutation.
    pub fn apply(&self, step: &Step) -> Step {
        let mut s = step.clone();
        s.note = Some(format!("peercheck fuzz mutation: {}", self.describe()));
        match self {
            Mutation::Faults(f) => s.fault.extend(f.iter().cloned()),
            Mutation::Structured { message, .. } => s.send = Some(message.clone()),
            Mutation::Bytes(b) => {
                s.send = None;
                s.fault.clear();
                s.send_hex = Some(hex::encode(b));
            }
        }
        s
    }
}

/// The integer value of a span's bytes (little-endian), when it is 1..=8 bytes.
fn span_value(bytes: &[u8], s: &FieldSpan) -> Option<u64> {
    let raw = bytes.get(s.start..s.end)?;
    if raw.is_empty() || raw.len() > 8 {
        return None;
    }
    Some(raw.iter().rev().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// Pick one mutation of a step whose baseline bytes were `bytes` with `spans`.
pub fn pick(
    step: &Step,
    bytes: &[u8],
    spans: &[FieldSpan],
    length_field: &str,
    rng: &mut impl Rng,
) -> Option<Mutation> {
    for _ in 0..8 {
        let m = match rng.gen_range(0..10u8) {
            0..=3 => length_mutation(bytes, spans, length_field, rng),
            4 | 5 => field_mutation(spans, rng),
            6 => step.send.as_ref().and_then(|m| structured_mutation(m, rng)),
            _ => byte_mutation(bytes, rng),
        };
        if m.is_some() {
            return m;
        }
    }
    byte_mutation(bytes, rng)
}

fn length_mutation(
    bytes: &[u8],
    spans: &[FieldSpan],
    length_field: &str,
    rng: &mut impl Rng,
) -> Option<Mutation> {
    let s = peercheck_wire::span::find(spans, length_field)?;
    let v = i64::try_from(span_value(bytes, s)?).ok()?;
    let width = s.end.saturating_sub(s.start);
    let max = if width >= 4 {
        0xffff_ffffi64
    } else {
        (1i64 << (8 * width)) - 1
    };
    let targets = [
        0,
        0,
        v - 1,
        v + 1,
        v + 64,
        v + 4096,
        0x7fff_ffff.min(max),
        max,
        1 << 20,
        300 << 20,
    ];
    let t = *targets.choose(rng)?;
    let t = t.clamp(0, max);
    if t == v {
        return None;
    }
    Some(Mutation::Faults(vec![FaultKind::WrongLength(t - v)]))
}

fn field_mutation(spans: &[FieldSpan], rng: &mut impl Rng) -> Option<Mutation> {
    let s = spans.choose(rng)?;
    let xor = *[0xffu8, 0x80, 0x01, 0x7f, 0x10].choose(rng)?;
    Some(Mutation::Faults(vec![FaultKind::CorruptField {
        field: s.name.clone(),
        xor: Some(xor),
    }]))
}

fn byte_mutation(bytes: &[u8], rng: &mut impl Rng) -> Option<Mutation> {
    if bytes.is_empty() {
        return None;
    }
    let at = rng.gen_range(0..bytes.len());
    Some(match rng.gen_range(0..5u8) {
        0 => Mutation::Faults(vec![FaultKind::CorruptByte {
            offset: at,
            xor: Some(1u8 << rng.gen_range(0..8)),
        }]),
        1 => Mutation::Faults(vec![FaultKind::Truncate(at)]),
        2 => {
            let n = rng.gen_range(1..16);
            let garbage: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
            Mutation::Faults(vec![FaultKind::Garbage(hex::encode(garbage))])
        }
        3 => {
            let mut b = bytes.to_vec();
            let n = rng.gen_range(1..32);
            let insert: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
            b.splice(at..at, insert);
            Mutation::Bytes(b)
        }
        _ => {
            let mut b = bytes.to_vec();
            let end = (at + rng.gen_range(1..16)).min(b.len());
            b.drain(at..end);
            if b.is_empty() {
                return None;
            }
            Mutation::Bytes(b)
        }
    })
}

/// Paths of every leaf (and container) in a structured message, e.g. `/exec.run/sessionId`.
fn paths(v: &Value, here: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let p = format!("{here}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                paths(c, p, out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let p = format!("{here}/{i}");
                out.push(p.clone());
                paths(c, p, out);
            }
        }
        _ => {}
    }
}

fn structured_mutation(message: &Value, rng: &mut impl Rng) -> Option<Mutation> {
    let mut all = Vec::new();
    paths(message, String::new(), &mut all);
    // Not the message name itself (depth 1): a renamed message is just another message.
    all.retain(|p| p.matches('/').count() >= 2);
    let path = all.choose(rng)?.clone();
    let old = message.pointer(&path)?.clone();
    let value = match &old {
        Value::Number(_) => {
            let choices: [Value; 9] = [
                0.into(),
                1.into(),
                (-1).into(),
                255.into(),
                256.into(),
                65535.into(),
                65536.into(),
                0xffff_ffffu64.into(),
                0x7fff_ffffu64.into(),
            ];
            choices.choose(rng)?.clone()
        }
        Value::String(s) => match rng.gen_range(0..4u8) {
            0 => Value::String(String::new()),
            1 => Value::String("A".repeat(70_000)),
            2 => Value::String(format!("{s}\0x")),
            _ => Value::String("é😀\u{202e}".into()),
        },
        Value::Bool(b) => Value::Bool(!b),
        Value::Array(a) if !a.is_empty() && rng.gen_bool(0.5) => Value::Array(
            (0..64)
                .map(|_| a.first().cloned().unwrap_or(Value::Null))
                .collect(),
        ),
        other => {
            // Deep nesting.
            let mut v = other.clone();
            for _ in 0..64 {
                v = Value::Array(vec![v]);
            }
            v
        }
    };
    if value == old {
        return None;
    }
    let mut message = message.clone();
    *message.pointer_mut(&path)? = value.clone();
    Some(Mutation::Structured { path, value, message })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use rand::SeedableRng;

    fn span(name: &str, start: usize, end: usize) -> FieldSpan {
        FieldSpan {
            start,
            end,
            name: name.into(),
            value: String::new(),
        }
    }

    #[test]
    fn length_mutations_change_the_length() {
        let bytes = [4u8, 0, 0, 0, 1, 2, 3, 4];
        let spans = [span("header.msgSize", 0, 4)];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..50 {
            if let Some(Mutation::Faults(f)) = length_mutation(&bytes, &spans, "msgSize", &mut rng) {
                let FaultKind::WrongLength(d) = f[0] else {
                    panic!("{f:?}")
                };
                assert_ne!(d, 0);
                assert!((0..=0xffff_ffff).contains(&(4 + d)));
            }
        }
    }

    #[test]
    fn structured_mutations_keep_the_message_name() {
        let msg = serde_json::json!({ "exec.run": { "sessionId": 7, "command": "x" } });
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut changed = 0;
        for _ in 0..50 {
            if let Some(Mutation::Structured { message, .. }) = structured_mutation(&msg, &mut rng) {
                assert!(message.get("exec.run").is_some());
                assert_ne!(message, msg);
                changed += 1;
            }
        }
        assert!(changed > 10);
    }

    #[test]
    fn byte_mutations_are_replayable_steps() {
        let step = Step {
            send: Some(serde_json::json!({ "a": {} })),
            ..Default::default()
        };
        let m = Mutation::Bytes(vec![1, 2, 3]);
        let s = m.apply(&step);
        assert_eq!(s.send_hex.as_deref(), Some("010203"));
        assert!(s.send.is_none());
        assert!(s.action().is_ok());
    }
}
