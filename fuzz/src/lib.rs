//! peercheck's fuzz targets (cargo-fuzz). `paths` holds the codec decode paths (shared with the
//! stable regression test in golden/tests/fuzz_regressions.rs); `gen` builds structured messages
//! from a protocol's JSON Schema (structure-aware inputs); `roundtrip`, `sim`, `diff` and `loaders`
//! are the other targets' bodies. See docs/fuzzing.md.
#![forbid(unsafe_code)]

pub mod diff;
pub mod gen;
pub mod loaders;
pub mod paths;
pub mod roundtrip;
pub mod sim;

/// Every target body by name, for the regression replay in `cargo test` of this crate.
pub fn all_targets() -> Vec<(&'static str, paths::Body)> {
    let mut v: Vec<(&'static str, paths::Body)> = paths::CODEC_TARGETS.to_vec();
    v.extend_from_slice(&[
        ("now_diff", diff::now_diff as paths::Body),
        ("roundtrip_now", roundtrip::roundtrip_now),
        ("roundtrip_psrp", roundtrip::roundtrip_psrp),
        ("roundtrip_inedo", roundtrip::roundtrip_inedo),
        ("sim_now", sim::sim_now),
        ("sim_psrp", sim::sim_psrp),
        ("sim_inedo", sim::sim_inedo),
        ("fault_script", loaders::fault_script),
        ("golden_vectors", loaders::golden_vectors),
    ]);
    v
}
