//! `peercheck simulate --protocol now --role server --run-real-commands`: the real binary on
//! loopback, driven by the built-in NOW client simulator with a script. Commands really run here
//! (`echo`, `sh -c 'exit 3'`, `cat`, `sleep`), so the test only uses harmless ones.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_peercheck");

/// The server child, killed when the test ends however it ends.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server(extra: &[&str]) -> Server {
    let mut child = Command::new(BIN)
        .args([
            "simulate",
            "--protocol",
            "now",
            "--role",
            "server",
            "--run-real-commands",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("no banner: {line:?}"))
        .to_owned();
    Server { child, addr }
}

/// Processes whose command line contains `needle` (zombies have an empty one, so they do not count).
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(format!("{name}: {cmdline}"));
            }
        }
    }
    found
}

#[test]
fn real_commands_run_stream_take_stdin_exit_codes_and_cancel() {
    let dir = tempfile::tempdir().unwrap();
    // A sleep long enough to outlive the test unless the cancel kills it; the odd duration marks it.
    let marker = format!("{}.{}", 300 + std::process::id() % 100, std::process::id() % 1000);
    let script = format!(
        r#"
capset: {{ execCapset: 4223, heartbeatInterval: 60 }}
timeout-ms: 20000
requests:
  - send: {{ exec.shell: {{ sessionId: 1, command: "echo hello", msgFlags: 4096 }} }}
    expect-stdout: "hello"
    expect-exit-code: 0
  - send: {{ exec.process: {{ sessionId: 2, filename: "sh", parameters: "-c 'exit 3'", msgFlags: 4097 }} }}
    expect-exit-code: 3
  - send: {{ exec.shell: {{ sessionId: 3, command: "echo to-stderr >&2; exit 3", msgFlags: 4096 }} }}
    expect-exit-code: 3
  - send: {{ exec.batch: {{ sessionId: 4, command: "cat", msgFlags: 4096 }} }}
    stdin: "typed input\n"
    expect-stdout: "typed input"
    expect-exit-code: 0
  - send: {{ exec.process: {{ sessionId: 5, filename: "sleep", parameters: "{marker}", msgFlags: 4097 }} }}
    wait: false
  - send: {{ exec.cancel-req: {{ sessionId: 5 }} }}
  - send: {{ exec.run: {{ sessionId: 6, command: "true" }} }}
    expect-exit-code: 0
  - send: {{ exec.shell: {{ sessionId: 7, command: "head -c 300000 /dev/zero | tr '\\000' a; echo; echo end-marker", msgFlags: 4096 }} }}
    expect-stdout: "aaaa\nend-marker"
    expect-exit-code: 0
"#
    );
    let path = dir.path().join("client.yaml");
    std::fs::write(&path, script).unwrap();

    let mut srv = server(&["--listen", "127.0.0.1:0"]);
    let out = Command::new(BIN)
        .args(["simulate", "--protocol", "now", "--role", "client", "--connect"])
        .arg(&srv.addr)
        .arg("--script")
        .arg(&path)
        .output()
        .unwrap();
    let client_log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "client log:\n{client_log}");
    assert!(client_log.contains("finished (ok)"), "{client_log}");

    // The cancelled sleep is gone (its process group was killed), well before its 300 s.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_with(&format!("sleep {marker}")).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(processes_with(&format!("sleep {marker}")), Vec::<String>::new());

    // The server warned loudly and logged the real runs.
    let _ = srv.child.kill();
    let _ = srv.child.wait();
    let mut log = String::new();
    srv.child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    assert!(log.contains("WARNING: --run-real-commands"), "{log}");
    assert!(log.contains("for real"), "{log}");
}

#[test]
fn a_closed_connection_kills_what_it_started() {
    let marker = format!("{}.{}", 400 + std::process::id() % 100, std::process::id() % 1000);
    let script = format!(
        r#"
capset: {{ execCapset: 4223, heartbeatInterval: 60 }}
requests:
  - send: {{ exec.process: {{ sessionId: 1, filename: "sleep", parameters: "{marker}", msgFlags: 4097 }} }}
    wait: false
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client.yaml");
    std::fs::write(&path, script).unwrap();
    let srv = server(&["--listen", "127.0.0.1:0", "--quiet"]);
    let out = Command::new(BIN)
        .args(["simulate", "--protocol", "now", "--role", "client", "--connect"])
        .arg(&srv.addr)
        .arg("--script")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The client finished and closed while the sleep ran: the server's end of the connection kills it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_with(&format!("sleep {marker}")).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(processes_with(&format!("sleep {marker}")), Vec::<String>::new());
    drop(srv);
}

#[test]
fn refused_without_a_loopback_listener() {
    for args in [
        vec!["--listen", "0.0.0.0:0"],
        vec!["--listen", "localhost:0"],
        vec!["--stdio"],
    ] {
        let out = Command::new(BIN)
            .args([
                "simulate",
                "--protocol",
                "now",
                "--role",
                "server",
                "--run-real-commands",
            ])
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("--run-real-commands"), "{args:?}: {err}");
    }
    let out = Command::new(BIN)
        .args([
            "simulate",
            "--protocol",
            "psrp",
            "--role",
            "server",
            "--run-real-commands",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
