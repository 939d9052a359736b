//! The fault model: what can be done to a message on its way out, as data.
//!
//! Faults are message-aware: a rule targets "the 2nd exec.data" or "every pipeline-output" by the
//! message label, and a fault can corrupt a *named field* or lie in the *length field* because the
//! codec tells where the fields are (field spans). Planning is pure: [`plan`] turns one message and
//! its faults into [`WireOp`]s that a driver (the runner or the simulator) carries out on a real
//! socket or pipe. Random choices come from the caller's seeded RNG, so runs reproduce.

use peercheck_wire::span::{self, FieldSpan};
use rand::Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One fault. In YAML: `drop`, `{ split: 3 }`, `{ delay: 200ms }`, `{ corrupt-field: { field: msgSize } }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum FaultKind {
    /// Wait this long before writing the message (`200ms`).
    Delay(String),
    /// Wait `delay` ± a random part of `jitter` before writing.
    Latency { delay: String, jitter: String },
    /// Write at most this many bytes per second.
    Bandwidth(u64),
    /// Write the message in N writes of near-equal size.
    Split(usize),
    /// Write the message in writes of at most N bytes (a slicer).
    Slice(usize),
    /// Do not write the message at all.
    Drop,
    /// Write the message twice.
    Duplicate,
    /// Hold the message back and write it after the next one.
    Reorder,
    /// XOR the bytes of a named field (default mask 0xff).
    CorruptField {
        field: String,
        #[serde(default)]
        xor: Option<u8>,
    },
    /// XOR one byte at an offset within the message (default mask 0xff).
    CorruptByte {
        offset: usize,
        #[serde(default)]
        xor: Option<u8>,
    },
    /// Keep only the first N bytes.
    Truncate(usize),
    /// Add this (possibly negative) number to the value of the protocol's length field.
    WrongLength(i64),
    /// Stop writing: this message and everything after it is never written; the connection stays open.
    Stall,
    /// Close the connection instead of writing the message.
    Close,
    /// Reset the connection (TCP RST) instead of writing the message.
    Reset,
    /// Write these bytes (hex) before the message.
    Garbage(String),
}

/// Which outgoing messages a fault applies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FaultRule {
    /// Message label (e.g. `exec.data`, `pipeline-output`, `handshake-reply`); `*` or omitted = any.
    #[serde(default)]
    pub target: Option<String>,
    /// Only the Nth matching message (1-based); omitted = every matching message.
    #[serde(default)]
    pub nth: Option<usize>,
    pub fault: FaultKind,
}

/// A fault script file: `faults: [ { target: exec.data, nth: 2, fault: drop } ]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultScript {
    #[serde(default)]
    pub faults: Vec<FaultRule>,
}

impl FaultScript {
    /// Load a fault script; errors name the line and column.
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let de = serde_yaml::Deserializer::from_str(text);
        let script: FaultScript =
            serde_yaml::with::singleton_map_recursive::deserialize(de).map_err(|e| e.to_string())?;
        for (i, rule) in script.faults.iter().enumerate() {
            rule.fault.validate().map_err(|e| format!("faults[{i}]: {e}"))?;
        }
        Ok(script)
    }
}

/// A fault attached directly to a scenario step (applies to that step's bytes).
pub type StepFault = FaultKind;

/// What a driver does, in order, for one outgoing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireOp {
    Write(Vec<u8>),
    /// Wait on the peer's clock (a scripted delay: shrinks with the driver's clock speed).
    Sleep(Duration),
    /// A short real-time pause between the pieces of one message, so they arrive as separate reads.
    Gap(Duration),
    /// Keep the bytes and write them after the next message (reorder).
    HoldForNext(Vec<u8>),
    Stall,
    Close,
    Reset,
}

/// Parse `200ms`, `2s`, `1.5s` (shared by fault scripts and scenarios).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 500ms, 2s, 1m)"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        other => return Err(format!("`{other}` is not a duration unit (ms, s, m)")),
    };
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("duration `{text}` is out of range (0 to 24h)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl FaultKind {
    /// Check the fault's own arguments (durations parse, counts are positive, hex is hex).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            FaultKind::Delay(d) => parse_duration(d).map(|_| ()),
            FaultKind::Latency { delay, jitter } => {
                parse_duration(delay)?;
                parse_duration(jitter).map(|_| ())
            }
            FaultKind::Bandwidth(0) => Err("bandwidth must be at least 1 byte per second".into()),
            FaultKind::Split(0) | FaultKind::Slice(0) => Err("split/slice need at least 1".into()),
            FaultKind::Garbage(h) => peercheck_wire::hexparse::parse_hex(h).map(|_| ()),
            _ => Ok(()),
        }
    }
}

impl FaultRule {
    /// Does this rule apply to the `index`-th (1-based) message carrying `label`?
    pub fn applies(&self, label: &str, index: usize) -> bool {
        let name_ok = match self.target.as_deref() {
            None | Some("*") => true,
            Some(t) => t == label,
        };
        name_ok && self.nth.is_none_or(|n| n == index)
    }
}

