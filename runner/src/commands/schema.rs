//! `peercheck schema`: the JSON Schema of scenario files (shipped as docs/scenario.schema.json).

use super::exit;
use crate::cli::SchemaArgs;

/// The schema document: scenario structure, plus each protocol's message schema under `x-messages`.
pub fn schema_json() -> serde_json::Value {
    let mut root = serde_json::to_value(schemars::schema_for!(crate::scenario::Scenario)).unwrap_or_default();
    let mut messages = serde_json::Map::new();
    for p in crate::protocols::all() {
        messages.insert(p.name().to_owned(), p.message_schema());
    }
    if let Some(obj) = root.as_object_mut() {
        obj.insert("x-messages".into(), serde_json::Value::Object(messages));
    }
    root
}

pub fn run(args: &SchemaArgs) -> i32 {
    let text = serde_json::to_string_pretty(&schema_json()).unwrap_or_default() + "\n";
    match &args.output {
        Some(p) => match crate::report::write_atomic(p, text.as_bytes()) {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", p.display());
                exit::USAGE
            }
        },
        None => {
            print!("{text}");
            exit::OK
        }
    }
}
