//! Replays fuzz/regressions/<target>/* through every target's body (codec, differential,
//! round-trip, simulator and loader targets) without libFuzzer: `cargo test --manifest-path fuzz/Cargo.toml`.

use std::path::Path;

#[test]
fn every_regression_replays_without_panicking() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut n = 0;
    for (name, body) in peercheck_fuzz::all_targets() {
        let Ok(rd) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        let mut files: Vec<_> = rd.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).expect("readable regression file");
            body(&bytes);
            n += 1;
        }
    }
    eprintln!("replayed {n} regression(s)");
}

#[test]
fn every_target_takes_trivial_inputs() {
    for (_, body) in peercheck_fuzz::all_targets() {
        body(&[]);
        body(&[0; 32]);
        body(&[0xff; 300]);
    }
}
