//! `peercheck golden export|verify`: the golden vectors (golden/<protocol>/*.yaml) for other
//! implementations, and a check of someone else's decoder against them through a tiny shim
//! protocol (docs/golden.md). `golden shim` (hidden) is peercheck's own decoder behind that
//! protocol: the reference shim.

use super::exit;
use crate::tools::shim::{self, Answer, Request};
use peercheck_golden::export::{self, Export, Test};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[derive(Debug, clap::Subcommand)]
pub enum GoldenCommand {
    /// Write every golden vector (JSON, YAML, or a folder of .hex + .json files).
    Export(ExportArgs),
    /// Feed every vector to a decoder shim and report where it disagrees, field by field.
    Verify(VerifyArgs),
    /// The reference decoder shim (peercheck itself): JSON lines on stdin, answers on stdout.
    #[command(hide = true)]
    Shim,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Only this protocol: now, psrp, inedo.
    #[arg(long)]
    pub protocol: Option<String>,
    /// json, yaml, or hex-dir (one <id>.hex + <id>.json per vector, and index.json).
    #[arg(long, value_parser = ["json", "yaml", "hex-dir"], default_value = "json")]
    pub format: String,
    /// Output: a file for json/yaml (default stdout; a folder gets golden-vectors.json), a folder for hex-dir.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The shim command (run with `sh -c`), e.g. 'python3 my_shim.py'.
    #[arg(long)]
    pub exec: String,
    /// Only this protocol: now, psrp, inedo.
    #[arg(long)]
    pub protocol: Option<String>,
    /// Only vector ids matching this glob (repeatable).
    #[arg(long)]
    pub filter: Vec<String>,
    /// Vectors from an exported JSON file instead of this build's golden/ folder.
    #[arg(long)]
    pub vectors: Option<PathBuf>,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
}

pub async fn run(cmd: &GoldenCommand) -> i32 {
    match cmd {
        GoldenCommand::Export(a) => export_cmd(a),
        GoldenCommand::Verify(a) => verify(a).await,
        GoldenCommand::Shim => shim_loop(),
    }
}

fn generator() -> String {
    format!("peercheck {}", env!("CARGO_PKG_VERSION"))
}

fn check_protocol(p: &Option<String>) -> Result<(), String> {
    match p.as_deref() {
        Some(p) if !export::PROTOCOLS.contains(&p) => Err(format!(
            "unknown protocol `{p}` (known: {})",
            export::PROTOCOLS.join(", ")
        )),
        _ => Ok(()),
    }
}

fn built_export(protocol: Option<&str>) -> Result<Export, String> {
    let vectors = export::collect(protocol)?;
    export::build(&vectors, &generator())
}

fn export_cmd(a: &ExportArgs) -> i32 {
    let run = || -> Result<String, String> {
        check_protocol(&a.protocol)?;
        let e = built_export(a.protocol.as_deref())?;
        let summary = format!(
            "{} vector(s): {} valid, {} invalid, {} acceptable, in {} group(s)",
            e.number_of_tests,
            e.counts.valid,
            e.counts.invalid,
            e.counts.acceptable,
            e.test_groups.len()
        );
        if a.format == "hex-dir" {
            let dir = a.output.clone().ok_or("--format hex-dir needs -o DIR")?;
            export::write_hex_dir(&e, &dir)?;
            return Ok(format!("{summary} written to {}", dir.display()));
        }
        let text = if a.format == "yaml" {
            serde_yaml::to_string(&e).map_err(|x| x.to_string())?
        } else {
            serde_json::to_string_pretty(&e).map_err(|x| x.to_string())? + "\n"
        };
        match &a.output {
            None => {
                // A closed pipe (`| head`) is not an error worth a panic.
                let _ = std::io::stdout().lock().write_all(text.as_bytes());
                Ok(summary)
            }
            Some(p) => {
                let file = if p.is_dir() {
                    p.join(format!("golden-vectors.{}", a.format))
                } else {
                    p.clone()
                };
                crate::report::write_atomic(&file, text.as_bytes())
                    .map_err(|x| format!("{}: {x}", file.display()))?;
                Ok(format!("{summary} written to {}", file.display()))
            }
        }
    };
    match run() {
        Ok(s) => {
            eprintln!("{s}");
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
    }
}

/// The reference shim: answer each request line with peercheck's own decode.
fn shim_loop() -> i32 {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let answer = shim::reference_answer(&line);
        let text =
            serde_json::to_string(&answer).unwrap_or_else(|_| r#"{"ok":false,"error":"internal"}"#.into());
        if writeln!(stdout, "{text}").and_then(|_| stdout.flush()).is_err() {
            break;
        }
    }
    exit::OK
}

fn selected_tests(a: &VerifyArgs) -> Result<Vec<Test>, String> {
    check_protocol(&a.protocol)?;
    let e: Export = match &a.vectors {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|x| format!("{}: {x}", p.display()))?;
            let e: Export = serde_json::from_str(&text).map_err(|x| format!("{}: {x}", p.display()))?;
            if e.schema != export::SCHEMA || e.schema_version != export::SCHEMA_VERSION {
                return Err(format!(
                    "{}: schema {} v{} (this peercheck reads {} v{})",
                    p.display(),
                    e.schema,
                    e.schema_version,
                    export::SCHEMA,
                    export::SCHEMA_VERSION
                ));
            }
            e
        }
        None => built_export(None)?,
    };
    let mut set = globset::GlobSetBuilder::new();
    for f in &a.filter {
        set.add(globset::Glob::new(f).map_err(|x| format!("--filter {f}: {x}"))?);
    }
    let set = set.build().map_err(|x| x.to_string())?;
    Ok(e.test_groups
        .into_iter()
        .flat_map(|g| g.tests)
        .filter(|t| a.protocol.as_deref().is_none_or(|p| t.protocol == p))
        .filter(|t| a.filter.is_empty() || set.is_match(&t.id))
        .collect())
}

