//! `peercheck record`: a transparent TCP proxy between a real client and a real server (or a
//! stdio server spawned with `--exec`). Bytes are forwarded untouched; both directions are decoded
//! live through the protocol's sessions (one annotated line per message on stderr, secrets
//! redacted), and the exchange is written as a replayable scenario (`tools::record`).

use super::exit;
use crate::cli::params_for;
use crate::protocols;
use crate::tools::record::Recorder;
use crate::tools::{redact, scenario_yaml};
use peercheck_wire::session::Role;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// now, psrp (OutOfProc framing unless --param framing=fragments), psrp-outofproc, inedo.
    #[arg(long)]
    pub protocol: String,
    /// Listen here for the real client (printed as `listening on ADDR`), e.g. 127.0.0.1:0.
    #[arg(long)]
    pub listen: String,
    /// The real server: HOST:PORT (tcp:// optional).
    #[arg(long, conflicts_with = "exec", required_unless_present = "exec")]
    pub upstream: Option<String>,
    /// The real server speaks on stdin/stdout: spawn this (with `sh -c`) when the client connects.
    #[arg(long)]
    pub exec: Option<String>,
    #[arg(long)]
    pub profile: Option<String>,
    /// Session parameter `key=value` (repeatable), e.g. key=… for Inedo AES.
    #[arg(long)]
    pub param: Vec<String>,
    /// Which side the scenario tests: its messages become `expect` steps.
    #[arg(long, value_parser = ["server", "client"], default_value = "server")]
    pub under_test: String,
    /// Scenario id (default `<protocol>.recorded.<under-test>`).
    #[arg(long)]
    pub id: Option<String>,
    /// Write the scenario here (default: stdout).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Fields of the side under test to match as `{ any: true }` (repeatable), e.g. a timestamp.
    #[arg(long)]
    pub loose: Vec<String>,
    /// Keep secret parameters (keys) in the scenario file's params.
    #[arg(long)]
    pub keep_secrets: bool,
    /// Stop when neither side has sent anything for this many seconds.
    #[arg(long, default_value_t = 30)]
    pub idle_timeout: u64,
    /// Give up when no client connects within this many seconds.
    #[arg(long, default_value_t = 60)]
    pub accept_timeout: u64,
    /// Inedo SSL: terminate the client's TLS (a self-signed certificate it must accept, as
    /// Inedo clients do) and open a separate TLS connection to the server, so the frames inside
    /// are decoded and recorded. Messages are re-encoded, not forwarded byte for byte.
    #[arg(long)]
    pub tls_intercept: bool,
}

type Reader = Pin<Box<dyn AsyncRead + Send>>;
type Writer = Pin<Box<dyn AsyncWrite + Send>>;

pub async fn run(args: &RecordArgs) -> i32 {
    match record(args).await {
        Ok(code) => code,
        Err((code, e)) => {
            eprintln!("error: {e}");
            code
        }
    }
}

