//! `now-client-shim HOST:PORT [--style auto|run|process|batch|winps|pwsh] [--command TEXT] [--single]`
//!
//! The published `now-client` 0.1.0 crate (Devolutions now-libraries) as the NOW client under
//! test: peercheck listens (`--listen tcp://127.0.0.1:0 --exec 'now-client-shim {addr}'`), this
//! program connects, lets `NowClient::connect` negotiate (it sends the crate's default capset —
//! version 1.6, RUN/PROCESS/BATCH/WINPS/PWSH, IO_REDIRECTION, UNICODE_CONSOLE, heartbeat 60 s —
//! and waits for the server's), then runs its workload:
//!
//! 1. a RUN of `echo hi` when RUN was negotiated (submission-only in now-client, so it does not
//!    wait: this gives the suite two sessions in flight at once, with distinct ids), unless
//!    `--single`;
//! 2. one tracked execution of `echo hi`, waited for until its RESULT.
//!
//! Style `auto` (default) takes the first tracked style the negotiated capabilities allow (now-client
//! tracks only with IO_REDIRECTION negotiated) —
//! PROCESS (`echo` with parameters `hi`), BATCH, PWSH, WINPS (`echo hi`) — because only tracked
//! executions let the caller see STARTED/DATA/RESULT; with none of them it falls back to RUN.
//! now-client 0.1.0 makes RUN submission-only (it discards the server's STARTED/DATA/RESULT for
//! it) and has no SHELL, ABORT or CHANNEL_CLOSE API, so for RUN the shim can only wait a grace
//! period (`--grace-ms`, default 500) for the server to answer before it drops the connection.
//!
//! Exit status: 0 = negotiated and the execution completed with exit code 0 (RUN: submitted);
//! 1 = anything else (the reason on stderr); 2 = usage.

use now_client::{
    BatchRequest, ExecutionEvent, ExecutionStatus, NowClient, NowClientConfig, NowClientHandle,
    ProcessRequest, PwshRequest, RunRequest, WinPsRequest,
};
use std::process::ExitCode;
use std::time::Duration;
use tokio::net::TcpStream;

/// How long the shim waits for a tracked execution to end.
const EXEC_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Auto,
    Run,
    Process,
    Batch,
    WinPs,
    Pwsh,
}

#[derive(Debug)]
struct Options {
    addr: String,
    style: Style,
    command: String,
    grace: Duration,
    single: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut opts = Options {
        addr: String::new(),
        style: Style::Auto,
        command: "echo hi".to_owned(),
        grace: Duration::from_millis(500),
        single: false,
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--style" => {
                opts.style = match args.next().as_deref() {
                    Some("auto") => Style::Auto,
                    Some("run") => Style::Run,
                    Some("process") => Style::Process,
                    Some("batch") => Style::Batch,
                    Some("winps") => Style::WinPs,
                    Some("pwsh") => Style::Pwsh,
                    other => return Err(format!("unknown --style {other:?}")),
                }
            }
            "--single" => opts.single = true,
            "--command" => opts.command = args.next().ok_or("--command needs a value")?,
            "--grace-ms" => {
                let ms: u64 = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--grace-ms needs a number")?;
                opts.grace = Duration::from_millis(ms);
            }
            _ if opts.addr.is_empty() && !a.starts_with('-') => {
                opts.addr = a.trim_start_matches("tcp://").to_owned()
            }
            _ => return Err(format!("unexpected argument `{a}`")),
        }
    }
    if opts.addr.is_empty() {
        return Err("missing HOST:PORT".into());
    }
    Ok(opts)
}

fn pick_style(wanted: Style, client: &NowClientHandle) -> Style {
    if wanted != Style::Auto {
        return wanted;
    }
    let caps = client.capabilities();
    // now-client tracks an execution only with IO redirection negotiated.
    if !caps.supports_io_redirection() {
        Style::Run
    } else if caps.supports_process() {
        Style::Process
    } else if caps.supports_batch() {
        Style::Batch
    } else if caps.supports_pwsh() {
        Style::Pwsh
    } else if caps.supports_win_ps() {
        Style::WinPs
    } else {
        Style::Run
    }
}