/// Plan the writes for one message with its faults.
///
/// `spans` are the message's field spans (relative to `bytes`), `length_field` the name of the span
/// holding the protocol's length.
pub fn plan(
    faults: &[FaultKind],
    mut bytes: Vec<u8>,
    spans: &[FieldSpan],
    length_field: &str,
    rng: &mut impl Rng,
) -> Result<Vec<WireOp>, String> {
    let mut before = Vec::new();
    let mut prefix = Vec::new();
    let mut copies = 1usize;
    let mut chunking: Option<Chunking> = None;
    let mut hold = false;
    for f in faults {
        f.validate()?;
        match f {
            FaultKind::Delay(d) => before.push(WireOp::Sleep(parse_duration(d)?)),
            FaultKind::Latency { delay, jitter } => {
                let base = parse_duration(delay)?;
                let j = parse_duration(jitter)?;
                let extra = if j.is_zero() {
                    Duration::ZERO
                } else {
                    j.mul_f64(rng.gen_range(0.0..1.0))
                };
                before.push(WireOp::Sleep(base + extra));
            }
            FaultKind::Bandwidth(bps) => chunking = Some(Chunking::Rate(*bps)),
            FaultKind::Split(n) => chunking = Some(Chunking::Parts(*n)),
            FaultKind::Slice(n) => chunking = Some(Chunking::MaxBytes(*n)),
            FaultKind::Drop => copies = 0,
            FaultKind::Duplicate => copies = copies.max(1) * 2,
            FaultKind::Reorder => hold = true,
            FaultKind::CorruptField { field, xor } => {
                let s = span::find(spans, field).ok_or_else(|| {
                    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
                    format!(
                        "no field `{field}` in this message (fields: {})",
                        names.join(", ")
                    )
                })?;
                for b in bytes.get_mut(s.start..s.end).unwrap_or(&mut []) {
                    *b ^= xor.unwrap_or(0xff);
                }
            }
            FaultKind::CorruptByte { offset, xor } => match bytes.get_mut(*offset) {
                Some(b) => *b ^= xor.unwrap_or(0xff),
                None => {
                    return Err(format!(
                        "offset {offset} is past the message's {} bytes",
                        bytes.len()
                    ))
                }
            },
            FaultKind::Truncate(keep) => bytes.truncate(*keep),
            FaultKind::WrongLength(delta) => adjust_length(&mut bytes, spans, length_field, *delta)?,
            FaultKind::Stall => return Ok(vec![WireOp::Stall]),
            FaultKind::Close => return Ok(vec![WireOp::Close]),
            FaultKind::Reset => return Ok(vec![WireOp::Reset]),
            FaultKind::Garbage(h) => prefix.extend(peercheck_wire::hexparse::parse_hex(h)?),
        }
    }
    let mut payload = prefix;
    for _ in 0..copies {
        payload.extend_from_slice(&bytes);
    }
    let mut ops = before;
    if copies == 0 && payload.is_empty() {
        return Ok(ops);
    }
    if hold {
        ops.push(WireOp::HoldForNext(payload));
        return Ok(ops);
    }
    match chunking {
        None => ops.push(WireOp::Write(payload)),
        Some(c) => ops.extend(c.chunk(payload)),
    }
    Ok(ops)
}

#[derive(Debug, Clone, Copy)]
enum Chunking {
    Parts(usize),
    MaxBytes(usize),
    Rate(u64),
}

impl Chunking {
    fn chunk(self, payload: Vec<u8>) -> Vec<WireOp> {
        let size = match self {
            Chunking::Parts(n) => payload.len().div_ceil(n.max(1)).max(1),
            Chunking::MaxBytes(n) => n.max(1),
            // Write in pieces of ~1/20 s worth of bytes with a pause after each.
            Chunking::Rate(bps) => usize::try_from((bps / 20).max(1)).unwrap_or(usize::MAX),
        };
        let mut ops = Vec::new();
        for piece in payload.chunks(size) {
            ops.push(WireOp::Write(piece.to_vec()));
            if let Chunking::Rate(bps) = self {
                ops.push(WireOp::Sleep(Duration::from_secs_f64(
                    piece.len() as f64 / bps.max(1) as f64,
                )));
            } else {
                // A pause between pieces so they arrive as separate reads on loopback.
                ops.push(WireOp::Gap(Duration::from_millis(1)));
            }
        }
        ops
    }
}