async fn verify(a: &VerifyArgs) -> i32 {
    let tests = match selected_tests(a) {
        Ok(t) if t.is_empty() => {
            eprintln!("error: no vector selected");
            return exit::USAGE;
        }
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let mut child = match tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&a.exec)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot start `{}`: {e}", a.exec);
            return exit::UNREACHABLE;
        }
    };
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        eprintln!("error: no pipes to the shim");
        return exit::UNREACHABLE;
    };
    let mut lines = BufReader::new(stdout).lines();
    let (mut agree, mut disagree) = (0usize, 0usize);
    let per_answer = Duration::from_secs(a.timeout.max(1));
    for t in &tests {
        let req = serde_json::to_string(&Request::of(t)).unwrap_or_default();
        if stdin.write_all(format!("{req}\n").as_bytes()).await.is_err() || stdin.flush().await.is_err() {
            eprintln!(
                "error: the shim stopped reading at {} ({} answered)",
                t.id,
                agree + disagree
            );
            let _ = child.kill().await;
            return exit::FAILURES;
        }
        let answer = match tokio::time::timeout(per_answer, lines.next_line()).await {
            Ok(Ok(Some(line))) => serde_json::from_str::<Answer>(&line).unwrap_or_else(|e| Answer {
                ok: false,
                error: Some(format!("shim answer is not JSON: {e}: {line}")),
                ..Default::default()
            }),
            Ok(Ok(None)) | Ok(Err(_)) => {
                eprintln!(
                    "error: the shim closed its stdout at {} ({} answered)",
                    t.id,
                    agree + disagree
                );
                let _ = child.kill().await;
                return exit::FAILURES;
            }
            Err(_) => {
                eprintln!("error: no answer for {} within {per_answer:?}", t.id);
                let _ = child.kill().await;
                return exit::FAILURES;
            }
        };
        let d = shim::disagreements(t, &answer);
        if d.is_empty() {
            agree += 1;
        } else {
            disagree += 1;
            println!(
                "DISAGREE {} [{}] ({}; {})",
                t.id,
                verdict_word(t),
                t.source,
                t.file
            );
            for x in d {
                println!("    - {x}");
            }
        }
    }
    drop(stdin);
    if tokio::time::timeout(Duration::from_secs(2), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
    println!("{} vector(s): {agree} agree, {disagree} disagree", tests.len());
    if disagree == 0 {
        exit::OK
    } else {
        exit::FAILURES
    }
}

fn verdict_word(t: &Test) -> &'static str {
    match t.verdict {
        peercheck_golden::GoldenVerdict::Valid => "valid",
        peercheck_golden::GoldenVerdict::Invalid => "invalid",
        peercheck_golden::GoldenVerdict::Acceptable => "acceptable",
    }
}
