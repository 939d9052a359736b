//! Helpers shared by the integration tests (`mod common;` in each): the binary and the repository,
//! bounded runs of a child process, and peercheck processes that announce `listening on ADDR`.
//! Each test file uses a part of them.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The `peercheck` binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_peercheck")
}

/// The workspace root (where `scenarios/`, `golden/` and `adapters/` are).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// `peercheck ARGS`, not started yet.
pub fn peercheck(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args);
    c
}

/// Wait for `c` at most `secs`; kill and reap it past that (and fail, naming `what`).
pub fn wait_for(c: &mut Child, secs: u64, what: &str) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            c.kill().ok();
            let _ = c.wait();
            panic!("{what} ran longer than {secs}s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child killed and reaped when dropped (a failed assertion leaves nothing running).
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run `cmd` in the repository to the end (with `stdin` as its input), killed after `secs`.
pub fn run_bounded(mut cmd: Command, stdin: Option<&str>, secs: u64, what: &str) -> Output {
    let mut c = Reaped(
        cmd.current_dir(repo())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    if let Some(text) = stdin {
        c.0.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    let (mut out, mut err) = (c.0.stdout.take().unwrap(), c.0.stderr.take().unwrap());
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).ok();
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        err.read_to_end(&mut v).ok();
        v
    });
    let status = wait_for(&mut c.0, secs, what);
    Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

/// stdout then stderr, as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A long-running peercheck process (`simulate --listen`, `record`) that prints
/// `listening on ADDR` first; stdout after the banner is drained, stderr kept; killed and reaped
/// on drop.
pub struct Listening {
    pub child: Child,
    pub addr: String,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Listening {
    /// Start `peercheck ARGS` in the repository and read its banner (at most 20 s).
    pub fn start(args: &[&str]) -> Self {
        let mut child = peercheck(args)
            .current_dir(repo())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(out);
            let mut line = String::new();
            r.read_line(&mut line).ok();
            tx.send(line).ok();
            std::io::copy(&mut r, &mut std::io::sink()).ok();
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            err.read_to_string(&mut s).ok();
            s
        });
        let mut me = Self {
            child,
            addr: String::new(),
            stderr: Some(stderr),
        };
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("no `listening on` banner within 20s");
        me.addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("no address: {line:?}"))
            .to_owned();
        me
    }

    /// Wait (at most `secs`) for the process to end: its exit status and stderr.
    pub fn finish(mut self, secs: u64) -> (ExitStatus, String) {
        let status = wait_for(&mut self.child, secs, "a listening peercheck process");
        let log = self.stderr.take().unwrap().join().unwrap();
        (status, log)
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The step lines of a scenario written by `record` (one line per step).
pub fn steps_of(yaml: &str) -> Vec<String> {
    yaml.lines()
        .filter(|l| l.starts_with("  - "))
        .map(str::to_owned)
        .collect()
}

/// The psrpcore venv's python (`PEERCHECK_PSRPCORE_PYTHON`, else adapters/psrpcore/.venv), or
/// `None` after a loud skip note; under CI a missing venv is a failure.
pub fn psrpcore_python() -> Option<PathBuf> {
    let from_env = std::env::var_os("PEERCHECK_PSRPCORE_PYTHON").map(PathBuf::from);
    let venv = repo().join("adapters/psrpcore/.venv/bin/python");
    if let Some(p) = from_env.iter().chain([&venv]).find(|p| p.is_file()) {
        return Some(p.clone());
    }
    let why = format!(
        "no psrpcore Python: PEERCHECK_PSRPCORE_PYTHON is {:?} and {} does not exist; \
         run adapters/psrpcore/setup.sh (it makes the venv from PyPI)",
        from_env,
        venv.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{why}");
    }
    eprintln!("\n**** SKIPPED (not under CI): {why} ****\n");
    None
}

/// `'text'` for `sh -c`.
pub fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// `<python> adapters/psrpcore/<name>` as a shell command.
pub fn psrpcore_shim(py: &Path, name: &str) -> String {
    format!(
        "{} {}",
        sh_quote(py),
        sh_quote(&repo().join("adapters/psrpcore").join(name))
    )
}
