//! `peercheck record --tls-intercept`: an Inedo SSL exchange between the simulator's client and
//! server is decoded inside TLS (a transparent proxy sees only TLS records after the reply), the
//! recording replays against the correct simulator and fails at the framed answer against one
//! that frames strings wrongly. The real binary, loopback sockets, bounded waits.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used
)]

use std::path::Path;

mod common;
use common::Listening;

/// Run peercheck to the end (bounded): exit code and everything it printed.
fn run(args: &[&str]) -> (Option<i32>, String) {
    let o = common::run_bounded(common::peercheck(args), None, 60, "peercheck");
    (o.status.code(), common::text(&o))
}

/// Record the simulator's Inedo SSL client ↔ server through `record` (with `extra` flags).
fn record(extra: &[&str], out: &Path) -> String {
    let server = Listening::start(&[
        "simulate",
        "--protocol",
        "inedo",
        "--role",
        "server",
        "--listen",
        "127.0.0.1:0",
        "--param",
        "encryption=ssl",
    ]);
    let o = out.display().to_string();
    let mut args = vec![
        "record",
        "--protocol",
        "inedo",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &server.addr,
        "-o",
        &o,
        "--idle-timeout",
        "10",
        "--param",
        "encryption=ssl",
    ];
    args.extend_from_slice(extra);
    let recorder = Listening::start(&args);
    let (code, out) = run(&[
        "simulate",
        "--protocol",
        "inedo",
        "--role",
        "client",
        "--connect",
        &recorder.addr,
        "--param",
        "encryption=ssl",
    ]);
    let (status, log) = recorder.finish(30);
    assert!(status.success(), "{log}");
    assert_eq!(
        code,
        Some(0),
        "the client completes through the proxy: {out}\n{log}"
    );
    log
}

#[test]
fn tls_intercept_records_the_frames_inside_inedo_ssl() {
    let dir = tempfile::tempdir().unwrap();

    // Without interception the proxy forwards TLS records it cannot read.
    let plain = dir.path().join("plain.yaml");
    let log = record(&[], &plain);
    assert!(log.contains("DECODE ERROR"), "{log}");
    assert!(
        !std::fs::read_to_string(&plain)
            .unwrap()
            .contains("meta.get-agent-root-path"),
        "{log}"
    );

    let case = dir.path().join("ssl.yaml");
    let log = record(&["--tls-intercept"], &case);
    assert!(!log.contains("DECODE ERROR"), "{log}");
    assert!(
        log.contains("server -> client (under test)  meta.get-agent-root-path-reply"),
        "the frame inside TLS is decoded: {log}"
    );
    let yaml = std::fs::read_to_string(&case).unwrap();
    assert!(yaml.contains("--tls-intercept"), "{yaml}");
    let steps: Vec<&str> = yaml.lines().filter(|l| l.starts_with("  - ")).collect();
    let reply = steps
        .iter()
        .position(|s| s.starts_with(r#"  - expect: { "meta.get-agent-root-path-reply""#))
        .unwrap_or_else(|| panic!("{yaml}"))
        + 1;

    let c = case.display().to_string();
    let (code, out) = run(&["replay", &c, "--seed", "3"]);
    assert_eq!(code, Some(0), "the correct simulator passes: {out}\n{yaml}");

    let json = dir.path().join("r.json");
    let j = json.display().to_string();
    let (code, out) = run(&[
        "replay",
        &c,
        "--seed",
        "3",
        "--misbehave",
        "inedo-string-length-fixed-int32",
        "--json",
        &j,
    ]);
    assert_eq!(code, Some(1), "{out}");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["step"], reply, "fails at the framed answer: {r}\n{yaml}");
    assert!(r["reason"].as_str().unwrap().contains("`path`"), "{r}");
}

#[test]
fn tls_intercept_is_refused_where_there_is_no_tls() {
    let (code, out) = run(&[
        "record",
        "--protocol",
        "psrp",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        "127.0.0.1:9",
        "--tls-intercept",
    ]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("--tls-intercept is for Inedo SSL"), "{out}");
}
