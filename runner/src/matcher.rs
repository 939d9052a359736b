//! The matcher language of `expect` steps.
//!
//! A literal matches itself (objects match when every named key matches: unnamed keys are not
//! checked). A one-key map whose key is a matcher word is a matcher: `any`, `absent`, `equals`,
//! `one-of`, `subset-of`, `contains`, `range`, `regex`, `len`, `not`, `all-of`, `capture`.
//! `${name}` stands for a value captured earlier.

use regex::Regex;
use serde_json::Value;
use std::collections::BTreeMap;

pub type Vars = BTreeMap<String, Value>;

/// Matcher words (a map with one of these as its only key is a matcher, not a literal).
pub const MATCHER_WORDS: &[&str] = &[
    "any",
    "absent",
    "equals",
    "one-of",
    "subset-of",
    "contains",
    "range",
    "regex",
    "len",
    "not",
    "all-of",
    "capture",
];

/// One field that did not match.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Mismatch {
    pub path: String,
    pub expected: String,
    pub actual: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.path, self.expected, self.actual
        )
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "(absent)".into(),
        Some(v) => {
            let s = v.to_string();
            if s.len() > 120 {
                format!("{}…", s.chars().take(120).collect::<String>())
            } else {
                s
            }
        }
    }
}

/// Is `v` a matcher (a one-key map with a matcher word)?
pub fn as_matcher(v: &Value) -> Option<(&str, &Value)> {
    let map = v.as_object()?;
    if map.len() != 1 {
        return None;
    }
    let (k, arg) = map.iter().next()?;
    MATCHER_WORDS.contains(&k.as_str()).then_some((k.as_str(), arg))
}

/// A number from a JSON number or a `0x…`/decimal string.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let t = s.trim();
            if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                u64::from_str_radix(h, 16).ok().map(|n| n as f64)
            } else {
                t.parse().ok()
            }
        }
        _ => None,
    }
}

fn integer(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let t = s.trim();
            match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                Some(h) => u64::from_str_radix(h, 16).ok(),
                None => t.parse().ok(),
            }
        }
        _ => None,
    }
}

/// Literal equality with numeric normalisation (1 = 1.0 = "0x1") and `${var}` substitution.
fn literal_eq(expected: &Value, actual: &Value, vars: &Vars) -> bool {
    if let Some(sub) = var_ref(expected).and_then(|n| vars.get(n)) {
        return literal_eq(sub, actual, vars);
    }
    match (expected, actual) {
        (Value::Number(_), _) | (_, Value::Number(_)) if number(expected).is_some() => {
            number(expected) == number(actual)
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| literal_eq(x, y, vars))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| literal_eq(x, y, vars)))
        }
        (Value::String(a), Value::String(b)) => a == b || a.eq_ignore_ascii_case(b) && looks_like_guid(a),
        _ => expected == actual,
    }
}

