//! Transports: how the suite reaches the implementation for one scenario.
//!
//! Every scenario gets its own connection or process. Child processes are started in their own
//! process group, and the whole group is killed and reaped when the scenario ends, times out, fails
//! or the run is interrupted — none is left behind.

use crate::protocols;
use peercheck_simulator::driver::{self, DriveConfig, Link};
use peercheck_simulator::peer::PeerConfig;
use peercheck_wire::session::Role;
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

/// Where the implementation under test is.
#[derive(Debug, Clone)]
pub enum Target {
    /// The implementation is a server at this address; the suite connects.
    Connect(String),
    /// The implementation is a client; the suite listens here and launches `exec` (with `{addr}`).
    Listen { addr: String, exec: String },
    /// stdio: the suite spawns `exec` and speaks on its stdin/stdout.
    Exec(String),
    /// The built-in simulator, in-process over loopback TCP.
    BuiltinTcp { misbehave: Option<String> },
    /// The built-in simulator as a child process (`peercheck simulate --stdio`).
    BuiltinStdio { misbehave: Option<String> },
}

impl Target {
    pub fn describe(&self) -> String {
        match self {
            Target::Connect(a) => format!("tcp://{a}"),
            Target::Listen { addr, exec } => format!("listen tcp://{addr}, exec `{exec}`"),
            Target::Exec(c) => format!("stdio `{c}`"),
            Target::BuiltinTcp { misbehave } => format!("built-in simulator (tcp){}", mb(misbehave)),
            Target::BuiltinStdio { misbehave } => format!("built-in simulator (stdio){}", mb(misbehave)),
        }
    }
}

fn mb(m: &Option<String>) -> String {
    m.as_ref()
        .map(|m| format!(", misbehaving: {m}"))
        .unwrap_or_default()
}

/// What a transport needs to know about the scenario.
#[derive(Debug, Clone)]
pub struct OpenContext {
    pub protocol: String,
    pub profile: String,
    /// Role of the implementation under test.
    pub peer_role: Role,
    pub scenario_id: String,
    pub params: BTreeMap<String, String>,
    pub seed: u64,
    pub connect_timeout: Duration,
    /// The built-in simulator's clock speed (1 = real time; see pace.rs).
    pub clock_speed: u32,
}

/// Why a transport could not be opened.
#[derive(Debug, Clone)]
pub enum OpenError {
    /// The implementation could not be reached at all (exit code 3).
    Unreachable(String),
    /// Anything else (bad command, simulator refused the configuration).
    Other(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Unreachable(m) => write!(f, "could not reach the implementation: {m}"),
            OpenError::Other(m) => f.write_str(m),
        }
    }
}

/// One open connection to the implementation, with whatever must be cleaned up after it.
pub struct Connection {
    pub link: Box<dyn Link>,
    pub child: Option<ChildGuard>,
    /// The in-process simulator task (built-in TCP).
    pub task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("child", &self.child.is_some())
            .finish()
    }
}

impl Connection {
    /// Kill and reap the child (if any) and collect its stderr.
    pub async fn close(mut self) -> Option<String> {
        drop(self.link);
        if let Some(t) = self.task.take() {
            // The simulator task ends when its link closes; don't wait for ever.
            if tokio::time::timeout(Duration::from_secs(2), t).await.is_err() {
                // Dropping the handle detaches; the task holds no process.
            }
        }
        match self.child.take() {
            Some(c) => Some(c.finish().await),
            None => None,
        }
    }
}

/// A spawned child: its process group is killed on drop if it was not reaped.
pub struct ChildGuard {
    child: Option<Child>,
    pid: Option<u32>,
    stderr: Option<tokio::task::JoinHandle<Vec<u8>>>,
}

/// Most stderr kept for a report.
const MAX_STDERR: usize = 64 * 1024;

impl ChildGuard {
    fn new(mut child: Child) -> Self {
        let pid = child.id();
        let stderr = child.stderr.take().map(|mut e| {
            tokio::spawn(async move {
                let mut out = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = e.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if out.len() < MAX_STDERR {
                        out.extend_from_slice(buf.get(..n).unwrap_or(&[]));
                    }
                }
                out
            })
        });
        Self {
            child: Some(child),
            pid,
            stderr,
        }
    }

    /// Give the child a moment to exit by itself, then kill its group; reap it; return its stderr.
    pub async fn finish(mut self) -> String {
        if let Some(mut child) = self.child.take() {
            if tokio::time::timeout(Duration::from_millis(300), child.wait())
                .await
                .is_err()
            {
                kill_group_async(self.pid).await;
                let _ = child.kill().await;
            } else {
                // The leader exited; its group may still hold children.
                kill_group_async(self.pid).await;
            }
            let _ = child.wait().await;
        }
        let err = match self.stderr.take() {
            Some(h) => tokio::time::timeout(Duration::from_secs(1), h)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        String::from_utf8_lossy(&err).into_owned()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.child.is_some() {
            kill_group(self.pid);
        }
    }
}

