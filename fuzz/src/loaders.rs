//! Text loaders: the fault-script loader and the golden-vector loader (YAML from users' files).
//! The scenario loader lives in the `peercheck` binary crate and parses with the same serde_yaml
//! machinery; see docs/fuzzing.md for how it is covered.

/// `peercheck_simulator::faults::FaultScript::from_yaml` (also validates every rule).
pub fn fault_script(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(script) = peercheck_simulator::faults::FaultScript::from_yaml(&text) {
        // A loaded script must plan without panicking on any message.
        let kinds: Vec<_> = script.faults.iter().map(|r| r.fault.clone()).collect();
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        let _ = peercheck_simulator::faults::plan(&kinds, data.to_vec(), &[], "msgSize", &mut rng);
    }
}

/// A golden vector file as `peercheck golden` and the golden tests load it, then each vector's
/// checks (decode, encode, prefixes) — the path users' own vector files take.
pub fn golden_vectors(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(file) = serde_yaml::from_str::<peercheck_golden::VectorFile>(&text) {
        for v in file.vectors.iter().take(4) {
            let _ = v.check();
        }
    }
}