fn looks_like_guid(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

/// `${name}` → `name`.
pub fn var_ref(v: &Value) -> Option<&str> {
    v.as_str()?.strip_prefix("${")?.strip_suffix('}')
}

/// Match `expected` against `actual` at `path`, recording captures in `vars` and mismatches in `out`.
pub fn match_value(
    expected: &Value,
    actual: Option<&Value>,
    path: &str,
    vars: &mut Vars,
    out: &mut Vec<Mismatch>,
) {
    let mut fail = |exp: String| {
        out.push(Mismatch {
            path: path.to_owned(),
            expected: exp,
            actual: show(actual),
        })
    };
    if let Some((word, arg)) = as_matcher(expected) {
        match word {
            "any" => {
                if actual.is_none() {
                    fail("any value".into());
                }
            }
            "absent" => {
                if actual.is_some_and(|a| !a.is_null()) {
                    fail("no value".into());
                }
            }
            "capture" => match (actual, arg.as_str()) {
                (Some(a), Some(name)) => {
                    vars.insert(name.to_owned(), a.clone());
                }
                (None, _) => fail(format!("a value to capture as {arg}")),
                (_, None) => fail("capture: <name>".into()),
            },
            "equals" => {
                if !actual.is_some_and(|a| literal_eq(arg, a, vars)) {
                    fail(format!("exactly {arg}"));
                }
            }
            "one-of" => {
                let options = arg.as_array().cloned().unwrap_or_default();
                if !actual.is_some_and(|a| options.iter().any(|o| literal_eq(o, a, vars))) {
                    fail(format!("one of {arg}"));
                }
            }
            "subset-of" => {
                let allowed = arg.as_array().cloned().unwrap_or_default();
                let ok = match actual {
                    Some(Value::Array(items)) => items
                        .iter()
                        .all(|i| allowed.iter().any(|o| literal_eq(o, i, vars))),
                    Some(a) => match (
                        integer(a),
                        allowed.iter().map(integer).collect::<Option<Vec<_>>>(),
                    ) {
                        (Some(bits), Some(masks)) => bits & !masks.iter().fold(0, |m, x| m | x) == 0,
                        _ => false,
                    },
                    None => false,
                };
                if !ok {
                    fail(format!("a subset of {arg}"));
                }
            }
            "contains" => {
                let wanted: Vec<Value> = match arg {
                    Value::Array(a) => a.clone(),
                    other => vec![other.clone()],
                };
                let ok = match actual {
                    Some(Value::Array(items)) => wanted
                        .iter()
                        .all(|w| items.iter().any(|i| literal_eq(w, i, vars))),
                    Some(Value::String(s)) => {
                        wanted.iter().all(|w| w.as_str().is_some_and(|w| s.contains(w)))
                    }
                    Some(a) => match (integer(a), wanted.iter().map(integer).collect::<Option<Vec<_>>>()) {
                        (Some(bits), Some(masks)) => masks.iter().all(|m| bits & m == *m),
                        _ => false,
                    },
                    None => false,
                };
                if !ok {
                    fail(format!("something containing {arg}"));
                }
            }
            "range" => {
                let bounds = arg
                    .as_array()
                    .map(|b| (b.first().and_then(number), b.get(1).and_then(number)));
                let ok = match (bounds, actual.and_then(number)) {
                    (Some((lo, hi)), Some(n)) => lo.is_none_or(|lo| n >= lo) && hi.is_none_or(|hi| n <= hi),
                    _ => false,
                };
                if !ok {
                    fail(format!("a number in {arg}"));
                }
            }
            "regex" => {
                let text = match actual {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                };
                let ok = match (arg.as_str().map(Regex::new), text) {
                    (Some(Ok(re)), Some(t)) => re.is_match(&t),
                    _ => false,
                };
                if !ok {
                    fail(format!("text matching /{}/", arg.as_str().unwrap_or("?")));
                }
            }
            "len" => {
                let len = match actual {
                    Some(Value::Array(a)) => Some(a.len()),
                    Some(Value::String(s)) => Some(s.chars().count()),
                    Some(Value::Object(o)) => Some(o.len()),
                    _ => None,
                };
                match len {
                    Some(n) => match_value(arg, Some(&Value::from(n)), &format!("{path}.len"), vars, out),
                    None => fail("something with a length".into()),
                }
            }
            "not" => {
                let mut inner = Vec::new();
                let mut scratch = vars.clone();
                match_value(arg, actual, path, &mut scratch, &mut inner);
                if inner.is_empty() {
                    fail(format!("not {arg}"));
                }
            }
            "all-of" => {
                for m in arg.as_array().cloned().unwrap_or_default() {
                    match_value(&m, actual, path, vars, out);
                }
            }
            _ => fail(format!("a known matcher, not `{word}`")),
        }
        return;
    }
    match (expected, actual) {
        (Value::Object(exp), Some(Value::Object(act))) => {
            for (k, v) in exp {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match_value(v, act.get(k), &child, vars, out);
            }
        }
        (Value::Array(exp), Some(Value::Array(act))) if exp.len() == act.len() => {
            for (i, (e, a)) in exp.iter().zip(act).enumerate() {
                match_value(e, Some(a), &format!("{path}[{i}]"), vars, out);
            }
        }
        (_, Some(a)) if literal_eq(expected, a, vars) => {}
        _ => fail(show(Some(expected))),
    }
}

/// Replace `${name}` in a message to send: a whole-string reference takes the captured value with
/// its type; a reference inside a longer string is interpolated as text.
pub fn substitute(v: &Value, vars: &Vars) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            if let Some(name) = var_ref(v) {
                return vars.get(name).cloned().ok_or_else(|| unknown_var(name, vars));
            }
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(i) = rest.find("${") {
                out.push_str(&rest[..i]);
                let after = &rest[i + 2..];
                let end = after
                    .find('}')
                    .ok_or_else(|| format!("unclosed `${{` in `{s}`"))?;
                let name = &after[..end];
                let val = vars.get(name).ok_or_else(|| unknown_var(name, vars))?;
                out.push_str(&val.as_str().map(str::to_owned).unwrap_or_else(|| val.to_string()));
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, vars)).collect::<Result<_, _>>()?),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| Ok((k.clone(), substitute(x, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn unknown_var(name: &str, vars: &Vars) -> String {
    let known: Vec<&str> = vars.keys().map(String::as_str).collect();
    format!(
        "`${{{name}}}` was never captured (captured so far: {})",
        if known.is_empty() {
            "none".into()
        } else {
            known.join(", ")
        }
    )
}

/// Read a dotted path (`a.b.0.c`) out of a value.
pub fn get_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .filter(|p| !p.is_empty())
        .try_fold(v, |cur, seg| match cur {
            Value::Object(o) => o.get(seg),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn check(expected: Value, actual: Value) -> Vec<Mismatch> {
        let mut out = Vec::new();
        match_value(&expected, Some(&actual), "", &mut Vars::new(), &mut out);
        out
    }

    #[rstest]
    #[case(json!({"a": 1}), json!({"a": 1, "b": 2}), true)]
    #[case(json!({"a": 1}), json!({"a": 2}), false)]
    #[case(json!({"a": "0x10"}), json!({"a": 16}), true)]
    #[case(json!({"a": {"any": true}}), json!({"b": 1}), false)]
    #[case(json!({"a": {"absent": true}}), json!({"b": 1}), true)]
    #[case(json!({"a": {"one-of": [1, 2]}}), json!({"a": 2}), true)]
    #[case(json!({"a": {"one-of": [1, 2]}}), json!({"a": 3}), false)]
    #[case(json!({"a": {"subset-of": ["x", "y"]}}), json!({"a": ["y"]}), true)]
    #[case(json!({"a": {"subset-of": ["x", "y"]}}), json!({"a": ["z"]}), false)]
    #[case(json!({"a": {"subset-of": [1, 4]}}), json!({"a": 5}), true)]
    #[case(json!({"a": {"subset-of": [1, 4]}}), json!({"a": 6}), false)]
    #[case(json!({"a": {"contains": 4}}), json!({"a": 6}), true)]
    #[case(json!({"a": {"range": [1, 3]}}), json!({"a": 3}), true)]
    #[case(json!({"a": {"range": [1, 3]}}), json!({"a": 4}), false)]
    #[case(json!({"a": {"range": [1, null]}}), json!({"a": 400}), true)]
    #[case(json!({"a": {"regex": "^ab+$"}}), json!({"a": "abbb"}), true)]
    #[case(json!({"a": {"regex": "^ab+$"}}), json!({"a": "ac"}), false)]
    #[case(json!({"a": {"not": 1}}), json!({"a": 2}), true)]
    #[case(json!({"a": {"len": {"range": [2, 2]}}}), json!({"a": [1, 2]}), true)]
    #[case(json!({"a": [1, 2]}), json!({"a": [1, 2]}), true)]
    #[case(json!({"a": [1, 2]}), json!({"a": [2, 1]}), false)]
    fn matchers(#[case] expected: Value, #[case] actual: Value, #[case] ok: bool) {
        assert_eq!(check(expected, actual).is_empty(), ok);
    }

    #[test]
    fn capture_then_reuse() {
        let mut vars = Vars::new();
        let mut out = Vec::new();
        match_value(
            &json!({"sid": {"capture": "s"}}),
            Some(&json!({"sid": 7})),
            "",
            &mut vars,
            &mut out,
        );
        assert!(out.is_empty());
        let sent = substitute(&json!({"sessionId": "${s}", "text": "id=${s}"}), &vars).unwrap();
        assert_eq!(sent, json!({"sessionId": 7, "text": "id=7"}));
        match_value(
            &json!({"sid": "${s}"}),
            Some(&json!({"sid": 8})),
            "",
            &mut vars,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert!(substitute(&json!("${nope}"), &vars)
            .unwrap_err()
            .contains("never captured"));
    }

    #[test]
    fn mismatch_names_the_path() {
        let out = check(json!({"a": {"b": 1}}), json!({"a": {"b": 2}}));
        assert_eq!(out[0].path, "a.b");
        assert_eq!(out[0].actual, "2");
    }
}
