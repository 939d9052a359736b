//! Terminal output: one line per scenario, failure details, and a summary by verdict and section.

use super::ScenarioResult;
use crate::verdict::Verdict;
use std::collections::BTreeMap;
use std::io::IsTerminal;

#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub colour: bool,
}

impl Style {
    pub fn detect() -> Self {
        Self {
            colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    fn paint(&self, v: Verdict, text: &str) -> String {
        if !self.colour {
            return text.to_owned();
        }
        let code = match v {
            Verdict::Pass | Verdict::Xfail => "32",
            Verdict::Fail | Verdict::Xpass | Verdict::Error => "31",
            Verdict::NonStrict => "33",
            Verdict::Unsupported => "36",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

pub fn line(r: &ScenarioResult, style: Style) -> String {
    let tag = style.paint(r.verdict, &format!("{:<11}", r.verdict.as_str().to_uppercase()));
    let extra = if r.verdict == Verdict::Pass {
        String::new()
    } else {
        format!("  — {}", r.reason)
    };
    format!("{tag} {}  [{}]  ({} ms){extra}", r.id, r.spec, r.duration_ms)
}

/// The details printed for each fail / non-strict / error / xpass.
pub fn details(r: &ScenarioResult) -> String {
    let mut out = format!(
        "\n=== {} {} ({})\n  spec: {}\n  requirement: \"{}\"\n  level: {}, profile: {}, file: {}\n  step {}: {}\n",
        r.verdict.as_str().to_uppercase(),
        r.id,
        r.title,
        r.spec,
        r.requirement,
        r.level,
        r.profile,
        r.file,
        r.step.map_or("-".into(), |s| s.to_string()),
        r.reason
    );
    if let Some(e) = &r.expectation {
        out.push_str(&format!("  expectations: {e}\n"));
    }
    if !r.mismatches.is_empty() {
        out.push_str("  field diff (expected vs actual):\n");
        for m in &r.mismatches {
            out.push_str(&format!(
                "    - {}\n      expected: {}\n      actual:   {}\n",
                m.path, m.expected, m.actual
            ));
        }
    }
    if !r.trace.is_empty() {
        out.push_str("  exchange:\n");
        for l in r.trace_text().lines() {
            out.push_str("    ");
            out.push_str(l);
            out.push('\n');
        }
    }
    if let Some(e) = r.stderr.as_deref().filter(|e| !e.trim().is_empty()) {
        out.push_str("  implementation stderr:\n");
        for l in e.lines().take(40) {
            out.push_str(&format!("    | {l}\n"));
        }
    }
    out
}

pub fn summary(results: &[ScenarioResult], style: Style) -> String {
    let mut by_verdict: BTreeMap<Verdict, usize> = BTreeMap::new();
    let mut by_section: BTreeMap<&str, BTreeMap<Verdict, usize>> = BTreeMap::new();
    for r in results {
        *by_verdict.entry(r.verdict).or_default() += 1;
        *by_section
            .entry(r.spec.as_str())
            .or_default()
            .entry(r.verdict)
            .or_default() += 1;
    }
    let mut out = String::from("\nBy spec section:\n");
    for (sec, counts) in &by_section {
        let parts: Vec<String> = counts
            .iter()
            .map(|(v, n)| format!("{n} {}", v.as_str()))
            .collect();
        out.push_str(&format!("  {sec}: {}\n", parts.join(", ")));
    }
    let parts: Vec<String> = by_verdict
        .iter()
        .map(|(v, n)| style.paint(*v, &format!("{n} {}", v.as_str())))
        .collect();
    out.push_str(&format!(
        "\nSummary: {} scenarios: {}\n",
        results.len(),
        parts.join(", ")
    ));
    out
}
