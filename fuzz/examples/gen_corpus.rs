//! Writes the seed corpus fuzz/corpus/<target>/ from golden/ (the corpus itself is git-ignored).
//!
//! Run from anywhere: `cargo run --manifest-path fuzz/Cargo.toml --example gen_corpus`.
//! Each golden vector becomes an input of every target whose decode path reads it, prefixed with
//! the selector byte of fuzz/src/paths.rs (direction, one write); the vectors of one file and
//! direction are also concatenated into one stream input.

use peercheck_fuzz::paths::{INEDO_IV, INEDO_KEY};
use peercheck_golden::Vector;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = corpus_dir().join(target);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Err(e) = std::fs::write(dir.join(safe), bytes) {
        eprintln!("cannot write corpus file: {e}");
        std::process::exit(1);
    }
}

fn selector(v: &Vector) -> u8 {
    // bit 0 = 0: we decode as the server (the vector travels to the server).
    u8::from(v.direction != "to-server")
}

/// The target(s) that read this vector's bytes as a stream.
fn stream_targets(v: &Vector) -> Vec<&'static str> {
    let p = |k: &str| v.params.get(k).map(String::as_str);
    match v.id.split('.').next() {
        Some("now") => match v.profile.as_deref().unwrap_or("now-1.6") {
            "now-1.3" => vec!["now_stream_1_3"],
            "now-1.0-text" => vec!["now_stream_1_0_text"],
            _ => vec!["now_stream_1_6", "now_stream_1_3"],
        },
        Some("psrp") => match p("framing") {
            Some("fragments") => vec!["psrp_fragments", "psrp_defragment"],
            _ => vec!["psrp_outofproc"],
        },
        Some("inedo") => match (p("phase"), p("encryption")) {
            (Some("frames"), Some("aes")) if p("key") == Some(INEDO_KEY) && p("iv") == Some(INEDO_IV) => {
                vec!["inedo_frames_aes"]
            }
            (Some("frames"), Some("aes")) => vec![],
            (Some("frames"), _) => vec!["inedo_frames"],
            _ => vec!["inedo_handshake"],
        },
        _ => vec![],
    }
}

fn main() {
    let mut streams: BTreeMap<(String, u8), Vec<u8>> = BTreeMap::new();
    let mut n = 0usize;
    for file in peercheck_golden::vector_files() {
        let Ok(vf) = peercheck_golden::load(&file) else {
            eprintln!("skipping {} (does not load)", file.display());
            continue;
        };
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        for v in &vf.vectors {
            let Ok(bytes) = v.bytes() else { continue };
            let sel = selector(v);
            let mut input = vec![sel];
            input.extend_from_slice(&bytes);
            for t in stream_targets(v) {
                write(t, &v.id, &input);
                streams
                    .entry((t.to_owned(), sel))
                    .or_default()
                    .extend_from_slice(&bytes);
                n += 1;
            }
            if v.id.starts_with("now.") && v.profile.as_deref().unwrap_or("now-1.6") == "now-1.6" {
                write("now_diff", &v.id, &bytes);
            }
            // PSRP: the reassembled messages and their CLIXML, for the inner targets.
            if v.id.starts_with("psrp.") {
                let mut d = peercheck_psrp::defragment::Defragmenter::new();
                d.push(&bytes);
                let mut i = 0;
                while let Ok(Some(obj)) = d.next_object() {
                    write("psrp_message", &format!("{}.{i}", v.id), &obj.data);
                    if let Some(body) = obj.data.get(40..) {
                        let body = body.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(body);
                        write("psrp_clixml", &format!("{}.{i}", v.id), body);
                    }
                    i += 1;
                }
            }
            // One vector per golden file input (the loader target).
            let one = peercheck_golden::VectorFile {
                vectors: vec![v.clone()],
            };
            if let Ok(text) = serde_yaml::to_string(&one) {
                write("golden_vectors", &format!("{stem}.{}", v.id), text.as_bytes());
            }
        }
    }
    for ((t, sel), bytes) in &streams {
        let mut input = vec![*sel];
        input.extend_from_slice(bytes);
        write(t, &format!("all-{sel}"), &input);
        // The same stream delivered a few bytes at a time.
        input[0] = sel | (7 << 1);
        write(t, &format!("all-{sel}-chunked"), &input);
    }
    for (i, s) in FAULT_SCRIPTS.iter().enumerate() {
        write("fault_script", &format!("script-{i}"), s.as_bytes());
    }
    // Unstructured-driven targets: a few byte patterns to start from.
    for t in [
        "roundtrip_now",
        "roundtrip_psrp",
        "roundtrip_inedo",
        "sim_now",
        "sim_psrp",
        "sim_inedo",
    ] {
        for seed in 0u64..16 {
            let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let bytes: Vec<u8> = (0..256)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x.to_le_bytes()[0]
                })
                .collect();
            write(t, &format!("seed-{seed}"), &bytes);
        }
    }
    println!(
        "wrote {n} vector inputs and {} streams under {}",
        streams.len(),
        corpus_dir().display()
    );
}

const FAULT_SCRIPTS: &[&str] = &[
    "faults:\n  - { target: exec.data, nth: 2, fault: drop }\n",
    "faults:\n  - fault: { split: 3 }\n  - fault: { delay: 200ms }\n",
    "faults:\n  - fault: { corrupt-field: { field: msgSize, xor: 1 } }\n  - fault: { wrong-length: -4 }\n",
    "faults:\n  - fault: { latency: { delay: 10ms, jitter: 5ms } }\n  - fault: { bandwidth: 100 }\n  - fault: { slice: 1 }\n",
    "faults:\n  - fault: { truncate: 3 }\n  - fault: { garbage: \"00ff\" }\n  - fault: reorder\n  - fault: duplicate\n",
    "faults:\n  - fault: stall\n  - fault: close\n  - fault: reset\n  - fault: { corrupt-byte: { offset: 2 } }\n",
];
