//! Every golden vector of every protocol: checked, and snapshotted as annotated hexdumps.
#![allow(clippy::unwrap_used, clippy::panic)]

use peercheck_golden::{load, vector_files};

#[test]
fn every_golden_vector_holds() {
    let mut failures = Vec::new();
    let mut count = 0;
    for f in vector_files() {
        let file = load(&f).unwrap();
        for v in &file.vectors {
            count += 1;
            let r = std::panic::catch_unwind(|| v.check());
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(e),
                Err(_) => failures.push(format!("{}: PANIC while checking", v.id)),
            }
        }
    }
    assert!(count > 0, "no golden vectors found");
    assert!(
        failures.is_empty(),
        "{} of {count} vectors fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn ids_are_unique_and_sources_named() {
    let mut seen = std::collections::HashSet::new();
    for f in vector_files() {
        for v in load(&f).unwrap().vectors {
            assert!(seen.insert(v.id.clone()), "duplicate golden id {}", v.id);
            assert!(!v.source.trim().is_empty(), "{} has no source", v.id);
        }
    }
}

#[test]
fn annotated_hexdumps() {
    insta::glob!("../", "*/*.yaml", |path| {
        let file = load(path).unwrap();
        let text: String = file.vectors.iter().map(|v| v.render() + "\n").collect();
        insta::assert_snapshot!(text);
    });
}
