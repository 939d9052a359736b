//! Structured messages drawn from a protocol's JSON Schema (schemars 0.8 output), driven by the
//! fuzzer's bytes through `arbitrary::Unstructured`. Numbers favour boundaries (0, 1, max, max+1),
//! strings favour the hostile (empty, long, NUL, non-ASCII), arrays and nesting stay bounded.

use arbitrary::Unstructured;
use serde_json::{json, Map, Value};

const MAX_DEPTH: usize = 6;

/// A protocol's `message_schema()`, computed once (schemars generation is far slower than an
/// execution).
pub fn schema_of(proto: &dyn peercheck_wire::ProtocolDef) -> &'static Value {
    use std::collections::BTreeMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<BTreeMap<&'static str, &'static Value>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(BTreeMap::new()));
    let mut map = cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry(proto.name())
        .or_insert_with(|| Box::leak(Box::new(proto.message_schema())))
}

/// A structured message `{ name: fields }` from `schema` (the protocol's `message_schema()`).
pub fn message(schema: &Value, u: &mut Unstructured<'_>) -> arbitrary::Result<Value> {
    gen(schema, schema, u, 0)
}

fn resolve<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or("");
            root.get("definitions")
                .and_then(|d| d.get(name))
                .or_else(|| root.get("$defs").and_then(|d| d.get(name)))
                .unwrap_or(&Value::Null)
        }
        None => v,
    }
}

fn gen(root: &Value, schema: &Value, u: &mut Unstructured<'_>, depth: usize) -> arbitrary::Result<Value> {
    let s = resolve(root, schema);
    if depth > MAX_DEPTH {
        return Ok(Value::Null);
    }
    if let Some(c) = s.get("const") {
        return Ok(c.clone());
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.is_empty() {
            return Ok(u.choose(e)?.clone());
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = s.get(key).and_then(Value::as_array) {
            if !alts.is_empty() {
                let alt = u.choose(alts)?;
                return gen(root, alt, u, depth + 1);
            }
        }
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        if let Some(first) = all.first() {
            return gen(root, first, u, depth + 1);
        }
    }
    let ty = match s.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) if !ts.is_empty() => u.choose(ts)?.as_str().unwrap_or("null").to_owned(),
        _ if s.get("properties").is_some() => "object".to_owned(),
        _ => return any_value(u, depth),
    };
    match ty.as_str() {
        "object" => {
            let mut m = Map::new();
            let required: Vec<&str> = s
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                for (k, v) in props {
                    if required.contains(&k.as_str()) || u.ratio(1, 2)? {
                        m.insert(k.clone(), gen(root, v, u, depth + 1)?);
                    }
                }
            }
            Ok(Value::Object(m))
        }
        "array" => {
            let n = u.int_in_range(0..=4)?;
            let item = s.get("items").cloned().unwrap_or(Value::Null);
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                out.push(gen(root, &item, u, depth + 1)?);
            }
            Ok(Value::Array(out))
        }
        "integer" => Ok(json!(integer(s, u)?)),
        "number" => Ok(json!(f64::from(u.arbitrary::<f32>()?))),
        "boolean" => Ok(Value::Bool(u.arbitrary()?)),
        "string" => Ok(Value::String(string(u)?)),
        _ => Ok(Value::Null),
    }
}

fn integer(s: &Value, u: &mut Unstructured<'_>) -> arbitrary::Result<i128> {
    let (lo, hi): (i128, i128) = match s.get("format").and_then(Value::as_str) {
        Some("uint8") => (0, 0xff),
        Some("uint16") => (0, 0xffff),
        Some("uint32") => (0, 0xffff_ffff),
        Some("int32") => (i128::from(i32::MIN), i128::from(i32::MAX)),
        Some("int64") => (i128::from(i64::MIN), i128::from(i64::MAX)),
        Some("int8") => (-128, 127),
        Some("int16") => (-32768, 32767),
        _ => (0, i128::from(u64::MAX)),
    };
    let lo = s.get("minimum").and_then(Value::as_f64).map_or(lo, |m| m as i128);
    let hi = s.get("maximum").and_then(Value::as_f64).map_or(hi, |m| m as i128);
    Ok(match u.int_in_range(0u8..=7)? {
        0 => lo,
        1 => hi,
        2 => lo.saturating_add(1).min(hi),
        3 => hi.saturating_sub(1).max(lo),
        4 => 0.clamp(lo, hi),
        _ => {
            let r: u64 = u.arbitrary()?;
            let span = (hi - lo).max(0) as u128 + 1;
            lo + (u128::from(r) % span) as i128
        }
    })
}

fn string(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    Ok(match u.int_in_range(0u8..=5)? {
        0 => String::new(),
        1 => "a\0b".to_owned(),
        2 => "x".repeat(u.int_in_range(200..=70_000)?),
        3 => "é\u{1F600}\u{202E}".to_owned(),
        _ => u.arbitrary::<String>()?.chars().take(64).collect(),
    })
}

fn any_value(u: &mut Unstructured<'_>, depth: usize) -> arbitrary::Result<Value> {
    Ok(match u.int_in_range(0u8..=4)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => json!(u.arbitrary::<u32>()?),
        3 => Value::String(string(u)?),
        _ if depth < MAX_DEPTH => {
            let mut m = Map::new();
            m.insert(string(u)?, any_value(u, depth + 1)?);
            Value::Object(m)
        }
        _ => Value::Null,
    })
}
