//! Replays every committed fuzz regression (fuzz/regressions/<target>/*) through the same decode
//! path as its cargo-fuzz target, on stable, as part of `cargo test`. The decode paths are the very
//! file the fuzz targets call (fuzz/src/paths.rs), included here. A target folder with no files yet
//! is fine; a panic is a regression. Targets outside the codecs (simulator peers, fault scripts,
//! the differential target) are replayed by `cargo test --manifest-path fuzz/Cargo.toml`.
#![allow(clippy::unwrap_used, clippy::panic)]

#[path = "../../fuzz/src/paths.rs"]
#[allow(dead_code)]
mod paths;

use std::path::{Path, PathBuf};

fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    out.retain(|p| {
        p.file_name()
            .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
    });
    out.sort();
    out
}

#[test]
fn every_codec_regression_decodes_without_panicking() {
    let mut replayed = 0;
    for (name, decode) in paths::CODEC_TARGETS {
        for f in files(&regressions_dir().join(name)) {
            let bytes = std::fs::read(&f).unwrap();
            let r = std::panic::catch_unwind(|| decode(&bytes));
            assert!(r.is_ok(), "{name}: {} panics again", f.display());
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} codec fuzz regression(s)");
}

#[test]
fn regression_folders_are_named_after_targets() {
    // Codec targets are replayed above; the rest by fuzz/'s own tests.
    let others = [
        "now_diff",
        "roundtrip_now",
        "roundtrip_psrp",
        "roundtrip_inedo",
        "sim_now",
        "sim_psrp",
        "sim_inedo",
        "fault_script",
        "golden_vectors",
    ];
    let Ok(rd) = std::fs::read_dir(regressions_dir()) else {
        return;
    };
    for e in rd.flatten().filter(|e| e.path().is_dir()) {
        let n = e.file_name().to_string_lossy().into_owned();
        assert!(
            paths::CODEC_TARGETS.iter().any(|(t, _)| *t == n) || others.contains(&n.as_str()),
            "fuzz/regressions/{n} is not a fuzz target"
        );
    }
}

#[test]
fn the_decode_paths_survive_hostile_basics() {
    // The paths themselves must hold on trivial inputs (so a broken include is noticed).
    for (_, decode) in paths::CODEC_TARGETS {
        decode(&[]);
        decode(&[0]);
        decode(&[1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        decode(&[0x0e; 64]);
    }
}