async fn record(args: &RecordArgs) -> Result<i32, (i32, String)> {
    let usage = |e: String| (exit::USAGE, e);
    let (name, implied_framing) = match args.protocol.as_str() {
        "psrp-outofproc" => ("psrp", Some("outofproc")),
        other => (other, None),
    };
    let proto = protocols::get(name).map_err(usage)?;
    let mut params = BTreeMap::new();
    if let Some(f) = implied_framing {
        params.insert("framing".to_owned(), f.to_owned());
    }
    params.extend(params_for(&args.param, name).map_err(usage)?);
    let profile = match &args.profile {
        Some(p) if proto.profiles().contains(&p.as_str()) => p.clone(),
        Some(p) => {
            return Err(usage(format!(
                "unknown profile `{p}` (known: {})",
                proto.profiles().join(", ")
            )))
        }
        None => proto
            .profiles()
            .first()
            .map(|p| p.to_string())
            .unwrap_or_default(),
    };
    let under_test = if args.under_test == "client" {
        Role::Client
    } else {
        Role::Server
    };
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| format!("{name}.recorded.{}", under_test.as_str()));
    if !id.starts_with(&format!("{name}.")) {
        return Err(usage(format!("--id `{id}` must start with `{name}.`")));
    }
    if args.tls_intercept && name != "inedo" {
        return Err(usage(format!(
            "--tls-intercept is for Inedo SSL; {name} has no TLS layer to intercept"
        )));
    }
    let mut rec = Recorder::new(proto, Some(&profile), &params, under_test).map_err(usage)?;
    rec.loose = args.loose.clone();
    rec.intercept = args.tls_intercept;

    let listener = tokio::net::TcpListener::bind(args.listen.trim_start_matches("tcp://"))
        .await
        .map_err(|e| usage(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener.local_addr().map_err(|e| usage(e.to_string()))?;
    println!("listening on {addr}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let (client, from) = tokio::time::timeout(Duration::from_secs(args.accept_timeout), listener.accept())
        .await
        .map_err(|_| {
            (
                exit::UNREACHABLE,
                format!("no client connected within {}s", args.accept_timeout),
            )
        })?
        .map_err(|e| (exit::UNREACHABLE, format!("accept failed: {e}")))?;
    let _ = client.set_nodelay(true);
    eprintln!("[recording] client {from} connected");
    let (client_r, client_w) = client.into_split();
    let (mut client_r, mut client_w): (Reader, Writer) = (Box::pin(client_r), Box::pin(client_w));

    let mut child = None;
    let (mut server_r, mut server_w): (Reader, Writer) = match (&args.upstream, &args.exec) {
        (Some(up), _) => {
            let up = up.trim_start_matches("tcp://");
            let s = tokio::net::TcpStream::connect(up).await.map_err(|e| {
                (
                    exit::UNREACHABLE,
                    format!("cannot connect to the upstream server {up}: {e}"),
                )
            })?;
            let _ = s.set_nodelay(true);
            let (r, w) = s.into_split();
            (Box::pin(r), Box::pin(w))
        }
        (None, Some(cmd)) => {
            let mut c = tokio::process::Command::new("sh");
            c.arg("-c")
                .arg(format!("exec {cmd}"))
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::inherit())
                .kill_on_drop(true)
                .process_group(0);
            let mut ch = c
                .spawn()
                .map_err(|e| (exit::UNREACHABLE, format!("cannot start `{cmd}`: {e}")))?;
            let (Some(out), Some(inp)) = (ch.stdout.take(), ch.stdin.take()) else {
                return Err((exit::UNREACHABLE, "no pipes to the server".into()));
            };
            child = Some(ch);
            (Box::pin(out), Box::pin(inp))
        }
        (None, None) => return Err(usage("record needs --upstream HOST:PORT or --exec CMD".into())),
    };

    let start = Instant::now();
    let idle = Duration::from_secs(args.idle_timeout.max(1));
    let (mut client_open, mut server_open) = (true, true);
    let mut cbuf = vec![0u8; 64 * 1024];
    let mut sbuf = vec![0u8; 64 * 1024];
    let mut stop_reason = String::from("both sides closed");
    while client_open || server_open {
        // Once one side has closed, the other gets a short grace to finish.
        let wait = if client_open && server_open {
            idle
        } else {
            idle.min(Duration::from_secs(2))
        };
        tokio::select! {
            r = client_r.read(&mut cbuf), if client_open => match r {
                Ok(n) if n > 0 => {
                    let chunk = cbuf.get(..n).unwrap_or(&[]);
                    if !args.tls_intercept
                        && server_w.write_all(chunk).await.and(server_w.flush().await).is_err()
                    {
                        server_open = false;
                    }
                    for l in rec.push(Role::Client, chunk, start.elapsed()) { eprintln!("{l}"); }
                }
                _ => {
                    client_open = false;
                    rec.closed(Role::Client);
                    eprintln!("[{:>8.3}s] client closed", start.elapsed().as_secs_f64());
                    let _ = server_w.shutdown().await;
                    // A child's stdin pipe closes only when dropped (its shutdown is a no-op):
                    // a stdio server sees end-of-input now, as a TCP server sees the FIN.
                    server_w = Box::pin(tokio::io::sink());
                }
            },
            r = server_r.read(&mut sbuf), if server_open => match r {
                Ok(n) if n > 0 => {
                    let chunk = sbuf.get(..n).unwrap_or(&[]);
                    if !args.tls_intercept
                        && client_w.write_all(chunk).await.and(client_w.flush().await).is_err()
                    {
                        client_open = false;
                    }
                    for l in rec.push(Role::Server, chunk, start.elapsed()) { eprintln!("{l}"); }
                }
                _ => {
                    server_open = false;
                    rec.closed(Role::Server);
                    eprintln!("[{:>8.3}s] server closed", start.elapsed().as_secs_f64());
                    let _ = client_w.shutdown().await;
                    client_w = Box::pin(tokio::io::sink());
                }
            },
            _ = tokio::time::sleep(wait) => {
                stop_reason = format!("nothing for {wait:?}");
                break;
            }
            _ = tokio::signal::ctrl_c() => {
                stop_reason = "interrupted".into();
                break;
            }
        }
        if args.tls_intercept {
            // What the sessions encoded or transmitted replaces the real peers' bytes.
            let (to_client, to_server) = rec.take_output();
            if client_open
                && !to_client.is_empty()
                && client_w
                    .write_all(&to_client)
                    .await
                    .and(client_w.flush().await)
                    .is_err()
            {
                client_open = false;
            }
            if server_open
                && !to_server.is_empty()
                && server_w
                    .write_all(&to_server)
                    .await
                    .and(server_w.flush().await)
                    .is_err()
            {
                server_open = false;
            }
            if rec.intercept_failed() {
                stop_reason = "a message could not be decoded or re-encoded (--tls-intercept)".into();
                break;
            }
        }
    }
    drop((client_w, server_w, client_r, server_r));
    if let Some(mut c) = child {
        if tokio::time::timeout(Duration::from_millis(500), c.wait())
            .await
            .is_err()
        {
            let _ = c.kill().await;
        }
    }

    let secret: Vec<String> = params.keys().filter(|k| redact::is_secret(k)).cloned().collect();
    let kept: BTreeMap<String, String> = params
        .clone()
        .into_iter()
        .filter(|(k, _)| args.keep_secrets || !redact::is_secret(k))
        .collect();
    let origin = match (&args.upstream, &args.exec) {
        (Some(u), _) => format!("upstream {u}"),
        (_, Some(c)) => format!("stdio `{c}`"),
        _ => String::new(),
    };
    let scenario = rec.scenario(&id, &profile, kept, &origin);
    let mut header = vec![
        format!("Recorded by peercheck record ({} {profile}, {origin}); the {} is under test", name, under_test.as_str()),
        format!(
            "{} message(s) from the client, {} from the server; stopped: {stop_reason}",
            rec.counts.get(&Role::Client).copied().unwrap_or(0),
            rec.counts.get(&Role::Server).copied().unwrap_or(0)
        ),
        "Replay: peercheck replay <this file> [--target tcp://HOST:PORT | --exec CMD | --listen ADDR --exec CMD]".into(),
    ];
    if args.tls_intercept {
        header.push(
            "Recorded with --tls-intercept: TLS terminated on both sides, frames decoded and re-encoded"
                .into(),
        );
    }
    if !args.keep_secrets && !secret.is_empty() {
        header.push(format!(
            "Secret params left out: pass --param {}=… to replay",
            secret.join("=… --param ")
        ));
    }
    for e in rec.decode_errors() {
        header.push(format!("Decode error (later bytes recorded raw): {e}"));
    }
    let text = scenario_yaml::render(&scenario, &header).map_err(|e| (exit::FAILURES, e))?;
    match &args.output {
        Some(p) => {
            crate::report::write_atomic(p, text.as_bytes())
                .map_err(|e| (exit::FAILURES, format!("{}: {e}", p.display())))?;
            eprintln!(
                "[recording] wrote {} ({} steps)",
                p.display(),
                scenario.steps.len()
            );
        }
        None => print!("{text}"),
    }
    Ok(exit::OK)
}
