//! Decode + re-encode of a mixed NOW-PROTO 1.6 stream: peercheck-now vs now-proto-pdu 0.4.4 on the
//! same bytes in the same run. Run: `cargo bench -p peercheck-now --bench stream`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use now_proto_pdu::ironrdp_core::{encode_vec, Decode, ReadCursor};
use peercheck_now::{encode_message, EncodeCx, Framer, Layout, Profile};
use peercheck_wire::Role;
use serde_json::json;

/// A session-like mix: capset both ways, heartbeats, every exec style, much output, results.
fn stream() -> Vec<u8> {
    let layout = Layout::new(Profile::Now16);
    let cx = EncodeCx {
        layout: &layout,
        role: Role::Server,
    };
    let mut msgs = vec![
        json!({ "channel.capset": { "systemCapset": 1, "sessionCapset": 31, "execCapset": 0x107f, "heartbeatInterval": 60 } }),
        json!({ "channel.capset": { "execCapset": 0x1005, "heartbeatInterval": 60 } }),
    ];
    for i in 0..50u32 {
        msgs.push(
            json!({ "exec.run": { "sessionId": i, "command": "notepad.exe", "directory": "C:\\Temp" } }),
        );
        msgs.push(json!({ "exec.pwsh": { "sessionId": i, "command": "Get-ChildItem -Recurse", "msgFlags": 0x1000 } }));
        msgs.push(json!({ "exec.shell": { "sessionId": i, "command": "ls -la", "shell": "/bin/bash" } }));
        msgs.push(json!({ "exec.started": { "sessionId": i } }));
        for j in 0..8u8 {
            let chunk: String = (0..(64 + u32::from(j) * 40))
                .map(|k| format!("{:02x}", (k % 251) as u8))
                .collect();
            msgs.push(json!({ "exec.data": { "sessionId": i, "msgFlags": 4, "data": chunk } }));
        }
        msgs.push(json!({ "exec.data": { "sessionId": i, "msgFlags": 9, "data": "6f6f7073" } }));
        msgs.push(json!({ "channel.heartbeat": {} }));
        msgs.push(json!({ "exec.result": { "sessionId": i, "exitCode": i % 3, "status": {} } }));
        msgs.push(json!({ "session.msgbox-req": { "requestId": i, "title": "T", "text": "Continue?", "msgFlags": 9 } }));
        msgs.push(json!({ "session.msgbox-rsp": { "requestId": i, "response": 6 } }));
    }
    let mut out = Vec::new();
    for m in msgs {
        let msg = peercheck_now::parse_structured(&m).unwrap();
        out.extend(encode_message(&msg, &cx).unwrap());
    }
    out
}

fn ours(bytes: &[u8]) -> usize {
    let layout = Layout::new(Profile::Now16);
    let cx = EncodeCx {
        layout: &layout,
        role: Role::Server,
    };
    let mut framer = Framer::new(layout).untraced();
    framer.push(bytes);
    let mut written = 0;
    while let Some(frame) = framer.next_frame().unwrap() {
        written += encode_message(&frame.message, &cx).unwrap().len();
    }
    written
}

fn theirs(bytes: &[u8]) -> usize {
    let mut cursor = ReadCursor::new(bytes);
    let mut written = 0;
    while !cursor.is_empty() {
        let msg = now_proto_pdu::NowMessage::decode(&mut cursor).unwrap();
        written += encode_vec(&msg).unwrap().len();
    }
    written
}

fn bench(c: &mut Criterion) {
    let input = stream();
    assert_eq!(ours(&input), input.len());
    assert_eq!(theirs(&input), input.len());
    let mut g = c.benchmark_group("now-stream-decode-encode");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("peercheck-now", |b| b.iter(|| ours(black_box(&input))));
    g.bench_function("now-proto-pdu-0.4.4", |b| b.iter(|| theirs(black_box(&input))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
