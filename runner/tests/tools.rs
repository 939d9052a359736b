//! Integration tests of the tool commands (`encode`, `golden export|verify|shim`, `record`,
//! `replay`, `diff`, `shrink`): the real `peercheck` binary, real sockets and child processes,
//! the built-in simulator as the implementation. Every wait is bounded.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]

use peercheck_golden::export::Export;
use peercheck_golden::{protocol_of, GoldenVerdict};
use peercheck_wire::session::{Role, SessionOptions};
use std::path::Path;
use std::process::Output;

mod common;
use common::{bin, steps_of, text, Listening};

/// Run the binary with `args` (and `stdin`), killed after `secs`.
fn run_in(args: &[&str], stdin: Option<&str>, secs: u64) -> Output {
    common::run_bounded(common::peercheck(args), stdin, secs, "a peercheck process")
}

fn run(args: &[&str]) -> Output {
    run_in(args, None, 60)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The first valid vector of each protocol (from golden/).
fn first_valid_vectors() -> Vec<peercheck_golden::Vector> {
    let mut out: Vec<peercheck_golden::Vector> = Vec::new();
    for (_, v) in peercheck_golden::export::collect(None).unwrap() {
        let p = v.id.split('.').next().unwrap().to_owned();
        if v.verdict == GoldenVerdict::Valid
            && v.message.is_some()
            && !out.iter().any(|o| o.id.starts_with(&format!("{p}.")))
        {
            out.push(v);
        }
    }
    assert_eq!(out.len(), 3, "one valid vector per protocol");
    out
}

fn vector_args(v: &peercheck_golden::Vector) -> Vec<String> {
    // `psrp` means raw fragments and `psrp-outofproc` the line framing (as in `decode`).
    let proto = match (
        v.id.split('.').next().unwrap(),
        v.params.get("framing").map(String::as_str),
    ) {
        ("psrp", Some("fragments")) => "psrp",
        ("psrp", _) => "psrp-outofproc",
        (p, _) => p,
    };
    let mut a = vec![
        "--protocol".to_owned(),
        proto.to_owned(),
        "--direction".into(),
        v.direction.clone(),
    ];
    if let Some(p) = &v.profile {
        a.extend(["--profile".into(), p.clone()]);
    }
    for (k, x) in v.params.iter().filter(|(k, _)| *k != "framing") {
        a.extend(["--param".into(), format!("{k}={x}")]);
    }
    a
}

fn clean_hex(h: &str) -> String {
    hex::encode(peercheck_wire::hexparse::parse_hex(h).unwrap())
}

#[test]
fn encode_gives_the_golden_bytes_and_an_annotated_dump_for_each_protocol() {
    for v in first_valid_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.yaml");
        std::fs::write(&file, serde_yaml::to_string(v.message.as_ref().unwrap()).unwrap()).unwrap();
        let mut args = vec!["encode".to_owned()];
        args.extend(vector_args(&v));
        args.extend(["--yaml".into(), file.display().to_string()]);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&a);
        assert!(o.status.success(), "{}: {}", v.id, text(&o));
        assert_eq!(stdout(&o).trim(), clean_hex(&v.hex), "{}", v.id);

        let mut a2 = a.clone();
        a2.extend(["--format", "annotated"]);
        let o = run(&a2);
        assert!(o.status.success(), "{}: {}", v.id, text(&o));
        let dump = stdout(&o);
        assert!(dump.contains("00000000  "), "a hexdump: {dump}");
        assert!(
            dump.lines().filter(|l| l.contains(" = ")).count() >= 2,
            "field lines: {dump}"
        );
    }
}

#[test]
fn encode_reads_stdin_and_names_unknown_messages() {
    let o = run_in(
        &["encode", "--protocol", "now"],
        Some("{ exec.abort: { sessionId: 0x1234, exitCode: 1 } }\n"),
        30,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(stdout(&o).trim(), "08000000130100003412000001000000");
    let o = run_in(&["encode", "--protocol", "now"], Some("{ exec.abrot: {} }\n"), 30);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("did you mean exec.abort"), "{}", text(&o));
}

