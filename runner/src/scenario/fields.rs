//! Field names a message may have, read from the protocol's JSON Schema of the structured form
//! (schemars output: `oneOf` of `{ name: $ref | allOf[...] }`, definitions with `properties`).

use serde_json::Value;
use std::collections::BTreeSet;

/// The top-level field names of message `name`, or `None` when the schema does not say
/// (then nothing is checked).
pub fn field_names(schema: &Value, name: &str) -> Option<BTreeSet<String>> {
    let variants = schema.get("oneOf").or_else(|| schema.get("anyOf"))?.as_array()?;
    let node = variants.iter().find_map(|v| v.get("properties")?.get(name))?;
    let mut out = BTreeSet::new();
    collect(schema, node, &mut out, 0).then_some(out)
}

/// Add the property names of `node` to `out`; false when the node is open-ended or unresolvable.
fn collect(root: &Value, node: &Value, out: &mut BTreeSet<String>, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let Some(target) = r
            .strip_prefix("#/definitions/")
            .and_then(|d| root.get("definitions")?.get(d))
        else {
            return false;
        };
        return collect(root, target, out, depth + 1);
    }
    let mut known = false;
    if let Some(all) = node.get("allOf").and_then(Value::as_array) {
        for part in all {
            if !collect(root, part, out, depth + 1) {
                return false;
            }
        }
        known = true;
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        out.extend(props.keys().cloned());
        known = true;
    }
    // A message without fields (`null`/empty object) is known to have none.
    if node.get("type").and_then(Value::as_str) == Some("null") {
        known = true;
    }
    known
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refs_and_all_of_are_followed() {
        let schema = json!({
            "oneOf": [ { "properties": { "m": { "allOf": [ { "$ref": "#/definitions/A" }, { "$ref": "#/definitions/B" } ] } } } ],
            "definitions": { "A": { "properties": { "a": {} } }, "B": { "properties": { "b": {} } } }
        });
        let names = field_names(&schema, "m").unwrap();
        assert!(names.contains("a") && names.contains("b"));
        assert!(field_names(&schema, "other").is_none());
    }
}
