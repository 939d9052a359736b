//! `peercheck record` between two real programs nobody on this team wrote — psrpcore's client and
//! server (adapters/psrpcore, PyPI psrpcore pinned in requirements.txt) — then `peercheck replay`
//! of what it wrote: against the psrpcore server (passes), against the built-in simulator
//! correct and misbehaving (fails, at the step the misbehaviour shows), and, recorded the other
//! way round, against the psrpcore client.
//!
//! The Python comes from `PEERCHECK_PSRPCORE_PYTHON`, else `adapters/psrpcore/.venv/bin/python`
//! (made by `adapters/psrpcore/setup.sh`). Without either the tests fail when `CI` is set and
//! print a skip note otherwise. Everything runs on loopback; every wait is bounded and every
//! child is killed and reaped.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used
)]

use std::path::Path;
use std::process::Command;

mod common;
use common::{peercheck, psrpcore_python as python, psrpcore_shim as shim, repo, steps_of, Listening};

/// Everything a finished process wrote.
struct Done {
    code: Option<i32>,
    out: String,
}

/// Run `cmd` to the end (bounded), stdout and stderr together.
fn run(cmd: Command, secs: u64, what: &str) -> Done {
    let o = common::run_bounded(cmd, None, secs, what);
    Done {
        code: o.status.code(),
        out: common::text(&o),
    }
}

/// `peercheck record --exec <psrpcore server>` with the psrpcore client connecting to it; the
/// scenario text and the recorder's log.
fn record(py: &Path, under_test: &str, extra: &[&str], out: &Path) -> (String, String) {
    record_with(py, under_test, extra, &[], out)
}

/// `record` with `client_extra` flags for the psrpcore client.
fn record_with(
    py: &Path,
    under_test: &str,
    extra: &[&str],
    client_extra: &[&str],
    out: &Path,
) -> (String, String) {
    let server = shim(py, "server.py");
    let o = out.display().to_string();
    let mut args = vec![
        "record",
        "--protocol",
        "psrp",
        "--under-test",
        under_test,
        "--listen",
        "127.0.0.1:0",
        "--exec",
        &server,
        "-o",
        &o,
        "--idle-timeout",
        "10",
        "--accept-timeout",
        "30",
    ];
    args.extend_from_slice(extra);
    let rec = Listening::start(&args);
    let addr = rec.addr.clone();
    let mut client = Command::new(py);
    client.args([
        repo().join("adapters/psrpcore/client.py").display().to_string(),
        addr,
        "--timeout".into(),
        "10".into(),
    ]);
    client.args(client_extra);
    let c = run(client, 40, "the psrpcore client");
    let (status, log) = rec.finish(30);
    assert_eq!(
        c.code,
        Some(0),
        "the psrpcore client completes its run through the proxy:\n{}\nrecorder:\n{log}",
        c.out
    );
    assert!(status.success(), "{log}");
    (std::fs::read_to_string(out).unwrap(), log)
}

/// The 1-based number of the first step line starting with `prefix`.
fn step_no(steps: &[String], prefix: &str) -> usize {
    steps
        .iter()
        .position(|s| s.starts_with(prefix))
        .unwrap_or_else(|| panic!("no step `{prefix}` in {steps:#?}"))
        + 1
}

/// `peercheck replay` with `args` after the file, writing its JSON record; (exit code, record,
/// output).
fn replay(case: &Path, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let json = case.with_extension(format!("{}.json", std::process::id()));
    let _ = std::fs::remove_file(&json);
    let c = case.display().to_string();
    let j = json.display().to_string();
    let mut all = vec!["replay", &c, "--seed", "7", "--json", &j];
    all.extend_from_slice(args);
    let d = run(peercheck(&all), 60, "peercheck replay");
    let r = std::fs::read_to_string(&json)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(serde_json::Value::Null);
    (d.code, r, d.out)
}

