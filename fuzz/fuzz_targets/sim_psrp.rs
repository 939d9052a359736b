//! Arbitrary operation sequences against a simulator peer (see fuzz/src/sim.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| peercheck_fuzz::sim::sim_psrp(data));
