//! Differential NOW decode: ours vs now-proto-pdu 0.4.4 (see fuzz/src/diff.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| peercheck_fuzz::diff::now_diff(data));
