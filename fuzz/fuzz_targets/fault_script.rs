//! YAML loader (see fuzz/src/loaders.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| peercheck_fuzz::loaders::fault_script(data));
