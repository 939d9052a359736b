//! Keys and credentials never reach a terminal or a log: fields whose names say they hold one are
//! replaced before printing.

use serde_json::Value;

/// Field names (case-insensitive substrings) whose values are secrets.
const SECRET_WORDS: &[&str] = &[
    "key",
    "password",
    "passwd",
    "secret",
    "credential",
    "token",
    "securestring",
];

/// Is a field or parameter with this name a secret?
pub fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    // `keyExchange`-style flags and ids are not secrets; the values of key material are.
    SECRET_WORDS.iter().any(|w| n.contains(w)) && !n.ends_with("id")
}

/// A copy of `v` with every secret field's value replaced by `"<redacted>"`.
pub fn redact(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = if is_secret(k) && !x.is_null() {
                        Value::String("<redacted>".into())
                    } else {
                        redact(x)
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_hidden_and_the_rest_kept() {
        let v =
            redact(&json!({ "sessionKey": "00ff", "nested": { "password": "x", "user": "u" }, "keyId": 3 }));
        assert_eq!(
            v,
            json!({ "sessionKey": "<redacted>", "nested": { "password": "<redacted>", "user": "u" }, "keyId": 3 })
        );
    }
}
