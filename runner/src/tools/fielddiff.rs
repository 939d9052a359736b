//! Field-by-field differences between two decoded messages (JSON), for `peercheck diff`.

use serde_json::Value;

/// One field whose values differ (`None` = the field is absent on that side).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FieldDiff {
    pub path: String,
    pub a: Option<Value>,
    pub b: Option<Value>,
}

impl std::fmt::Display for FieldDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<Value>| v.as_ref().map_or("(absent)".to_owned(), short);
        write!(f, "{}: A={} B={}", self.path, show(&self.a), show(&self.b))
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 100 {
        format!("{}…", s.chars().take(100).collect::<String>())
    } else {
        s
    }
}

/// Every leaf where `a` and `b` differ, with dotted paths under `path`; fields whose last path
/// segment is in `ignore` are skipped. Numbers compare by value.
pub fn diff(a: Option<&Value>, b: Option<&Value>, path: &str, ignore: &[String], out: &mut Vec<FieldDiff>) {
    if let Some(last) = path.rsplit('.').next() {
        if ignore.iter().any(|i| i == last || i == path) {
            return;
        }
    }
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().collect();
            keys.extend(y.keys().filter(|k| !x.contains_key(*k)));
            for k in keys {
                diff(x.get(k), y.get(k), &format!("{path}.{k}"), ignore, out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff(Some(p), Some(q), &format!("{path}[{i}]"), ignore, out);
            }
        }
        (Some(Value::Number(x)), Some(Value::Number(y))) if x.as_f64() == y.as_f64() => {}
        (x, y) if x == y => {}
        (x, y) => out.push(FieldDiff {
            path: path.to_owned(),
            a: x.cloned(),
            b: y.cloned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn leaves_that_differ_are_listed_with_paths() {
        let a = json!({ "sessionId": 7, "status": { "code": 0 }, "x": [1, 2], "only": 1 });
        let b = json!({ "sessionId": 0, "status": { "code": 0.0 }, "x": [1, 3] });
        let mut out = Vec::new();
        diff(Some(&a), Some(&b), "exec.started", &[], &mut out);
        let paths: Vec<&str> = out.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            ["exec.started.sessionId", "exec.started.x[1]", "exec.started.only"]
        );
        let mut out = Vec::new();
        diff(
            Some(&a),
            Some(&b),
            "m",
            &["sessionId".into(), "x".into(), "only".into()],
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
    }
}
