//! The JSON report (schema documented in docs/reports.md).

use super::ScenarioResult;
use crate::expectations::Expectation;
use crate::verdict::Verdict;
use serde::Serialize;
use std::collections::BTreeMap;

/// Bumped when a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub schema_version: u32,
    pub peercheck_version: &'static str,
    pub seed: u64,
    pub target: String,
    /// True when the run was interrupted: `results` holds what finished.
    pub interrupted: bool,
    pub summary: BTreeMap<&'static str, usize>,
    pub results: &'a [ScenarioResult],
    pub stale_expectations: Vec<&'a Expectation>,
    pub expired_expectations: Vec<&'a Expectation>,
}

pub fn summary(results: &[ScenarioResult]) -> BTreeMap<&'static str, usize> {
    let mut m: BTreeMap<&'static str, usize> = Verdict::ALL.iter().map(|v| (v.as_str(), 0)).collect();
    for r in results {
        *m.entry(r.verdict.as_str()).or_insert(0) += 1;
    }
    m.insert("total", results.len());
    m
}
