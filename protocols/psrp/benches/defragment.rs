//! Benchmarks: defragment + decode a stream of mixed PSRP messages, and reassemble one 100 MB object
//! from 32 KiB fragments (throughput and peak RSS, read from /proc/self/status VmHWM).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation,
    clippy::indexing_slicing
)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use peercheck_psrp::defragment::Defragmenter;
use peercheck_psrp::fragment::Fragment;
use peercheck_wire::{Role, SessionOptions, WireSession};
use serde_json::json;

fn session(role: Role) -> Box<dyn WireSession> {
    let mut o = SessionOptions {
        local_role: Some(role),
        ..Default::default()
    };
    o.params.insert("framing".into(), "fragments".into());
    peercheck_psrp::protocol().new_session(&o).unwrap()
}

/// A server-to-client stream: pool opening, then 200 pipelines of output, records and a state.
fn mixed_stream() -> (Vec<u8>, usize) {
    let mut s = session(Role::Server);
    let mut out = Vec::new();
    let mut n = 0;
    let mut push = |m: serde_json::Value, out: &mut Vec<u8>| {
        out.extend(s.encode(&m).unwrap());
        n += 1;
    };
    push(json!({ "session-capability": {} }), &mut out);
    push(json!({ "application-private-data": {} }), &mut out);
    push(json!({ "runspacepool-state": { "runspaceState": 2 } }), &mut out);
    let pid = "0b3f5a2e-1111-4222-8333-444455556666";
    for i in 0..200 {
        push(
            json!({ "pipeline-output": { "pid": pid, "value": { "S": format!("line {i} of output text") } } }),
            &mut out,
        );
        push(
            json!({ "verbose-record": { "pid": pid, "message": "verbose text" } }),
            &mut out,
        );
        push(
            json!({ "progress-record": { "pid": pid, "activity": "Working", "percentComplete": i % 100 } }),
            &mut out,
        );
        push(
            json!({ "pipeline-output": { "pid": pid, "value": { "S": "x".repeat(40_000) } } }),
            &mut out,
        );
        push(
            json!({ "pipeline-state": { "pid": pid, "pipelineState": 4 } }),
            &mut out,
        );
    }
    (out, n)
}

fn bench_mixed(c: &mut Criterion) {
    let (stream, count) = mixed_stream();
    let mut g = c.benchmark_group("psrp");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("defragment+decode mixed stream", |b| {
        b.iter_batched(
            || session(Role::Client),
            |mut rx| {
                for chunk in stream.chunks(64 * 1024) {
                    rx.push_received(chunk);
                    while let Some(d) = rx.next_received().unwrap() {
                        criterion::black_box(d);
                    }
                }
                rx.finish().unwrap();
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
    println!("mixed stream: {} bytes, {count} messages", stream.len());
}

const OBJECT: usize = 100 * 1000 * 1000;
const FRAGMENT: usize = 32 * 1024;

/// Feed a 100 MB object fragment by fragment (fragments built on the fly, so the input is never
/// held whole) and return the reassembled size.
fn reassemble_100mb() -> usize {
    let blob_len = FRAGMENT - 21;
    let pattern = vec![0x5Au8; blob_len];
    let mut d = Defragmenter::new();
    let count = OBJECT.div_ceil(blob_len);
    let mut buf = Vec::with_capacity(FRAGMENT);
    for i in 0..count {
        let len = blob_len.min(OBJECT - i * blob_len);
        let flags = u8::from(i == 0) | if i == count - 1 { 2 } else { 0 };
        buf.clear();
        Fragment {
            object_id: 1,
            fragment_id: i as u64,
            flags,
            blob: Vec::new(),
        }
        .header()
        .encode_into(&mut buf);
        buf.truncate(17);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
        buf.extend_from_slice(&pattern[..len]);
        d.push(&buf);
        if let Some(o) = d.next_object().unwrap() {
            return o.data.len();
        }
    }
    0
}

fn status_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn bench_100mb(c: &mut Criterion) {
    // Peak memory, once: reset the high-water mark (clear_refs 5), then compare it to the RSS before.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kb("VmRSS:");
    let hwm_before = status_kb("VmHWM:");
    let got = reassemble_100mb();
    let hwm = status_kb("VmHWM:");
    let peak = hwm.saturating_sub(before) * 1024;
    println!(
        "reassemble 100 MB: {got} bytes; RSS before {before} kB (HWM before {hwm_before} kB), HWM after {hwm} kB; \
         peak growth {:.1} MB = {:.2}x the object",
        peak as f64 / 1e6,
        peak as f64 / OBJECT as f64
    );
    assert_eq!(got, OBJECT);
    assert!(
        peak <= 2 * OBJECT as u64,
        "peak {peak} exceeds twice the object size"
    );

    let mut g = c.benchmark_group("psrp");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(OBJECT as u64));
    g.bench_function("reassemble 100 MB from 32 KiB fragments", |b| {
        b.iter(reassemble_100mb)
    });
    g.finish();
}

criterion_group!(benches, bench_mixed, bench_100mb);
criterion_main!(benches);