/// Kill a process group without unsafe code: the `kill` utility does the syscall.
fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// [`kill_group`] without blocking a runtime thread while `kill` runs.
async fn kill_group_async(pid: Option<u32>) {
    if let Some(pid) = pid {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
    }
}

/// Fill `{addr}`, `{protocol}`, `{role}`, `{profile}`, `{id}` and `{param:KEY}` (the scenario's session
/// parameter, e.g. `{param:framing}`; empty when the scenario sets none) in a command line.
pub fn expand_command(cmd: &str, ctx: &OpenContext, addr: Option<&str>) -> String {
    let mut out = cmd
        .replace("{addr}", addr.unwrap_or(""))
        .replace("{protocol}", &ctx.protocol)
        .replace("{role}", ctx.peer_role.as_str())
        .replace("{profile}", &ctx.profile)
        .replace("{id}", &ctx.scenario_id);
    while let Some(start) = out.find("{param:") {
        let Some(len) = out.get(start..).and_then(|rest| rest.find('}')) else {
            break;
        };
        let key = out.get(start + 7..start + len).unwrap_or("").to_owned();
        let value = ctx.params.get(&key).cloned().unwrap_or_default();
        out.replace_range(start..=start + len, &value);
    }
    out
}

fn spawn(cmd: &str, stdin_out: bool) -> Result<ChildGuard, OpenError> {
    let mut c = Command::new("sh");
    // `exec` makes the shell become the program, so the pid we kill is the program's.
    c.arg("-c").arg(format!("exec {cmd}"));
    spawn_command(c, cmd, stdin_out)
}

fn spawn_command(mut c: Command, cmd: &str, stdin_out: bool) -> Result<ChildGuard, OpenError> {
    c.stdin(if stdin_out { Stdio::piped() } else { Stdio::null() });
    c.stdout(if stdin_out { Stdio::piped() } else { Stdio::null() });
    c.stderr(Stdio::piped());
    c.kill_on_drop(true);
    c.process_group(0);
    let child = c
        .spawn()
        .map_err(|e| OpenError::Unreachable(format!("cannot start `{cmd}`: {e}")))?;
    Ok(ChildGuard::new(child))
}

/// Open a connection for one scenario.
pub async fn open(target: &Target, ctx: &OpenContext) -> Result<Connection, OpenError> {
    match target {
        Target::Connect(addr) => {
            let s = connect_with_retry(addr, ctx.connect_timeout).await?;
            Ok(Connection {
                link: Box::new(s),
                child: None,
                task: None,
            })
        }
        Target::Listen { addr, exec } => {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| OpenError::Other(format!("cannot listen on {addr}: {e}")))?;
            let bound = listener
                .local_addr()
                .map_err(|e| OpenError::Other(e.to_string()))?;
            let cmd = expand_command(exec, ctx, Some(&bound.to_string()));
            let child = spawn(&cmd, false)?;
            accept_from_child(listener, child, ctx.connect_timeout).await
        }
        Target::Exec(cmd) => {
            let cmd = expand_command(cmd, ctx, None);
            stdio_connection(spawn(&cmd, true)?)
        }
        Target::BuiltinTcp { misbehave } => builtin_tcp(ctx, misbehave.clone()).await,
        Target::BuiltinStdio { misbehave } => {
            // Our own binary, started directly (no shell: one exec less per scenario).
            let exe = std::env::current_exe().map_err(|e| OpenError::Other(e.to_string()))?;
            let mut args: Vec<String> = vec![
                "simulate".into(),
                "--protocol".into(),
                ctx.protocol.clone(),
                "--role".into(),
                ctx.peer_role.as_str().into(),
                "--profile".into(),
                ctx.profile.clone(),
                "--stdio".into(),
                "--seed".into(),
                ctx.seed.to_string(),
            ];
            for (k, v) in &ctx.params {
                args.extend(["--param".into(), format!("{k}={v}")]);
            }
            if let Some(m) = misbehave {
                args.extend(["--misbehave".into(), m.clone()]);
            }
            if ctx.clock_speed > 1 {
                args.extend(["--clock-speed".into(), ctx.clock_speed.to_string()]);
            }
            let mut c = Command::new(&exe);
            c.args(&args);
            let shown = format!("{} {}", exe.display(), args.join(" "));
            stdio_connection(spawn_command(c, &shown, true)?)
        }
    }
}

