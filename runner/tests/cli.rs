//! Integration tests: the real `peercheck` binary against small test peers (tests/peers/, written
//! from the spec independently of our codec) over real pipes, sockets and child processes.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{bin, text};

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn peer(mode: &str) -> String {
    format!("python3 {} {mode}", here().join("peers/now_peer.py").display())
}

fn scenarios() -> String {
    here().join("scenarios").display().to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

/// Run the test scenarios over stdio against a peer mode; return (exit code, report json, output).
fn run_stdio(mode: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let p = peer(mode);
    let sc = scenarios();
    let mut args = vec![
        "run", &sc, "--exec", &p, "--role", "server", "--seed", "42", "--json",
    ];
    let js = json.display().to_string();
    args.push(&js);
    args.extend_from_slice(extra);
    let o = run(&args);
    let report = std::fs::read_to_string(&json)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_default();
    (o.status.code().unwrap_or(-1), report, text(&o))
}

fn verdict(report: &serde_json::Value, id: &str) -> String {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .map(|r| r["verdict"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("{id} not in report"))
}

#[test]
fn a_correct_peer_passes_and_gating_gives_unsupported() {
    let (code, rep, out) = run_stdio("correct", &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(verdict(&rep, "now.test.capset.answer"), "pass");
    assert_eq!(verdict(&rep, "now.test.capset.should"), "pass");
    assert_eq!(verdict(&rep, "now.test.capset.split"), "pass");
    assert_eq!(verdict(&rep, "now.test.capset.needs-shell"), "unsupported");
    assert!(out.contains("seed: 42"), "{out}");
}

#[test]
fn a_field_mismatch_fails_must_and_is_non_strict_for_should() {
    let (code, rep, out) = run_stdio("mismatch", &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(verdict(&rep, "now.test.capset.answer"), "fail");
    assert_eq!(verdict(&rep, "now.test.capset.should"), "non-strict");
    let r = rep["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "now.test.capset.answer")
        .unwrap();
    assert_eq!(r["mismatches"][0]["path"], "channel.capset.versionMajor");
    assert!(out.contains("field diff"), "{out}");
    assert!(
        out.contains("header.msgSize"),
        "annotated hexdump expected in the failure output: {out}"
    );
}

#[test]
fn non_strict_fails_the_run_only_with_strict() {
    let (code, _, _) = run_stdio("mismatch", &["--filter", "*should"]);
    assert_eq!(code, 0);
    let (code, _, _) = run_stdio("mismatch", &["--filter", "*should", "--strict"]);
    assert_eq!(code, 1);
}

#[test]
fn wrong_message_malformed_and_silence_are_failures_with_reasons() {
    let (_, rep, _) = run_stdio("wrong-message", &["--filter", "*answer"]);
    let r = &rep["results"][0];
    assert_eq!(r["verdict"], "fail");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("expected channel.capset, got exec.started"),
        "{r}"
    );
    let (_, rep, _) = run_stdio("malformed", &["--filter", "*answer"]);
    assert!(
        rep["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("malformed"),
        "{}",
        rep["results"][0]
    );
    let (_, rep, _) = run_stdio("silent", &["--filter", "*answer", "--timeout-scale", "0.2"]);
    assert!(rep["results"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("no channel.capset within"));
    let (_, rep, _) = run_stdio("close", &["--filter", "*answer"]);
    assert!(rep["results"][0]["reason"].as_str().unwrap().contains("closed"));
}

#[test]
fn tcp_connect_transport() {
    let dir = tempfile::tempdir().unwrap();
    let portfile = dir.path().join("port");
    let mut child = Command::new("python3")
        .args([
            here().join("peers/now_peer.py").to_str().unwrap(),
            "correct",
            "tcp",
            portfile.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    let mut port = String::new();
    for _ in 0..100 {
        if let Ok(p) = std::fs::read_to_string(&portfile) {
            port = p;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let o = run(&[
        "run",
        &scenarios(),
        "--target",
        &format!("tcp://127.0.0.1:{port}"),
        "--filter",
        "*answer",
    ]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn listen_transport_launches_the_client() {
    let cmd = format!("{} {{addr}}", peer("client"));
    let o = run(&[
        "run",
        &scenarios(),
        "--listen",
        "tcp://127.0.0.1:0",
        "--exec",
        &cmd,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("now.test.client.capset-first"));
}

#[test]
fn unreachable_implementation_exits_3() {
    let o = run(&[
        "run",
        &scenarios(),
        "--target",
        "tcp://127.0.0.1:1",
        "--filter",
        "*answer",
        "--timeout-scale",
        "0.05",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
}

#[test]
fn zero_selected_scenarios_is_an_error() {
    let o = run(&[
        "run",
        &scenarios(),
        "--exec",
        "true",
        "--role",
        "server",
        "--filter",
        "nothing*",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no scenario selected"));
}

#[test]
fn expectations_turn_known_failures_into_xfail_and_catch_xpass_and_stale() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("exp.yaml");
    std::fs::write(
        &exp,
        "implementation: test peer\nentries:\n  - { id: now.test.capset.answer, verdict: fail, reason: \"sends versionMajor 7\" }\n  - { id: now.test.gone, verdict: fail, reason: \"old\" }\n",
    )
    .unwrap();
    let e = exp.display().to_string();
    let (code, rep, out) = run_stdio("mismatch", &["--filter", "*answer", "--expectations", &e]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(verdict(&rep, "now.test.capset.answer"), "xfail");
    assert!(out.contains("stale expectation: `now.test.gone`"), "{out}");
    let (code, rep, _) = run_stdio("correct", &["--filter", "*answer", "--expectations", &e]);
    assert_eq!(code, 1);
    assert_eq!(verdict(&rep, "now.test.capset.answer"), "xpass");
    // --update-expectations rewrites the file from the results.
    let (_, _, _) = run_stdio("mismatch", &["--expectations", &e, "--update-expectations"]);
    let written = std::fs::read_to_string(&exp).unwrap();
    assert!(
        written.contains("now.test.capset.should") && written.contains("sends versionMajor 7"),
        "{written}"
    );
}

#[test]
fn partitions_split_the_selection_stably() {
    let list = |part: &str| {
        let o = run(&["list", &scenarios(), "--partition", part, "--json"]);
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect::<Vec<_>>()
    };
    let (a, b, all) = (list("1/2"), list("2/2"), list("1/1"));
    assert_eq!(a.len() + b.len(), all.len());
    assert!(a.iter().all(|x| !b.contains(x)));
    assert_eq!(list("1/2"), a);
}

#[test]
fn children_are_killed_and_reaped_on_timeout() {
    let marker = format!("ignore-term {}", std::process::id());
    let p = format!("{} {marker}", peer("ignore-term"));
    let o = run(&[
        "run",
        &scenarios(),
        "--exec",
        &p,
        "--role",
        "server",
        "--filter",
        "*answer",
        "--timeout-scale",
        "0.1",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let left: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.contains(&marker) && !l.contains("ps -eo"))
        .map(str::to_owned)
        .collect();
    assert!(left.is_empty(), "children left behind: {left:?}");
}

#[test]
fn junit_report_has_one_testcase_per_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("j.xml");
    let xs = x.display().to_string();
    let (_, _, _) = run_stdio("mismatch", &["--junit", &xs]);
    let xml = std::fs::read_to_string(&x).unwrap();
    assert_eq!(xml.matches("<testcase").count(), 4, "{xml}"); // the client-role scenario is not selected with --role server
    assert!(xml.contains("<failure"), "{xml}");
}

#[test]
fn check_rejects_scenarios_that_can_never_pass_with_locations_and_hints() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "id: now.bad.one\ntitle: t\nspec: s\nrequirement: r\nlevel: must\nprotocol: now\npeer: server\nsteps:\n  - send: { channel.capsett: {} }\n  - expect: { exec.run: { sessionId: 1 } }\n",
    )
    .unwrap();
    let o = run(&["check", dir.path().to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("bad.yaml:9:"), "{t}");
    assert!(t.contains("did you mean channel.capset"), "{t}");
    assert!(t.contains("can never happen"), "{t}");
    std::fs::write(
        dir.path().join("bad.yaml"),
        "id: now.bad.two\ntitle: t\nnonsense: 1\n",
    )
    .unwrap();
    let t = text(&run(&["check", dir.path().to_str().unwrap()]));
    assert!(t.contains("bad.yaml:3:"), "{t}");
}

#[test]
fn decode_reports_offsets_and_never_allocates_for_a_lying_length() {
    let o = run(&["decode", "--protocol", "now", "--hex", "ffffffff 10 01 0000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("msgSize"), "{}", text(&o));
    let o = run(&["decode", "--protocol", "now", "--hex", "0000000010020000"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("channel.heartbeat"));
}

#[test]
fn ctrl_c_writes_the_report_and_reaps_children() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let marker = format!("silent {}-int", std::process::id());
    let p = format!("{} {marker}", peer("silent"));
    let child = Command::new(bin())
        .args([
            "run",
            &scenarios(),
            "--exec",
            &p,
            "--role",
            "server",
            "--no-timeout",
            "--json",
            json.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["interrupted"], true);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let left: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.contains(&marker) && !l.contains("ps -eo"))
        .map(str::to_owned)
        .collect();
    assert!(left.is_empty(), "children left behind: {left:?}");
}

#[test]
fn check_names_unknown_fields_with_the_closest_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("typo.yaml"),
        "id: now.bad.typo\ntitle: t\nspec: s\nrequirement: r\nlevel: must\nprotocol: now\npeer: server\nsteps:\n  - expect: { channel.capset: { versionMajr: 1 } }\n",
    )
    .unwrap();
    let o = run(&["check", dir.path().to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("typo.yaml:9:") && t.contains("did you mean versionMajor"),
        "{t}"
    );
}
