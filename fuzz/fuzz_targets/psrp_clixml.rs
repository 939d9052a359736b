//! Decode path `psrp_clixml` (see fuzz/src/paths.rs): must never panic, whatever the bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| peercheck_fuzz::paths::psrp_clixml(data));
