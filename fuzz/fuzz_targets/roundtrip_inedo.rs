//! Structure-aware round trip (see fuzz/src/roundtrip.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| peercheck_fuzz::roundtrip::roundtrip_inedo(data));
