//! The implementation under test, as the fuzzer sees it: something to open connections to, whose
//! process (when we started it) can be watched for exits, panics on stderr and memory growth.
//!
//! Three shapes: a server child we own (the built-in simulator as `peercheck simulate --listen`),
//! an external server (`--target`, never restarted), and stdio (a child per case).

use super::FuzzError;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};
use tokio::process::{Child, Command};

/// Most stderr kept per child.
const MAX_STDERR: usize = 256 * 1024;

/// A child process we started: its pid, exit status and stderr.
#[derive(Debug)]
pub struct Watched {
    child: Child,
    pub pid: Option<u32>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Watched {
    pub fn spawn(command_line: &str) -> Result<Self, FuzzError> {
        let mut c = Command::new("sh");
        // `exec`: the shell becomes the program, so the pid we watch is the program's.
        c.arg("-c").arg(format!("exec {command_line}"));
        c.stdin(Stdio::piped());
        c.stdout(Stdio::piped());
        c.stderr(Stdio::piped());
        c.kill_on_drop(true);
        c.process_group(0);
        let mut child = c
            .spawn()
            .map_err(|e| FuzzError::Unreachable(format!("cannot start `{command_line}`: {e}")))?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut err) = child.stderr.take() {
            let sink = stderr.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut s) = sink.lock() {
                        if s.len() < MAX_STDERR {
                            s.extend_from_slice(buf.get(..n).unwrap_or(&[]));
                        }
                    }
                }
            });
        }
        let pid = child.id();
        Ok(Self { child, pid, stderr })
    }

    /// stdin and stdout, for a stdio link.
    pub fn take_pipes(&mut self) -> Option<(tokio::process::ChildStdout, tokio::process::ChildStdin)> {
        Some((self.child.stdout.take()?, self.child.stdin.take()?))
    }

    pub fn stderr_len(&self) -> usize {
        self.stderr.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// stderr from byte `from` on.
    pub fn stderr_since(&self, from: usize) -> String {
        self.stderr
            .lock()
            .map(|s| String::from_utf8_lossy(s.get(from..).unwrap_or(&[])).into_owned())
            .unwrap_or_default()
    }

    /// The exit status if the child has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Wait up to `d` for the child to exit.
    pub async fn wait_exit(&mut self, d: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(d, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// Resident memory in MiB (Linux /proc/<pid>/status VmRSS), if readable.
    pub fn rss_mib(&self) -> Option<u64> {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024)
    }

    /// Kill the whole process group and reap the child.
    pub async fn kill(mut self) -> String {
        kill_group(self.pid);
        let _ = self.child.kill().await;
        let _ = self.child.wait().await;
        self.stderr_since(0)
    }

    /// Read the `listening on ADDR` line a `peercheck simulate --listen` prints.
    pub async fn listening_addr(&mut self, within: Duration) -> Result<String, FuzzError> {
        let out = self
            .child
            .stdout
            .take()
            .ok_or_else(|| FuzzError::Usage("the simulator has no stdout".into()))?;
        let mut lines = tokio::io::BufReader::new(out).lines();
        let line = tokio::time::timeout(within, lines.next_line())
            .await
            .map_err(|_| FuzzError::Unreachable("the simulator did not say where it listens".into()))?
            .map_err(|e| FuzzError::Unreachable(e.to_string()))?
            .unwrap_or_default();
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        line.strip_prefix("listening on ")
            .map(|a| a.trim().to_owned())
            .ok_or_else(|| {
                FuzzError::Unreachable(format!(
                    "unexpected simulator output `{line}`; stderr: {}",
                    self.stderr_since(0)
                ))
            })
    }
}

/// Kill a process group without unsafe code: the `kill` utility does the syscall.
pub fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `host:port` must be a loopback address: the fuzzer sends hostile bytes, only to this machine.
pub fn loopback_only(addr: &str) -> Result<(), String> {
    let host = addr
        .rsplit_once(':')
        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
        .unwrap_or(addr);
    let ok = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{addr}` is not a loopback address: peercheck fuzz only sends hostile bytes to this machine (127.0.0.1, ::1, localhost)"
        ))
    }
}

/// True when stderr text shows a Rust (or similar) panic or abort message.
pub fn shows_panic(stderr: &str) -> bool {
    stderr.contains("panicked at") || stderr.contains("memory allocation of")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets() {
        assert!(loopback_only("127.0.0.1:9").is_ok());
        assert!(loopback_only("[::1]:9").is_ok());
        assert!(loopback_only("localhost:9").is_ok());
        assert!(loopback_only("10.0.0.1:9").is_err());
        assert!(loopback_only("example.com:9").is_err());
    }
}