async fn run(opts: &Options) -> Result<(), String> {
    let stream = TcpStream::connect(&opts.addr)
        .await
        .map_err(|e| format!("connect {}: {e}", opts.addr))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let config = NowClientConfig {
        connect_timeout: Duration::from_secs(10),
        ..NowClientConfig::default()
    };
    let client = NowClient::connect(stream, config)
        .await
        .map_err(|e| format!("negotiation failed: {e}"))?;
    let caps = client.capabilities();
    eprintln!(
        "now-client-shim: negotiated version {}.{}, exec capset {:#06x}, heartbeat {:?}",
        caps.version().major,
        caps.version().minor,
        caps.capset().exec_capset().bits(),
        caps.heartbeat_interval()
    );

    let style = pick_style(opts.style, &client);
    if !opts.single && style != Style::Run && client.capabilities().supports_run() {
        let d = client
            .run(RunRequest::new(opts.command.clone()))
            .await
            .map_err(|e| format!("RUN submission failed: {e}"))?;
        eprintln!(
            "now-client-shim: RUN submitted as session {} (not tracked)",
            d.id()
        );
    }
    eprintln!("now-client-shim: submitting {style:?} `{}`", opts.command);
    let (program, params) = match opts.command.split_once(' ') {
        Some((p, rest)) => (p.to_owned(), Some(rest.to_owned())),
        None => (opts.command.clone(), None),
    };
    let submitted = match style {
        Style::Run | Style::Auto => {
            let d = client
                .run(RunRequest::new(opts.command.clone()))
                .await
                .map_err(|e| format!("RUN submission failed: {e}"))?;
            eprintln!(
                "now-client-shim: RUN submitted as session {} (now-client does not track RUN)",
                d.id()
            );
            tokio::time::sleep(opts.grace).await;
            return Ok(());
        }
        Style::Process => {
            let mut req = ProcessRequest::new(program);
            if let Some(p) = params {
                req = req.with_parameters(p);
            }
            client.process(req).await
        }
        Style::Batch => client.batch(BatchRequest::new(opts.command.clone())).await,
        Style::WinPs => client.win_ps(WinPsRequest::new(opts.command.clone())).await,
        Style::Pwsh => client.pwsh(PwshRequest::new(opts.command.clone())).await,
    };
    let mut exec = submitted.map_err(|e| format!("{style:?} submission failed: {e}"))?;
    eprintln!("now-client-shim: session {}", exec.id());

    let drain = async {
        // The event channel closes when the terminal RESULT has been handled.
        while let Some(ev) = exec.next_event().await {
            match ev {
                ExecutionEvent::Stdout { data, last } => eprintln!(
                    "now-client-shim: stdout {:?} last={last}",
                    String::from_utf8_lossy(&data)
                ),
                ExecutionEvent::Stderr { data, last } => eprintln!(
                    "now-client-shim: stderr {:?} last={last}",
                    String::from_utf8_lossy(&data)
                ),
                other => eprintln!("now-client-shim: {other:?}"),
            }
        }
        exec.wait().await
    };
    let status = tokio::time::timeout(EXEC_TIMEOUT, drain)
        .await
        .map_err(|_| format!("no RESULT within {EXEC_TIMEOUT:?}"))?
        .map_err(|e| format!("execution failed: {e}"))?;
    eprintln!("now-client-shim: {status:?}");
    match status {
        ExecutionStatus::Completed { exit_code: 0 } => Ok(()),
        other => Err(format!("execution ended {other:?}")),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("now-client-shim: {e}\nusage: now-client-shim HOST:PORT [--style auto|run|process|batch|winps|pwsh] [--command TEXT] [--grace-ms N] [--single]");
            return ExitCode::from(2);
        }
    };
    match run(&opts).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("now-client-shim: {e}");
            ExitCode::FAILURE
        }
    }
}
