//! Every fault kind, applied by `peercheck simulate` (the NOW agent) over a real loopback socket,
//! observed from the raw bytes a plain TCP client receives.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A client capset (version 1.6, every exec style + IO redirection, heartbeat flag clear).
const CAPSET: &str = "0e000000 10 01 0000 0100 0600 0100 1f00 7f10 00000000";
/// exec.shell, session 5, IO redirection, command "echo hi".
const SHELL: &str = "11000000 13 12 0010 05000000 07 6563686f206869 00 0000 0000";

mod common;
use common::Listening as Sim;

fn sim(faults: &[&str]) -> Sim {
    let extra: Vec<&str> = faults.iter().flat_map(|f| ["--fault", f]).collect();
    simulate(&extra)
}

/// The NOW agent on a loopback port, with `extra` flags.
fn simulate(extra: &[&str]) -> Sim {
    let mut args = vec![
        "simulate",
        "--protocol",
        "now",
        "--role",
        "server",
        "--listen",
        "127.0.0.1:0",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    Sim::start(&args)
}

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

/// Send the capset (and optionally more), then read for `window`: the bytes and how it ended.
fn exchange(sim: &Sim, extra: &[&str], window: Duration) -> (Vec<u8>, &'static str, Duration) {
    let mut s = TcpStream::connect(&sim.addr).unwrap();
    s.write_all(&hex(CAPSET)).unwrap();
    for e in extra {
        s.write_all(&hex(e)).unwrap();
    }
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let mut first = None;
    loop {
        let left = window.saturating_sub(start.elapsed());
        if left.is_zero() {
            return (got, "open", first.unwrap_or(window));
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (got, "eof", first.unwrap_or(window)),
            Ok(n) => {
                first.get_or_insert(start.elapsed());
                got.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (got, "reset", first.unwrap_or(window))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (got, "open", first.unwrap_or(window))
            }
            Err(e) => panic!("{e}"),
        }
    }
}

const W: Duration = Duration::from_millis(600);

fn capset_answer() -> Vec<u8> {
    let (b, _, _) = exchange(&sim(&[]), &[], W);
    assert_eq!(b.len(), 22, "{}", hex::encode(&b));
    b
}

#[test]
fn no_fault_gives_one_capset() {
    let b = capset_answer();
    assert_eq!(&b[4..6], &[0x10, 0x01]);
}

#[test]
fn drop_duplicate_truncate() {
    let (b, _, _) = exchange(&sim(&["channel.capset:drop"]), &[], W);
    assert!(b.is_empty());
    let (b, _, _) = exchange(&sim(&["channel.capset:duplicate"]), &[], W);
    assert_eq!(b.len(), 44);
    assert_eq!(b[..22], b[22..]);
    let (b, _, _) = exchange(&sim(&["channel.capset:truncate=5"]), &[], W);
    assert_eq!(b, capset_answer()[..5]);
}

#[test]
fn corrupt_field_wrong_length_garbage() {
    let clean = capset_answer();
    let (b, _, _) = exchange(&sim(&["channel.capset:corrupt-field=versionMajor"]), &[], W);
    assert_eq!(b.len(), 22);
    assert_eq!(&b[8..10], &[clean[8] ^ 0xff, clean[9] ^ 0xff]);
    assert_eq!(b[..8], clean[..8]);
    let (b, _, _) = exchange(&sim(&["channel.capset:wrong-length=3"]), &[], W);
    assert_eq!(u32::from_le_bytes(b[..4].try_into().unwrap()), 17);
    let (b, _, _) = exchange(&sim(&["channel.capset:garbage=deadbeef"]), &[], W);
    assert_eq!(&b[..4], &[0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(b[4..], clean[..]);
}

#[test]
fn close_reset_stall() {
    let (b, how, _) = exchange(&sim(&["channel.capset:close"]), &[], W);
    assert!(b.is_empty());
    assert_eq!(how, "eof");
    let (b, how, _) = exchange(&sim(&["channel.capset:reset"]), &[], W);
    assert!(b.is_empty());
    assert_eq!(how, "reset");
    let (b, how, _) = exchange(&sim(&["channel.capset:stall"]), &[], W);
    assert!(b.is_empty());
    assert_eq!(how, "open");
}

#[test]
fn delay_latency_bandwidth() {
    let (b, _, first) = exchange(&sim(&["channel.capset:delay=300ms"]), &[], Duration::from_secs(2));
    assert_eq!(b.len(), 22);
    assert!(first >= Duration::from_millis(290), "{first:?}");
    // 22 bytes at 40 bytes/s: the last piece cannot arrive before ~0.5 s.
    let start = Instant::now();
    let (b, _, _) = exchange(
        &sim(&["channel.capset:bandwidth=40"]),
        &[],
        Duration::from_millis(1500),
    );
    assert_eq!(b.len(), 22);
    assert!(start.elapsed() >= Duration::from_millis(400));
}

#[test]
fn split_and_slice_deliver_the_same_bytes() {
    let clean = capset_answer();
    for f in ["channel.capset:split=4", "channel.capset:slice=1"] {
        let (b, _, _) = exchange(&sim(&[f]), &[], W);
        assert_eq!(b, clean, "{f}");
    }
}

#[test]
fn reorder_swaps_started_and_the_first_data() {
    // With the fault, exec.started (class 0x13 type 0x06) is written after the next message.
    let (b, _, _) = exchange(
        &sim(&["exec.started:reorder"]),
        &[SHELL],
        Duration::from_millis(800),
    );
    let mut kinds = Vec::new();
    let mut rest = &b[22..];
    while rest.len() >= 8 {
        let size = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        kinds.push((rest[4], rest[5]));
        rest = &rest[(8 + size).min(rest.len())..];
    }
    assert!(kinds.len() >= 2, "{kinds:?}");
    assert_ne!(
        kinds[0],
        (0x13, 0x06),
        "started should no longer come first: {kinds:?}"
    );
    assert!(kinds.contains(&(0x13, 0x06)), "{kinds:?}");
}

#[test]
fn fault_scripts_target_the_nth_message() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.yaml");
    std::fs::write(
        &f,
        "faults:\n  - { target: channel.capset, nth: 2, fault: drop }\n",
    )
    .unwrap();
    let s = simulate(&["--faults", f.to_str().unwrap()]);
    // One connection: the 1st capset answer is written; the counter is per connection.
    let (b, _, _) = exchange(&s, &[], W);
    assert_eq!(b.len(), 22);
    // A second capset on the same connection is the 2nd: dropped.
    let (b, _, _) = exchange(&s, &[CAPSET], W);
    assert_eq!(b.len(), 22);
}
