//! Behaviour scripts (`PeerConfig::script`, YAML) for the PSRP peers, with sensible defaults.

use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What the server does for each CREATE_PIPELINE.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerScript {
    /// Steps run in order for every pipeline.
    pub steps: Vec<Step>,
    /// Final state: completed | failed | stopped.
    pub state: String,
    /// Echo every PIPELINE_INPUT object as output (after the steps).
    pub echo_input: bool,
    /// Command names GET_COMMAND_METADATA can find.
    pub commands: Vec<String>,
    /// Min/max runspaces the pool allows SET_MAX/MIN_RUNSPACES to choose.
    pub max_runspaces_cap: i32,
}

impl Default for ServerScript {
    fn default() -> Self {
        Self {
            steps: vec![
                Step::Verbose("starting".into()),
                Step::Progress(json!({ "activity": "Working", "percentComplete": 50 })),
                Step::Output(json!({ "S": "Hello from the peercheck PSRP simulator" })),
                // A real xs:dateTime: an empty <DT/> is refused by psrpcore (and PowerShell's parser).
                Step::Information(json!({
                    "messageData": { "S": "done" },
                    "source": "peercheck",
                    "timeGenerated": "2026-01-01T00:00:00.0000000Z"
                })),
            ],
            state: "completed".into(),
            echo_input: true,
            commands: vec!["Get-Date".into(), "Get-Item".into(), "Get-Process".into()],
            max_runspaces_cap: 64,
        }
    }
}

/// One scripted pipeline step.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// PIPELINE_OUTPUT of a CLIXML value in JSON form (`{S: text}`, `{I32: 5}`, …).
    Output(Value),
    /// ERROR_RECORD typed fields (`message`, `fullyQualifiedErrorId`, …).
    Error(Value),
    Debug(String),
    Verbose(String),
    Warning(String),
    /// PROGRESS_RECORD typed fields.
    Progress(Value),
    /// INFORMATION_RECORD typed fields.
    Information(Value),
    /// PIPELINE_HOST_CALL; waits for the response when the method returns a value.
    HostCall(HostCallStep),
    /// PIPELINE_OUTPUT of a SecureString; without a session key the server first sends
    /// PUBLIC_KEY_REQUEST and waits for the exchange (§2.2.2.5; no exchange with 2.4 on both sides,
    /// ERRATA PSRP-5).
    SecureOutput(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct HostCallStep {
    /// Method name (e.g. ReadLine) or id.
    pub method: Option<String>,
    pub method_id: Option<i32>,
    pub parameters: Vec<Value>,
    /// Output the returned value (SecureStrings opened) as PIPELINE_OUTPUT.
    pub echo: bool,
}

/// What the client does.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClientScript {
    /// CREATE_PIPELINE commands (typed `commands` of create-pipeline).
    pub commands: Vec<Value>,
    /// PIPELINE_INPUT objects (CLIXML JSON); with none, the pipeline has NoInput.
    pub input: Vec<Value>,
    /// Host call answers by method name: a CLIXML JSON value, or a string (SecureString for
    /// ReadLineAsSecureString).
    pub host_responses: BTreeMap<String, Value>,
    /// Expected final pipeline state: completed | failed | stopped | any.
    pub expect_state: String,
    /// Expected number of PIPELINE_OUTPUT messages, if checked.
    pub expect_outputs: Option<usize>,
    /// Open with CONNECT_RUNSPACEPOOL instead of INIT_RUNSPACEPOOL.
    pub connect: bool,
    pub max_runspaces: i32,
    /// Run the session-key exchange right after the pool opens.
    pub exchange_key: bool,
    /// RSA key size for the exchange.
    pub rsa_bits: usize,
    /// OutOfProc: send the next `<Data>` line only after the server's `<DataAck>`, as PowerShell does.
    pub wait_data_ack: bool,
    /// Pool requests made one after another once the pool is open, before the pipeline.
    pub pool_requests: Vec<PoolRequest>,
}

/// A RunspacePool request of the client script (§3.1.4.5–§3.1.4.7).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolRequest {
    SetMaxRunspaces(i32),
    SetMinRunspaces(i32),
    GetAvailableRunspaces,
    ResetRunspaceState,
    /// Command name patterns.
    GetCommandMetadata(Vec<String>),
}

impl Default for ClientScript {
    fn default() -> Self {
        Self {
            commands: vec![json!({ "cmd": "Get-Date" })],
            input: vec![],
            host_responses: BTreeMap::new(),
            expect_state: "completed".into(),
            expect_outputs: None,
            connect: false,
            max_runspaces: 1,
            exchange_key: false,
            rsa_bits: 2048,
            wait_data_ack: true,
            pool_requests: vec![],
        }
    }
}

pub fn parse<T: serde::de::DeserializeOwned + Default>(
    script: Option<&serde_yaml::Value>,
) -> Result<T, String> {
    match script {
        None => Ok(T::default()),
        // Through JSON: serde_yaml's Value wants `!tags` for enums, JSON takes `{ variant: … }` maps.
        Some(v) => {
            let j = serde_json::to_value(v).map_err(|e| format!("psrp script: {e}"))?;
            serde_json::from_value(j).map_err(|e| format!("psrp script: {e}"))
        }
    }
}

/// PSInvocationState number of a state name (§2.2.3.5).
pub fn state_number(name: &str) -> Option<i32> {
    match name {
        "completed" => Some(4),
        "failed" => Some(5),
        "stopped" => Some(3),
        _ => None,
    }
}
