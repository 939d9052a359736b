//! The shipped JSON Schema for scenario files is the one the binary generates.
#![allow(clippy::unwrap_used)]

#[test]
fn docs_scenario_schema_is_current() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_peercheck"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/scenario.schema.json");
    let shipped = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        shipped == String::from_utf8_lossy(&out.stdout),
        "docs/scenario.schema.json is stale: run `cargo run -p peercheck -- schema -o docs/scenario.schema.json`"
    );
}