/// A psrpcore client ↔ psrpcore server session, recorded with the server under test, replays
/// against the psrpcore server; against the built-in simulator it fails, and where the simulator
/// misbehaves it fails at the step that shows the misbehaviour.
#[test]
fn a_recorded_psrpcore_session_replays_against_psrpcore_and_localizes_simulator_misbehaviours() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = shim(&py, "server.py");

    // 1. As recorded: every field the server wrote is pinned (but `bom`, ERRATA PSRP-4).
    let case = dir.path().join("psrpcore.yaml");
    let (yaml, log) = record(&py, "server", &[], &case);
    assert!(
        log.contains("client -> server  oop.command"),
        "OutOfProc control lines are decoded: {log}"
    );
    assert!(
        log.contains("oop.command-ack") && !yaml.contains("oop.command-ack"),
        "the server's acks are not held against it: {yaml}"
    );
    assert!(
        yaml.contains(r#""DT": "2001-02-03T04:05:06Z""#),
        "Get-Date's answer is pinned: {yaml}"
    );
    assert!(
        yaml.contains(r#""bom": { "any": true }"#),
        "a server may write a BOM or not: {yaml}"
    );
    let steps = steps_of(&yaml);
    let first_answer = step_no(&steps, r#"  - expect: { "session-capability""#);
    assert!(
        steps
            .get(first_answer - 1)
            .is_some_and(|s| s.contains(r#""objectId": { "capture": "objectId_1" }"#)),
        "the server's object ids are its own (not the client's literal 1): {yaml}"
    );
    let (code, r, out) = replay(&case, &["--exec", &server]);
    assert_eq!(
        code,
        Some(0),
        "the recording passes against the server it was recorded from:\n{out}\n{yaml}"
    );
    assert_eq!(r["verdict"], "pass", "{r}");
    // The built-in simulator is a different server: it writes its own CLIXML layout, its own
    // ApplicationPrivateData and its own pipeline records, which a recording pins. It cannot
    // pass; it must fail on content (a field diff), not on a protocol error.
    let (code, r, out) = replay(&case, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(r["verdict"], "fail", "{r}");
    assert!(
        r["mismatches"].as_array().is_some_and(|m| !m.is_empty())
            || r["reason"].as_str().is_some_and(|s| s.starts_with("expected ")),
        "a content difference, not a malformed message: {r}"
    );

    // 2. Loosened where servers legitimately differ (`--loose data`: the CLIXML layout beside the
    // typed fields; `--loose applicationPrivateData`: the application's own data), the recording
    // pins the exchange itself, so the simulator can be compared step by step.
    let loose = dir.path().join("psrpcore-loose.yaml");
    let (yaml, _) = record(
        &py,
        "server",
        &["--loose", "data", "--loose", "applicationPrivateData"],
        &loose,
    );
    let steps = steps_of(&yaml);
    let first_answer = step_no(&steps, r#"  - expect: { "session-capability""#);
    let opened = step_no(&steps, r#"  - expect: { "runspacepool-state""#);
    assert!(
        steps[opened - 1].contains(r#""runspaceState": 2"#),
        "the pool opens: {yaml}"
    );
    let (code, _, out) = replay(&loose, &["--exec", &server]);
    assert_eq!(code, Some(0), "psrpcore still passes:\n{out}\n{yaml}");
    // The correct simulator opens the pool as psrpcore does and parts ways at the pipeline:
    // psrpcore sends a PIPELINE_STATE Running that PowerShell (and the simulator) never sends
    // (expectations/psrpcore-server.yaml).
    let (code, correct, out) = replay(&loose, &[]);
    assert_eq!(code, Some(1), "{out}");
    let correct_step = correct["step"].as_u64().unwrap_or(0);
    assert!(
        correct_step > u64::try_from(opened).unwrap(),
        "the correct simulator gets past the pool opening (step {opened}): {correct}\n{yaml}"
    );
    // A simulator that never sends RUNSPACEPOOL_STATE Opened fails exactly there.
    let (code, r, out) = replay(
        &loose,
        &[
            "--misbehave",
            "psrp-no-runspacepool-opened",
            "--timeout-scale",
            "0.3",
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(r["verdict"], "fail", "{r}");
    assert_eq!(
        r["step"], opened,
        "fails at the runspacepool-state step: {r}\n{yaml}"
    );
    assert!(
        r["reason"].as_str().unwrap().contains("no runspacepool-state"),
        "{r}"
    );
    // A simulator that numbers its objects from 0 fails at its first message, on the object id.
    let (code, r, out) = replay(&loose, &["--misbehave", "psrp-object-id-zero"]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(r["step"], first_answer, "{r}\n{yaml}");
    assert!(r["reason"].as_str().unwrap().contains("objectId"), "{r}");
}

/// Recorded with the psrpcore client under test: its random RPID and pipeline id become captures,
/// the server's `<CommandAck>` (which the client waits for) becomes a send step, and the
/// recording replays against the psrpcore client. Without that step the client stalls before
/// sending the pipeline, which is why the recorder keeps it.
#[test]
fn a_recording_with_the_psrpcore_client_under_test_replays_against_it() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("client.yaml");
    let (yaml, log) = record(&py, "client", &[], &case);
    assert!(
        log.contains("oop.command-ack (") && log.contains("sent on replay"),
        "{log}"
    );
    assert!(
        yaml.contains(r#""rpid": { "capture": "rpid_1" }"#),
        "psrpcore's random RPID is captured: {yaml}"
    );
    assert!(
        yaml.contains(r#"  - send: { "oop.command-ack": { "psGuid": "${psGuid_1}" } }"#),
        "{yaml}"
    );
    assert!(
        !yaml.contains(r#"send: { "oop.data-ack""#),
        "DataAcks are the replaying session's own (auto-ack): {yaml}"
    );
    let client = format!("{} {{addr}} --timeout 5", shim(&py, "client.py"));
    let (code, r, out) = replay(&case, &["--listen", "tcp://127.0.0.1:0", "--exec", &client]);
    assert_eq!(code, Some(0), "{out}\n{yaml}");
    assert_eq!(r["verdict"], "pass", "{r}");

    let without = dir.path().join("no-ack.yaml");
    let text: Vec<&str> = yaml
        .lines()
        .filter(|l| !l.starts_with(r#"  - send: { "oop.command-ack""#))
        .collect();
    std::fs::write(&without, text.join("\n") + "\n").unwrap();
    let steps = steps_of(&std::fs::read_to_string(&without).unwrap());
    let pipeline = step_no(&steps, r#"  - expect: { "create-pipeline""#);
    let (code, r, out) = replay(
        &without,
        &[
            "--listen",
            "tcp://127.0.0.1:0",
            "--exec",
            &client,
            "--timeout-scale",
            "0.3",
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(r["step"], pipeline, "{r}");
}

/// Raw fragments (`--param framing=fragments`; the shim detects the framing from the first byte):
/// the psrpcore server ends at end-of-input, which `record` gives it when the client closes, so
/// the recording stops because both sides closed (not on the idle timer) and replays.
#[test]
fn a_fragments_framing_recording_ends_with_both_sides_closed_and_replays() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("fragments.yaml");
    let (yaml, log) = record_with(
        &py,
        "server",
        &["--param", "framing=fragments"],
        &["--framing", "fragments"],
        &case,
    );
    assert!(log.contains("server closed"), "{log}");
    assert!(yaml.contains("stopped: both sides closed"), "{yaml}");
    assert!(yaml.contains(r#""framing": "fragments""#), "{yaml}");
    assert!(!yaml.contains("oop."), "no OutOfProc packets: {yaml}");
    let (code, r, out) = replay(&case, &["--exec", &shim(&py, "server.py")]);
    assert_eq!(code, Some(0), "{out}\n{yaml}");
    assert_eq!(r["verdict"], "pass", "{r}");
}
