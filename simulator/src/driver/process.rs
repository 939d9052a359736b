//! Real local processes for a peer that asks for them ([`Output::Process`](crate::peer::Output)).
//!
//! Only a driver configured with `run_real_commands` spawns anything; otherwise every start request
//! is answered with [`ProcessEvent::Failed`]. Each process runs in its own process group; the group
//! is killed on [`ProcessRequest::Kill`] and, for every process still running, when the connection
//! ends (drop). A task per process streams its output and reaps it.

use crate::peer::{ProcessEvent, ProcessRequest};
use std::collections::HashMap;
use std::process::Stdio;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// The processes of one driven connection.
#[derive(Debug)]
pub(crate) struct Processes {
    enabled: bool,
    live: HashMap<u64, Live>,
    tx: mpsc::Sender<ProcessEvent>,
    pub(crate) rx: mpsc::Receiver<ProcessEvent>,
}

/// Events in flight from all of a connection's processes: a process writing faster than the link
/// drains waits on its pipe instead of filling memory.
const EVENT_QUEUE: usize = 64;

#[derive(Debug)]
struct Live {
    pgid: u32,
    stdin: Option<mpsc::UnboundedSender<(Vec<u8>, bool)>>,
}

impl Processes {
    pub(crate) fn new(enabled: bool) -> Self {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        Processes {
            enabled,
            live: HashMap::new(),
            tx,
            rx,
        }
    }

    /// Carry out one request of the peer; answers arrive on `rx`.
    pub(crate) fn handle(&mut self, req: ProcessRequest) {
        match req {
            ProcessRequest::Start {
                id,
                program,
                args,
                directory,
                io,
            } => self.start(id, &program, &args, directory.as_deref(), io),
            ProcessRequest::Stdin { id, bytes, last } => {
                if let Some(live) = self.live.get_mut(&id) {
                    if let Some(w) = &live.stdin {
                        let _ = w.send((bytes, last));
                    }
                    if last {
                        live.stdin = None;
                    }
                }
            }
            ProcessRequest::Kill { id } => {
                if let Some(live) = self.live.get_mut(&id) {
                    live.stdin = None;
                    kill_group(live.pgid);
                }
            }
        }
    }

    /// Note an event before the peer sees it (an exited process's group is gone).
    pub(crate) fn observe(&mut self, ev: &ProcessEvent) {
        if let ProcessEvent::Exited { id, .. } = ev {
            self.live.remove(id);
        }
    }

    fn start(&mut self, id: u64, program: &str, args: &[String], directory: Option<&str>, io: bool) {
        if !self.enabled {
            self.send_later(ProcessEvent::Failed {
                id,
                not_found: false,
                error: "real command execution is not enabled on this simulator".into(),
            });
            return;
        }
        let mut c = tokio::process::Command::new(program);
        c.args(args)
            .stdin(if io { Stdio::piped() } else { Stdio::null() })
            .stdout(if io { Stdio::piped() } else { Stdio::null() })
            .stderr(if io { Stdio::piped() } else { Stdio::null() })
            .kill_on_drop(true)
            .process_group(0);
        if let Some(dir) = directory.filter(|d| !d.is_empty()) {
            c.current_dir(dir);
        }
        let mut child = match c.spawn() {
            Ok(child) => child,
            Err(e) => {
                self.send_later(ProcessEvent::Failed {
                    id,
                    not_found: e.kind() == std::io::ErrorKind::NotFound,
                    error: format!("cannot start `{program}`: {e}"),
                });
                return;
            }
        };
        let pid = child.id().unwrap_or(0);
        let stdin = child.stdin.take().map(|mut w| {
            let (tx, mut rx) = mpsc::unbounded_channel::<(Vec<u8>, bool)>();
            tokio::spawn(async move {
                // Ends (closing the pipe) on `last`, on a dead reader, or when the sender goes.
                while let Some((bytes, last)) = rx.recv().await {
                    if w.write_all(&bytes).await.is_err() || w.flush().await.is_err() || last {
                        break;
                    }
                }
            });
            tx
        });
        self.live.insert(id, Live { pgid: pid, stdin });
        let tx = self.tx.clone();
        tokio::spawn(async move {
            // Started goes first, from the same task as the output, so it is delivered first.
            if tx.send(ProcessEvent::Started { id, pid }).await.is_err() {
                return;
            }
            let out = pump(id, child.stdout.take(), false, tx.clone());
            let err = pump(id, child.stderr.take(), true, tx.clone());
            tokio::join!(out, err);
            let code = match child.wait().await {
                Ok(status) => exit_code(status),
                Err(_) => 255,
            };
            let _ = tx.send(ProcessEvent::Exited { id, code }).await;
        });
    }

    /// Queue an event without blocking the driver (the queue may be full of other output).
    fn send_later(&self, ev: ProcessEvent) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(ev).await;
        });
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        // The connection is over: nothing it started may outlive it. The per-process tasks then see
        // end of output and reap their child.
        for live in self.live.values() {
            kill_group(live.pgid);
        }
    }
}

async fn pump<R: AsyncRead + Unpin>(
    id: u64,
    stream: Option<R>,
    stderr: bool,
    tx: mpsc::Sender<ProcessEvent>,
) {
    let Some(mut r) = stream else {
        return;
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let bytes = buf.get(..n).unwrap_or(&[]).to_vec();
                let ev = if stderr {
                    ProcessEvent::Stderr { id, bytes }
                } else {
                    ProcessEvent::Stdout { id, bytes }
                };
                if tx.send(ev).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = tx.send(ProcessEvent::Eof { id, stderr }).await;
}

#[cfg(unix)]
fn exit_code(status: std::process::ExitStatus) -> u32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => u32::from_ne_bytes(c.to_ne_bytes()),
        (None, Some(sig)) => 128 + u32::from_ne_bytes(sig.to_ne_bytes()),
        (None, None) => 255,
    }
}

#[cfg(not(unix))]
fn exit_code(status: std::process::ExitStatus) -> u32 {
    status.code().map_or(255, |c| u32::from_ne_bytes(c.to_ne_bytes()))
}

/// Kill a process group without unsafe code: the `kill` utility does the syscall.
fn kill_group(pgid: u32) {
    if pgid == 0 {
        return;
    }
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
