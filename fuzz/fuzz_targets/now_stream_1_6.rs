//! Decode path `now_stream_1_6` (see fuzz/src/paths.rs): must never panic, whatever the bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| peercheck_fuzz::paths::now_stream_1_6(data));