fn stdio_connection(mut child: ChildGuard) -> Result<Connection, OpenError> {
    let c = child
        .child
        .as_mut()
        .ok_or_else(|| OpenError::Other("child vanished".into()))?;
    let stdout = c
        .stdout
        .take()
        .ok_or_else(|| OpenError::Other("no stdout pipe".into()))?;
    let stdin = c
        .stdin
        .take()
        .ok_or_else(|| OpenError::Other("no stdin pipe".into()))?;
    Ok(Connection {
        link: Box::new(tokio::io::join(stdout, stdin)),
        child: Some(child),
        task: None,
    })
}

async fn connect_with_retry(addr: &str, within: Duration) -> Result<TcpStream, OpenError> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) if tokio::time::Instant::now() + Duration::from_millis(50) >= deadline => {
                return Err(OpenError::Unreachable(format!("{addr}: {e}")))
            }
            Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(_) => return Err(OpenError::Unreachable(format!("{addr}: connect timed out"))),
        }
    }
}

async fn accept_from_child(
    listener: TcpListener,
    mut child: ChildGuard,
    within: Duration,
) -> Result<Connection, OpenError> {
    let exited = async {
        match child.child.as_mut() {
            Some(c) => c.wait().await.ok(),
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = tokio::time::timeout(within, listener.accept()) => match r {
            Ok(Ok((s, _))) => {
                let _ = s.set_nodelay(true);
                Ok(Connection { link: Box::new(s), child: Some(child), task: None })
            }
            Ok(Err(e)) => Err(OpenError::Other(format!("accept failed: {e}"))),
            Err(_) => {
                let err = child.finish().await;
                Err(OpenError::Unreachable(format!("the client did not connect within {within:?}; its stderr: {}", err.trim())))
            }
        },
        status = exited => {
            let err = child.finish().await;
            Err(OpenError::Unreachable(format!("the client exited ({status:?}) before connecting; its stderr: {}", err.trim())))
        }
    }
}

fn peer_config(ctx: &OpenContext, misbehave: Option<String>) -> PeerConfig {
    PeerConfig {
        role: Some(ctx.peer_role),
        profile: Some(ctx.profile.clone()),
        params: ctx.params.clone(),
        script: None,
        misbehave,
        seed: ctx.seed,
    }
}

/// The simulator in-process: a loopback listener per scenario, one driven connection.
async fn builtin_tcp(ctx: &OpenContext, misbehave: Option<String>) -> Result<Connection, OpenError> {
    let peer = protocols::new_peer(&ctx.protocol, &peer_config(ctx, misbehave)).map_err(OpenError::Other)?;
    let proto = protocols::get(&ctx.protocol).map_err(OpenError::Other)?;
    let cfg = DriveConfig {
        seed: ctx.seed,
        length_field: proto.length_field(),
        clock_speed: ctx.clock_speed,
        ..DriveConfig::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| OpenError::Other(format!("cannot listen on loopback: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| OpenError::Other(e.to_string()))?;
    match ctx.peer_role {
        Role::Server => {
            let task = tokio::spawn(async move {
                if let Ok((s, _)) = listener.accept().await {
                    let _ = s.set_nodelay(true);
                    driver::drive(peer, s, cfg).await;
                }
            });
            let s = connect_with_retry(&addr.to_string(), ctx.connect_timeout).await?;
            Ok(Connection {
                link: Box::new(s),
                child: None,
                task: Some(task),
            })
        }
        Role::Client => {
            let task = tokio::spawn(async move {
                if let Ok(s) = TcpStream::connect(addr).await {
                    let _ = s.set_nodelay(true);
                    driver::drive(peer, s, cfg).await;
                }
            });
            let (s, _) = tokio::time::timeout(ctx.connect_timeout, listener.accept())
                .await
                .map_err(|_| OpenError::Unreachable("the simulated client did not connect".into()))?
                .map_err(|e| OpenError::Other(e.to_string()))?;
            let _ = s.set_nodelay(true);
            Ok(Connection {
                link: Box::new(s),
                child: None,
                task: Some(task),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_placeholders() {
        let mut params = BTreeMap::new();
        params.insert("framing".to_owned(), "fragments".to_owned());
        let ctx = OpenContext {
            protocol: "psrp".into(),
            profile: "psrp-2.3".into(),
            peer_role: Role::Server,
            scenario_id: "psrp.x".into(),
            params,
            seed: 0,
            connect_timeout: Duration::from_secs(1),
            clock_speed: 1,
        };
        assert_eq!(
            expand_command(
                "srv --framing={param:framing} {param:absent}| {role} {id} {addr}",
                &ctx,
                Some("a:1")
            ),
            "srv --framing=fragments | server psrp.x a:1"
        );
    }
}