/// Add `delta` to the integer in the length field, keeping its width and byte order.
fn adjust_length(bytes: &mut [u8], spans: &[FieldSpan], field: &str, delta: i64) -> Result<(), String> {
    let s = span::find(spans, field).ok_or_else(|| format!("this message has no length field `{field}`"))?;
    let slot = bytes
        .get_mut(s.start..s.end)
        .ok_or("length field lies outside the message")?;
    let width = slot.len();
    if !(1..=8).contains(&width) {
        return Err(format!(
            "length field `{field}` is {width} bytes wide; 1 to 8 supported"
        ));
    }
    let le_value = slot.iter().rev().fold(0u64, |a, b| (a << 8) | u64::from(*b));
    let be_value = slot.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
    // The span's value text starts with the decimal value; it tells the byte order.
    let recorded: Option<u64> = s.value.split_whitespace().next().and_then(|v| v.parse().ok());
    let big_endian = recorded.is_some_and(|r| r != le_value);
    let value = if big_endian { be_value } else { le_value };
    let modulus = 1i128 << (width * 8);
    let new = (i128::from(value) + i128::from(delta)).rem_euclid(modulus);
    for (i, b) in slot.iter_mut().enumerate() {
        let shift = if big_endian { (width - 1 - i) * 8 } else { i * 8 };
        *b = u8::try_from((new >> shift) & 0xff).unwrap_or(0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand_chacha::ChaCha8Rng {
        rand_chacha::ChaCha8Rng::seed_from_u64(7)
    }

    fn spans() -> Vec<FieldSpan> {
        vec![
            FieldSpan {
                start: 0,
                end: 4,
                name: "msgSize".into(),
                value: "2 (0x2)".into(),
            },
            FieldSpan {
                start: 4,
                end: 6,
                name: "body.x".into(),
                value: "".into(),
            },
        ]
    }

    #[test]
    fn split_gives_n_writes_with_the_same_bytes() {
        let ops = plan(
            &[FaultKind::Split(3)],
            vec![1, 2, 3, 4, 5, 6],
            &[],
            "len",
            &mut rng(),
        )
        .unwrap();
        let writes: Vec<Vec<u8>> = ops
            .into_iter()
            .filter_map(|o| if let WireOp::Write(b) = o { Some(b) } else { None })
            .collect();
        assert_eq!(writes, vec![vec![1, 2], vec![3, 4], vec![5, 6]]);
    }

    #[test]
    fn wrong_length_keeps_width_and_order() {
        let ops = plan(
            &[FaultKind::WrongLength(5)],
            vec![2, 0, 0, 0, 9, 9],
            &spans(),
            "msgSize",
            &mut rng(),
        )
        .unwrap();
        assert_eq!(ops, vec![WireOp::Write(vec![7, 0, 0, 0, 9, 9])]);
        // Big-endian field: recorded value 2 but LE reading of 00 02 is 512.
        let be = vec![FieldSpan {
            start: 0,
            end: 2,
            name: "len".into(),
            value: "2 (0x2)".into(),
        }];
        let ops = plan(&[FaultKind::WrongLength(-1)], vec![0, 2], &be, "len", &mut rng()).unwrap();
        assert_eq!(ops, vec![WireOp::Write(vec![0, 1])]);
    }

    #[test]
    fn corrupt_named_field_by_last_segment() {
        let ops = plan(
            &[FaultKind::CorruptField {
                field: "x".into(),
                xor: Some(1),
            }],
            vec![0, 0, 0, 0, 8, 8],
            &spans(),
            "msgSize",
            &mut rng(),
        )
        .unwrap();
        assert_eq!(ops, vec![WireOp::Write(vec![0, 0, 0, 0, 9, 9])]);
        let err = plan(
            &[FaultKind::CorruptField {
                field: "nope".into(),
                xor: None,
            }],
            vec![0],
            &spans(),
            "m",
            &mut rng(),
        )
        .unwrap_err();
        assert!(err.contains("msgSize"), "{err}");
    }

    #[test]
    fn drop_duplicate_garbage_truncate() {
        assert!(plan(&[FaultKind::Drop], vec![1], &[], "l", &mut rng())
            .unwrap()
            .is_empty());
        assert_eq!(
            plan(
                &[FaultKind::Duplicate, FaultKind::Garbage("ff".into())],
                vec![1],
                &[],
                "l",
                &mut rng()
            )
            .unwrap(),
            vec![WireOp::Write(vec![0xff, 1, 1])]
        );
        assert_eq!(
            plan(&[FaultKind::Truncate(1)], vec![1, 2], &[], "l", &mut rng()).unwrap(),
            vec![WireOp::Write(vec![1])]
        );
    }

    #[test]
    fn rules_target_label_and_nth() {
        let r = FaultRule {
            target: Some("exec.data".into()),
            nth: Some(2),
            fault: FaultKind::Drop,
        };
        assert!(!r.applies("exec.data", 1));
        assert!(r.applies("exec.data", 2));
        assert!(!r.applies("exec.result", 2));
    }

    #[test]
    fn yaml_forms() {
        let s = FaultScript::from_yaml(
            "faults:\n - { target: exec.data, nth: 2, fault: drop }\n - { fault: { split: 3 } }\n - { fault: { corrupt-field: { field: msgSize } } }\n",
        )
        .unwrap();
        assert_eq!(s.faults.len(), 3);
        assert_eq!(s.faults[1].fault, FaultKind::Split(3));
    }
}
