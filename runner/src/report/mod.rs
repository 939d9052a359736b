//! Results and the reports written from them (terminal, JSON, JUnit).

pub mod json;
pub mod junit;
pub mod terminal;

use crate::engine::TraceEntry;
use crate::matcher::Mismatch;
use crate::verdict::Verdict;
use serde::Serialize;
use std::path::Path;

/// The result of one scenario (one record in the JSON report).
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub id: String,
    pub title: String,
    pub spec: String,
    pub requirement: String,
    pub level: String,
    pub protocol: String,
    pub profile: String,
    /// Role of the implementation under test.
    pub peer: String,
    pub verdict: Verdict,
    /// Why (empty on a plain pass).
    pub reason: String,
    /// 1-based step that decided the verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<Mismatch>,
    /// The reason from the expectations file, when an entry matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expectation: Option<String>,
    pub errata: Vec<String>,
    pub duration_ms: u64,
    pub trace: Vec<TraceEntry>,
    /// The implementation's stderr (stdio and listen modes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// Source file of the scenario.
    pub file: String,
}

impl ScenarioResult {
    /// The exchange as annotated hexdumps, for failure output.
    pub fn trace_text(&self) -> String {
        let mut out = String::new();
        for t in &self.trace {
            let arrow = match t.kind {
                "sent" => "suite -> impl",
                "received" => "impl -> suite",
                _ => "note",
            };
            out.push_str(&format!("[{:>6} ms] {arrow}: {}\n", t.at_ms, t.name));
            for line in t.dump.lines() {
                out.push_str("    ");
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

/// Write a file atomically: a temporary file beside it, then a rename.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}
