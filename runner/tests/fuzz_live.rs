//! `peercheck fuzz` against the built-in simulator: it finds the generic bugs of
//! simulator/src/bugs.rs without being told where, writes shrunk reproducers that `peercheck run`
//! confirms (the run fails), and reports nothing against the correct simulator. Bounded runs.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

fn peercheck() -> Command {
    let mut c = common::peercheck(&[]);
    c.current_dir(common::repo());
    c
}

fn finding_dirs(out: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(out)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Fuzz the simulator misbehaving as `mode`; return the first finding's folder and its kind.
fn fuzz_finds(mode: &str, seed: u64) -> (PathBuf, String, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let o = peercheck()
        .args([
            "fuzz",
            "scenarios",
            "--filter",
            "now.exec.run.*",
            "--filter",
            "now.exec.data.*",
            "--filter",
            "now.channel.capset.answer",
        ])
        .args(["--misbehave", mode, "--seed", &seed.to_string()])
        .args(["--max-cases", "200", "--max-time", "25s", "--max-findings", "1"])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{mode}: expected a finding\n{stdout}\n{stderr}"
    );
    let dirs = finding_dirs(out.path());
    let dir = dirs
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("{mode}: no finding written\n{stdout}\n{stderr}"));
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("finding.json")).unwrap()).unwrap();
    assert_eq!(info["seed"], seed);
    assert!(dir.join("a-trigger.yaml").is_file() && dir.join("b-probe.yaml").is_file());
    (dir, info["kind"].as_str().unwrap_or_default().to_owned(), out)
}

/// `peercheck run` on the reproducer fails while the bug is there, and passes on the correct simulator.
fn reproducer_confirms(dir: &Path, mode: &str) {
    let o = peercheck()
        .arg("run")
        .arg(dir)
        .args(["-j", "1", "--quiet", "--misbehave", mode])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{mode}: the reproducer does not fail\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let trigger = std::fs::read_to_string(dir.join("a-trigger.yaml")).unwrap();
    assert!(trigger.contains("peercheck fuzz"), "{trigger}");
}

fn check_mode(mode: &str, seed: u64, kinds: &[&str]) {
    let (dir, kind, _keep) = fuzz_finds(mode, seed);
    assert!(
        kinds.contains(&kind.as_str()),
        "{mode}: finding kind `{kind}`, expected one of {kinds:?}"
    );
    reproducer_confirms(&dir, mode);
}

#[test]
fn finds_crash_on_short_body() {
    check_mode("bug-crash-on-short-body", 11, &["crash"]);
}

#[test]
fn finds_panic_on_oversized() {
    check_mode("bug-panic-on-oversized", 12, &["panic"]);
}

#[test]
fn finds_hang_on_zero_length() {
    check_mode("bug-hang-on-zero-length", 13, &["hang"]);
}

#[test]
fn finds_hang_on_lying_length() {
    check_mode("bug-hang-on-lying-length", 14, &["hang"]);
}

#[test]
fn finds_disconnect_loop() {
    check_mode("bug-disconnect-loop", 15, &["disconnect"]);
}

#[test]
fn finds_alloc_on_length() {
    check_mode("bug-alloc-on-length", 16, &["memory", "crash"]);
}

#[test]
fn the_correct_simulator_has_no_findings() {
    let out = tempfile::tempdir().unwrap();
    let o = peercheck()
        .args(["fuzz", "scenarios", "--filter", "now.*", "--seed", "7"])
        .args(["--max-cases", "60", "--max-time", "20s"])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("0 finding(s)"), "{stdout}");
    assert!(finding_dirs(out.path()).is_empty());
}

#[test]
fn only_loopback_targets_are_fuzzed() {
    let o = peercheck()
        .args([
            "fuzz",
            "scenarios",
            "--filter",
            "now.*",
            "--target",
            "tcp://192.0.2.1:9",
        ])
        .args(["--max-cases", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("loopback"));
}

#[test]
fn generic_misbehaviours_are_listed_for_every_protocol() {
    let o = peercheck()
        .args(["simulate", "--list-misbehaviours"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    for proto in ["now", "psrp", "inedo"] {
        for mode in [
            "bug-crash-on-short-body",
            "bug-panic-on-oversized",
            "bug-hang-on-zero-length",
            "bug-hang-on-lying-length",
            "bug-alloc-on-length",
            "bug-disconnect-loop",
        ] {
            assert!(
                text.lines()
                    .any(|l| l.starts_with(mode) && l.split_whitespace().nth(1) == Some(proto)),
                "{mode} not listed for {proto}:\n{text}"
            );
        }
    }
}
