//! Behaviour scripts (`PeerConfig::script`, YAML) for the NOW peers.
//!
//! Server:
//! ```yaml
//! capset: { execCapset: [run, shell, io-redirection] }   # the agent's own capabilities (optional)
//! exec:                                # first entry whose `match` is in the command wins
//!   - match: "dir"
//!     output: [ { stdout: "a.txt\n", delay-ms: 10 }, { stderr: "warn\n" } ]
//!     exit-code: 0
//!     delay-ms: 5                      # before RESULT
//!     wait-stdin: false                # echo stdin as stdout until stdin LAST, then finish
//!     hang: false                      # never finish (for CANCEL / ABORT)
//!     fail: { kind: 2, code: 2, message: "not found" }   # RESULT with an error status instead
//! msgbox: { response: 6, delay-ms: 100 }
//! rdm: { available: true, version: "2025.1.2.3" }
//! window: { title: "Notepad", process-id: 42, executable-path: "C:\\Windows\\notepad.exe" }
//! ```
//!
//! With `peercheck simulate --protocol now --role server --run-real-commands` (loopback listener
//! only) the `exec` entries are not used: RUN, SHELL and BATCH run `sh -c COMMAND` (SHELL's `shell`
//! replaces `sh`), PROCESS runs its file with its parameters split into words, PWSH and WINPS run
//! `pwsh -Command` (a NOT_FOUND status when there is no pwsh). Output is streamed as EXEC_DATA
//! (each stream ends with an empty LAST chunk) when IO redirection was asked for, stdin DATA is
//! written to the process, CANCEL and ABORT kill its process group, and RESULT carries the real
//! exit code (128 + signal when a signal ended it). RUN and DETACHED are not followed.
//!
//! Client:
//! ```yaml
//! capset: { execCapset: [run, shell, io-redirection], heartbeatInterval: 60 }
//! timeout-ms: 10000
//! requests:
//!   - send: { exec.shell: { sessionId: 1, command: "echo hi", msgFlags: [io-redirection] } }
//!     expect-exit-code: 0
//!     expect-stdout: "hi"
//!     stdin: "input\n"
//!   - send: { exec.shell: { sessionId: 2, command: "sleep 100" } }
//!     wait: false                      # do not wait for the answer
//!   - send: { exec.cancel-req: { sessionId: 2 } }
//! ```

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerScript {
    pub capset: Option<serde_json::Value>,
    pub exec: Vec<ExecScript>,
    pub msgbox: MsgBoxScript,
    pub rdm: RdmScript,
    pub window: WindowScript,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExecScript {
    #[serde(rename = "match")]
    pub matches: Option<String>,
    /// `None` = echo the command back on stdout (the default script).
    pub output: Option<Vec<Chunk>>,
    pub exit_code: u32,
    pub delay_ms: u64,
    pub wait_stdin: bool,
    pub hang: bool,
    pub fail: Option<Failure>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Chunk {
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub delay_ms: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Failure {
    pub kind: u16,
    pub code: u32,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct MsgBoxScript {
    pub response: u32,
    pub delay_ms: u64,
}

impl Default for MsgBoxScript {
    fn default() -> Self {
        MsgBoxScript {
            response: 1,
            delay_ms: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct RdmScript {
    pub available: bool,
    pub version: String,
    pub timestamp: i64,
}

impl Default for RdmScript {
    fn default() -> Self {
        RdmScript {
            available: true,
            version: "2025.1.2.3".into(),
            timestamp: 1_700_000_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct WindowScript {
    pub title: String,
    pub process_id: u32,
    pub executable_path: String,
}

impl Default for WindowScript {
    fn default() -> Self {
        WindowScript {
            title: "Untitled - Notepad".into(),
            process_id: 4242,
            executable_path: "C:\\Windows\\notepad.exe".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClientScript {
    pub capset: Option<serde_json::Value>,
    pub timeout_ms: u64,
    pub requests: Vec<Request>,
}

impl Default for ClientScript {
    fn default() -> Self {
        ClientScript {
            capset: None,
            timeout_ms: 10_000,
            // Two RUN sessions at once (the first is not waited for), so that a client reusing a
            // running session's id (`now-client-session-id-reuse`) shows on the wire.
            requests: vec![
                Request {
                    send: serde_json::json!({ "exec.run": { "sessionId": 1, "command": "notepad.exe" } }),
                    wait: Some(false),
                    ..Request::default()
                },
                Request {
                    send: serde_json::json!({ "exec.run": { "sessionId": 2, "command": "calc.exe" } }),
                    ..Request::default()
                },
            ],
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Request {
    pub send: serde_json::Value,
    pub expect_exit_code: Option<u32>,
    pub expect_stdout: Option<String>,
    pub stdin: Option<String>,
    /// `false`: send and go on without waiting for the answer (e.g. start a session, then cancel it);
    /// that session's traffic is then only logged.
    pub wait: Option<bool>,
}

/// Parse a script of shape `T` (or its default when there is none).
pub fn parse<T: Default + serde::de::DeserializeOwned>(
    script: Option<&serde_yaml::Value>,
) -> Result<T, String> {
    match script {
        None | Some(serde_yaml::Value::Null) => Ok(T::default()),
        Some(v) => serde_yaml::from_value(v.clone()).map_err(|e| format!("now script: {e}")),
    }
}
