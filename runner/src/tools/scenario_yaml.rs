//! Writing scenario files the way people write them: metadata one key a line, each step on one
//! line with its message in flow style (`- send: { "exec.run": { "sessionId": 1 } }`), modifiers
//! below it. JSON flow is valid YAML, so what we write loads back exactly.

use crate::scenario::model::{Scenario, Step};
use serde_json::Value;

/// Render `scenario` as YAML, with `header` lines as `#` comments on top.
pub fn render(scenario: &Scenario, header: &[String]) -> Result<String, String> {
    let mut out = String::new();
    for h in header {
        for line in h.lines() {
            out.push_str(&format!("# {line}\n"));
        }
    }
    let meta = serde_json::to_value(scenario).map_err(|e| e.to_string())?;
    let Value::Object(meta) = meta else {
        return Err("a scenario serialises to a map".into());
    };
    for (k, v) in &meta {
        if k == "steps" || is_empty(v) {
            continue;
        }
        out.push_str(&format!("{k}: {}\n", flow(v)));
    }
    out.push_str("steps:\n");
    for step in &scenario.steps {
        out.push_str(&render_step(step)?);
    }
    Ok(out)
}

/// One step: the action first, then its modifiers.
pub fn render_step(step: &Step) -> Result<String, String> {
    let action = step.action()?;
    let v = strip(serde_json::to_value(step).map_err(|e| e.to_string())?);
    let Value::Object(map) = v else {
        return Err("a step serialises to a map".into());
    };
    let mut out = String::new();
    let first = map.get(action).cloned().unwrap_or(Value::Null);
    out.push_str(&format!("  - {action}: {}\n", flow(&first)));
    for (k, v) in &map {
        if k != action {
            out.push_str(&format!("    {k}: {}\n", flow(v)));
        }
    }
    Ok(out)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Drop null members (unset options) at the top of a step, and nulls and empty lists inside faults
/// and `expect-close`; message fields keep theirs (a field may be meant to be null or empty).
fn strip(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, x)| {
                    if k == "fault" || k == "expect-close" {
                        (k, strip_deep(x))
                    } else {
                        (k, x)
                    }
                })
                .collect(),
        ),
        other => other,
    }
}

fn strip_deep(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, x)| !x.is_null() && x.as_array().is_none_or(|a| !a.is_empty()))
                .map(|(k, x)| (k, strip_deep(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_deep).collect()),
        other => other,
    }
}

/// JSON in flow style with spaces (`{ "a": 1, "b": [1, 2] }`): valid YAML, readable.
pub fn flow(v: &Value) -> String {
    match v {
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, x)| format!("{}: {}", quote(k), flow(x)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(flow).collect::<Vec<_>>().join(", ")),
        Value::String(s) => quote(s),
        other => other.to_string(),
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::scenario::load::parse_yaml;
    use serde_json::json;

    fn sample() -> Scenario {
        parse_yaml(
            std::path::Path::new("x.yaml"),
            r#"
id: now.x
title: t
spec: s
requirement: r
level: must
protocol: now
peer: server
steps:
  - send: { exec.run: { sessionId: 1, command: "a \"b\"" } }
    fault: [ { split: 3 }, drop, { corrupt-field: { field: msgSize } } ]
  - expect: { exec.started: { sessionId: { capture: sid } } }
    within: 2s
  - expect-close: { within: 1s }
"#,
        )
        .unwrap()
    }

    #[test]
    fn what_is_written_loads_back_the_same() {
        let s = sample();
        let text = render(&s, &["made by a test".into()]).unwrap();
        assert!(text.starts_with("# made by a test\n"), "{text}");
        let back: Scenario = parse_yaml(std::path::Path::new("y.yaml"), &text).unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&s).unwrap(),
            "{text}"
        );
        assert!(
            text.contains(r#"  - send: { "exec.run": { "sessionId": 1, "command": "a \"b\"" } }"#),
            "{text}"
        );
    }

    #[test]
    fn flow_is_spaced_json() {
        assert_eq!(
            flow(&json!({ "a": [1, "x"], "b": {} })),
            r#"{ "a": [1, "x"], "b": {} }"#
        );
    }
}