#[test]
fn decode_then_encode_round_trips_every_valid_golden_vector() {
    let valid: Vec<peercheck_golden::Vector> = peercheck_golden::export::collect(None)
        .unwrap()
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| v.verdict == GoldenVerdict::Valid)
        .collect();
    assert!(valid.len() > 50, "only {} valid vectors", valid.len());
    // Two processes per vector: spread over a few threads to keep the test short.
    let chunks: Vec<&[peercheck_golden::Vector]> = valid.chunks(valid.len().div_ceil(4)).collect();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|c| scope.spawn(|| c.iter().filter_map(round_trip).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} do not round-trip:\n{}",
        failures.len(),
        valid.len(),
        failures.join("\n")
    );
}

/// `decode` the vector's bytes, feed its `name` + `fields` to `encode`: `None` when the bytes come back.
fn round_trip(v: &peercheck_golden::Vector) -> Option<String> {
    let mut args = vec!["decode".to_owned()];
    args.extend(vector_args(v));
    args.extend(["--hex".into(), v.hex.clone()]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run(&a);
    if !o.status.success() {
        return Some(format!("{}: decode failed: {}", v.id, text(&o).trim()));
    }
    let d: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    let msg = serde_json::json!({ d["name"].as_str().unwrap(): d["fields"] });
    let mut args = vec!["encode".to_owned()];
    args.extend(vector_args(v));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run_in(&a, Some(&msg.to_string()), 30);
    if !o.status.success() {
        return Some(format!("{}: encode failed: {}", v.id, text(&o).trim()));
    }
    let got = stdout(&o).trim().to_owned();
    (got != clean_hex(&v.hex))
        .then(|| format!("{}: re-encoded to {got} (golden {})", v.id, clean_hex(&v.hex)))
}

fn exported(dir: &Path) -> Export {
    let out = dir.join("v.json");
    let o = run(&[
        "golden",
        "export",
        "--format",
        "json",
        "-o",
        &out.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

#[test]
fn golden_export_json_round_trips_through_the_codecs() {
    let dir = tempfile::tempdir().unwrap();
    let e = exported(dir.path());
    assert_eq!(e.schema, "peercheck-golden-vectors");
    assert_eq!(e.schema_version, 1);
    assert!(e.generator.starts_with("peercheck "));
    let tests: Vec<_> = e.test_groups.iter().flat_map(|g| g.tests.iter()).collect();
    assert_eq!(tests.len(), e.number_of_tests);
    assert_eq!(
        e.counts.valid + e.counts.invalid + e.counts.acceptable,
        e.number_of_tests
    );
    assert!(e.counts.invalid > 0 && e.counts.acceptable > 0);
    for p in ["now", "psrp", "inedo"] {
        assert!(e.test_groups.iter().any(|g| g.protocol == p), "no {p} group");
    }
    assert!(tests
        .iter()
        .any(|t| t.errata.contains(&"NOW-8".to_owned()) && t.flags.contains(&"errata-now-8".to_owned())));
    for t in tests {
        let proto = protocol_of(&t.id).unwrap();
        let bytes = hex::decode(&t.hex).unwrap();
        let sender = if t.direction == "to-server" {
            Role::Client
        } else {
            Role::Server
        };
        let opts = |role| SessionOptions {
            local_role: Some(role),
            profile: Some(t.profile.clone()),
            params: t.params.clone(),
        };
        let mut rx = proto.new_session(&opts(sender.other())).unwrap();
        rx.push_received(&bytes);
        let got = rx.next_received();
        match t.verdict {
            GoldenVerdict::Invalid => {
                let rejected = got.is_err() || rx.next_received().is_err() || rx.finish().is_err();
                assert!(rejected, "{}: invalid vector accepted", t.id);
            }
            _ => {
                let m = got
                    .unwrap_or_else(|e| panic!("{}: {e}", t.id))
                    .unwrap_or_else(|| panic!("{}: no message", t.id));
                assert_eq!(Some(&m.name), t.name.as_ref(), "{}", t.id);
                let mut diffs = Vec::new();
                peercheck_golden::contains(t.fields.as_ref().unwrap(), &m.fields, &m.name, &mut diffs);
                assert!(diffs.is_empty(), "{}: {diffs:?}", t.id);
                if t.verdict == GoldenVerdict::Valid {
                    let mut tx = proto.new_session(&opts(sender)).unwrap();
                    let msg = serde_json::json!({ t.name.clone().unwrap(): t.fields.clone().unwrap() });
                    assert_eq!(hex::encode(tx.encode(&msg).unwrap()), t.hex, "{}", t.id);
                }
            }
        }
    }
}

#[test]
fn golden_export_hex_dir_has_one_hex_and_one_json_per_vector() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("vectors");
    let o = run(&[
        "golden",
        "export",
        "--protocol",
        "now",
        "--format",
        "hex-dir",
        "-o",
        &out.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    let mut n = 0;
    for g in index["testGroups"].as_array().unwrap() {
        assert_eq!(g["protocol"], "now");
        for id in g["tests"].as_array().unwrap() {
            let id = id.as_str().unwrap();
            let hexfile = std::fs::read_to_string(out.join(format!("{id}.hex"))).unwrap();
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(out.join(format!("{id}.json"))).unwrap())
                    .unwrap();
            assert_eq!(hexfile.trim(), json["hex"].as_str().unwrap());
            assert_eq!(json["id"], id);
            n += 1;
        }
    }
    assert_eq!(n, index["numberOfTests"].as_u64().unwrap() as usize);
    assert!(n > 20);
}

#[test]
fn golden_export_yaml_parses() {
    let o = run(&["golden", "export", "--protocol", "inedo", "--format", "yaml"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_yaml::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["schema"], "peercheck-golden-vectors");
    assert!(v["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["protocol"] == "inedo"));
}

#[test]
fn golden_verify_passes_the_reference_shim() {
    let shim = format!("'{}' golden shim", bin());
    let o = run_in(&["golden", "verify", "--exec", &shim], None, 120);
    assert!(o.status.success(), "{}", text(&o));
    assert!(stdout(&o).contains(" 0 disagree"), "{}", text(&o));
}

/// A shim that wraps the reference one and gets session ids wrong by one.
const WRONG_SHIM: &str = r#"
import json, subprocess, sys
ref = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
for line in sys.stdin:
    ref.stdin.write(line); ref.stdin.flush()
    answer = json.loads(ref.stdout.readline())
    fields = answer.get("fields")
    if isinstance(fields, dict) and isinstance(fields.get("sessionId"), int):
        fields["sessionId"] += 1
    print(json.dumps(answer), flush=True)
"#;

#[test]
fn golden_verify_reports_a_wrong_shim_field_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("wrong_shim.py");
    std::fs::write(&script, WRONG_SHIM).unwrap();
    let shim = format!("python3 '{}' '{}' golden shim", script.display(), bin());
    let o = run_in(
        &["golden", "verify", "--protocol", "now", "--exec", &shim],
        None,
        120,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = stdout(&o);
    assert!(out.contains("DISAGREE now.exec.abort [valid]"), "{out}");
    assert!(
        out.contains("exec.abort.sessionId: expected 4660, got 4661"),
        "{out}"
    );
    assert!(
        !out.contains("DISAGREE now.channel.capset"),
        "capsets have no session id: {out}"
    );
}

/// Record NOW between the simulator's client and server; the scenario passes against the correct
/// server and fails at the exec.started expect against one that ignores session ids.
#[test]
fn record_a_now_exchange_then_replay_it() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case.yaml");
    let server = Listening::start(&[
        "simulate",
        "--protocol",
        "now",
        "--role",
        "server",
        "--listen",
        "127.0.0.1:0",
    ]);
    let recorder = Listening::start(&[
        "record",
        "--protocol",
        "now",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &server.addr,
        "-o",
        &case.display().to_string(),
        "--idle-timeout",
        "10",
    ]);
    let client = run_in(
        &[
            "simulate",
            "--protocol",
            "now",
            "--role",
            "client",
            "--connect",
            &recorder.addr,
        ],
        None,
        30,
    );
    assert!(client.status.success(), "{}", text(&client));
    let (status, log) = recorder.finish(30);
    assert!(status.success(), "{log}");
    assert!(
        log.contains("client -> server  exec.run"),
        "one line per message: {log}"
    );
    assert!(
        log.contains("server -> client (under test)  exec.started"),
        "{log}"
    );
    let yaml = std::fs::read_to_string(&case).unwrap();
    let steps = steps_of(&yaml);
    assert!(
        steps.iter().any(|s| s.starts_with("  - send: { \"exec.run\"")),
        "{yaml}"
    );
    let started = steps
        .iter()
        .position(|s| s.starts_with("  - expect: { \"exec.started\""))
        .unwrap_or_else(|| panic!("{yaml}"));
    assert!(
        !yaml.contains("channel.heartbeat"),
        "keep-alives are not recorded: {yaml}"
    );

    let c = case.display().to_string();
    let o = run(&["replay", &c, "--seed", "1"]);
    assert!(
        o.status.success(),
        "the correct simulator passes: {}\n{yaml}",
        text(&o)
    );
    let json = dir.path().join("r.json");
    let o = run(&[
        "replay",
        &c,
        "--seed",
        "1",
        "--misbehave",
        "now-ignore-session-id",
        "--json",
        &json.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["verdict"], "fail");
    assert_eq!(
        r["step"],
        started + 1,
        "fails at the exec.started step: {}\n{yaml}",
        text(&o)
    );
    assert!(
        r["mismatches"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("sessionId"),
        "{r}"
    );
}

/// With the client under test, the client's session id becomes a capture the server side reuses.
#[test]
fn record_with_the_client_under_test_captures_its_session_ids() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("client.yaml");
    let server = Listening::start(&[
        "simulate",
        "--protocol",
        "now",
        "--role",
        "server",
        "--listen",
        "127.0.0.1:0",
    ]);
    let recorder = Listening::start(&[
        "record",
        "--protocol",
        "now",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &server.addr,
        "--under-test",
        "client",
        "-o",
        &case.display().to_string(),
        "--idle-timeout",
        "10",
    ]);
    let client = run_in(
        &[
            "simulate",
            "--protocol",
            "now",
            "--role",
            "client",
            "--connect",
            &recorder.addr,
        ],
        None,
        30,
    );
    assert!(client.status.success(), "{}", text(&client));
    let (status, log) = recorder.finish(30);
    assert!(status.success(), "{log}");
    let yaml = std::fs::read_to_string(&case).unwrap();
    assert!(
        yaml.contains(r#""sessionId": { "capture": "sessionId_1" }"#),
        "{yaml}"
    );
    assert!(yaml.contains(r#""sessionId": "${sessionId_1}""#), "{yaml}");
    let client_cmd = format!(
        "'{}' simulate --protocol now --role client --connect {{addr}}",
        bin()
    );
    let o = run(&[
        "replay",
        &case.display().to_string(),
        "--listen",
        "tcp://127.0.0.1:0",
        "--exec",
        &client_cmd,
        "--seed",
        "3",
    ]);
    assert!(o.status.success(), "{}\n{yaml}", text(&o));
}

/// A scenario of the tests' own (the catalogue may change): RUN must be answered with the
/// request's session id; with a capability gate, a pause and a note to shrink away.
const RUN_ECHOES_SESSION: &str = r#"
id: now.tools.run-echoes-session
title: RUN is answered with STARTED and RESULT for the same session id
spec: "NOW-PROTO 1.3 NOW_EXEC_RUN_MSG, NOW_EXEC_STARTED_MSG"
requirement: "The server answers an execution request with the request's session id"
level: must
protocol: now
profiles: [now-1.6]
peer: server
steps:
  - send: { channel.capset: { msgFlags: 1, versionMajor: 1, versionMinor: 6, systemCapset: 1, sessionCapset: 7, execCapset: 0x107f, heartbeatInterval: 60 } }
  - expect: { channel.capset: { versionMajor: 1, execCapset: { capture: caps } } }
    within: 3s
  - require: { var: caps, matches: { contains: 0x0001 }, capability: "exec RUN" }
  - sleep: 10ms
  - send: { exec.run: { sessionId: 7, command: "notepad.exe" } }
    note: the server must echo the session id
  - expect: { exec.started: { sessionId: 7 } }
    within: 3s
  - expect: { exec.result: { sessionId: 7, status: { code: 0 } } }
    within: 3s
"#;

fn own_scenario(dir: &Path) -> String {
    let p = dir.join("run-echoes-session.yaml");
    std::fs::write(&p, RUN_ECHOES_SESSION).unwrap();
    p.display().to_string()
}

#[test]
fn replay_trace_prints_every_frame_with_time_and_fields() {
    let dir = tempfile::tempdir().unwrap();
    let sc = own_scenario(dir.path());
    let o = run(&["replay", &sc, "--trace", "--seed", "5"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = stdout(&o);
    assert!(out.contains("suite -> impl  channel.capset"), "{out}");
    assert!(out.contains("impl -> suite  exec.started"), "{out}");
    assert!(out.contains("header.msgSize = "), "annotated dumps: {out}");
    assert!(out.contains(" s] "), "timestamps: {out}");
    assert!(out.contains("PASS"), "{out}");
}

#[test]
fn diff_shows_field_differences_between_two_implementations() {
    let dir = tempfile::tempdir().unwrap();
    let sc = own_scenario(dir.path());
    let o = run(&[
        "diff",
        &sc,
        "--exec",
        "builtin",
        "--exec",
        "builtin:now-ignore-session-id",
        "--seed",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = stdout(&o);
    assert!(out.contains("DIFFERS now.tools.run-echoes-session"), "{out}");
    assert!(out.contains("verdict: A=pass B=fail"), "{out}");
    assert!(
        out.contains("exec.started.sessionId: A=7 B=0"),
        "field by field: {out}"
    );
    assert!(!out.contains("channel.capset:"), "the capsets agree: {out}");

    let o = run(&[
        "diff", &sc, "--exec", "builtin", "--target", "builtin", "--seed", "2",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        stdout(&o).contains("same    now.tools.run-echoes-session"),
        "{}",
        text(&o)
    );
}

#[test]
fn shrink_keeps_the_failure_with_fewer_steps() {
    let dir = tempfile::tempdir().unwrap();
    let min = dir.path().join("min.yaml");
    let m = min.display().to_string();
    let sc = own_scenario(dir.path());
    let src = sc.as_str();
    let o = run_in(
        &[
            "shrink",
            src,
            "--misbehave",
            "now-ignore-session-id",
            "--seed",
            "9",
            "-o",
            &m,
        ],
        None,
        180,
    );
    assert!(o.status.success(), "{}", text(&o));
    let yaml = std::fs::read_to_string(&min).unwrap();
    assert!(yaml.contains("--seed 9"), "{yaml}");
    // The original has 7 steps.
    assert!(steps_of(&yaml).len() < 7, "{yaml}");
    assert!(yaml.contains("exec.started"), "the failing expect stays: {yaml}");
    let o = run(&[
        "replay",
        &m,
        "--misbehave",
        "now-ignore-session-id",
        "--seed",
        "9",
    ]);
    assert_eq!(o.status.code(), Some(1), "still fails: {}\n{yaml}", text(&o));
    // ... and is still a fair scenario: the correct simulator passes it (the oracle).
    let o = run(&["replay", &m, "--seed", "9"]);
    assert!(
        o.status.success(),
        "passes on the correct simulator: {}\n{yaml}",
        text(&o)
    );
    assert!(
        yaml.contains(r#""sessionId": 7"#),
        "the session id the expectation is about stays: {yaml}"
    );
    // A passing scenario has nothing to shrink.
    let o = run(&["shrink", src, "--seed", "9"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// Record `protocol` between the simulator's client and server (both given `sim`), the recorder
/// given `rec` too; the scenario text and the recorder's log.
fn record_simulators(protocol: &str, sim: &[&str], rec: &[&str], out: &Path) -> (String, String) {
    let mut srv = vec![
        "simulate",
        "--protocol",
        protocol,
        "--role",
        "server",
        "--listen",
        "127.0.0.1:0",
    ];
    srv.extend_from_slice(sim);
    let server = Listening::start(&srv);
    let o = out.display().to_string();
    let mut r = vec![
        "record",
        "--protocol",
        protocol,
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &server.addr,
        "-o",
        &o,
        "--idle-timeout",
        "10",
    ];
    r.extend_from_slice(sim);
    r.extend_from_slice(rec);
    let recorder = Listening::start(&r);
    let mut cli = vec![
        "simulate",
        "--protocol",
        protocol,
        "--role",
        "client",
        "--connect",
        &recorder.addr,
    ];
    cli.extend_from_slice(sim);
    let client = run_in(&cli, None, 30);
    assert!(client.status.success(), "{}", text(&client));
    let (status, log) = recorder.finish(30);
    assert!(status.success(), "{log}");
    (std::fs::read_to_string(out).unwrap(), log)
}

/// PSRP over OutOfProc framing: the recorded pool + pipeline exchange replays, and catches a
/// server that puts the wrong PID on pipeline messages at the first such message.
#[test]
fn record_a_psrp_exchange_then_replay_it() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("psrp.yaml");
    let (yaml, log) = record_simulators("psrp", &[], &[], &case);
    assert!(log.contains("client -> server  create-pipeline"), "{log}");
    assert!(
        log.contains("[keep-alive, not recorded]"),
        "acks are skipped: {log}"
    );
    assert!(
        yaml.contains(r#""objectId": { "capture": "objectId_1" }"#),
        "object ids from the server are captured: {yaml}"
    );
    let c = case.display().to_string();
    let o = run(&["replay", &c, "--seed", "4"]);
    assert!(o.status.success(), "{}\n{yaml}", text(&o));
    let json = dir.path().join("r.json");
    let j = json.display().to_string();
    let o = run(&[
        "replay",
        &c,
        "--seed",
        "4",
        "--misbehave",
        "psrp-wrong-pid",
        "--json",
        &j,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let first_pipeline_answer = steps_of(&yaml)
        .iter()
        .position(|s| s.starts_with("  - expect: { \"verbose-record\""))
        .unwrap();
    assert_eq!(r["step"], first_pipeline_answer + 1, "{r}");
    assert!(
        r["mismatches"][0]["path"].as_str().unwrap().ends_with(".pid"),
        "{r}"
    );
}

/// Inedo with AES: the proxy decodes both directions (the reply's IV keys the frames), the key is
/// redacted from the file, the server's IVs become captures, and the replay needs `--param key=`.
#[test]
fn record_an_inedo_aes_exchange_without_writing_the_key() {
    let key = "000102030405060708090a0b0c0d0e0f";
    let kp = format!("key={key}");
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("inedo.yaml");
    let (yaml, log) = record_simulators(
        "inedo",
        &["--param", "encryption=aes", "--param", &kp],
        &[],
        &case,
    );
    assert!(
        log.contains("meta.get-agent-root-path-reply"),
        "AES frames decoded: {log}"
    );
    assert!(
        !yaml.contains(key) && !log.contains(key),
        "the key stays out of the file and the log: {yaml}"
    );
    assert!(yaml.contains("pass --param key="), "{yaml}");
    assert!(yaml.contains(r#""iv": { "capture": "iv_1" }"#), "{yaml}");
    let c = case.display().to_string();
    let o = run(&["replay", &c, "--seed", "4", "--param", &kp]);
    assert!(o.status.success(), "{}\n{yaml}", text(&o));
    let o = run(&["replay", &c, "--seed", "4"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "without the key the scenario cannot be encoded: {}",
        text(&o)
    );
}

/// `record --exec`: the server is a stdio program (here the simulator with `--stdio`).
#[test]
fn record_a_stdio_server_spawned_with_exec() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("stdio.yaml");
    let o = case.display().to_string();
    let server = format!(
        "'{}' simulate --protocol now --role server --stdio --quiet",
        bin()
    );
    let recorder = Listening::start(&[
        "record",
        "--protocol",
        "now",
        "--listen",
        "127.0.0.1:0",
        "--exec",
        &server,
        "-o",
        &o,
        "--idle-timeout",
        "10",
    ]);
    let client = run_in(
        &[
            "simulate",
            "--protocol",
            "now",
            "--role",
            "client",
            "--connect",
            &recorder.addr,
        ],
        None,
        30,
    );
    assert!(client.status.success(), "{}", text(&client));
    let (status, log) = recorder.finish(30);
    assert!(status.success(), "{log}");
    let yaml = std::fs::read_to_string(&case).unwrap();
    assert!(yaml.contains("stdio `"), "{yaml}");
    let o = run(&["replay", &o, "--builtin", "stdio", "--seed", "6"]);
    assert!(o.status.success(), "{}\n{yaml}", text(&o));
}

/// `golden verify --vectors FILE` reads an exported file instead of this build's vectors.
#[test]
fn golden_verify_reads_an_exported_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inedo.json");
    let f = file.display().to_string();
    let o = run(&["golden", "export", "--protocol", "inedo", "-o", &f]);
    assert!(o.status.success(), "{}", text(&o));
    let n = serde_json::from_str::<Export>(&std::fs::read_to_string(&file).unwrap())
        .unwrap()
        .number_of_tests;
    let shim = format!("'{}' golden shim", bin());
    let o = run_in(&["golden", "verify", "--vectors", &f, "--exec", &shim], None, 60);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        stdout(&o).contains(&format!("{n} vector(s): {n} agree, 0 disagree")),
        "{}",
        text(&o)
    );
}
