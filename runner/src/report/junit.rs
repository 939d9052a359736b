//! JUnit XML: one testcase per scenario, grouped in one suite per protocol.

use super::ScenarioResult;
use crate::verdict::Verdict;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::time::Duration;

pub fn render(results: &[ScenarioResult]) -> Result<String, String> {
    let mut report = Report::new("peercheck");
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for r in results {
        let suite = suites
            .entry(r.protocol.as_str())
            .or_insert_with(|| TestSuite::new(r.protocol.clone()));
        let body = format!(
            "{}\nspec: {}\nrequirement: {}\nlevel: {}\nstep: {}\n{}\n{}",
            r.reason,
            r.spec,
            r.requirement,
            r.level,
            r.step.map_or("-".into(), |s| s.to_string()),
            r.mismatches
                .iter()
                .map(|m| format!("  {m}\n"))
                .collect::<String>(),
            r.trace_text()
        );
        let status = match r.verdict {
            Verdict::Pass | Verdict::Xfail | Verdict::NonStrict => TestCaseStatus::success(),
            Verdict::Unsupported => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(r.reason.clone());
                s
            }
            Verdict::Fail | Verdict::Xpass => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!("{}: {}", r.verdict.as_str(), r.reason));
                s.set_type(r.verdict.as_str());
                s.set_description(body.clone());
                s
            }
            Verdict::Error => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(r.reason.clone());
                s.set_description(body.clone());
                s
            }
        };
        let mut case = TestCase::new(r.id.clone(), status);
        case.set_classname(format!("{}.{}", r.protocol, r.peer));
        case.set_time(Duration::from_millis(r.duration_ms));
        if matches!(r.verdict, Verdict::NonStrict | Verdict::Xfail) {
            case.set_system_out(format!("{}: {}\n{body}", r.verdict.as_str(), r.reason));
        }
        suite.add_test_case(case);
    }
    report.add_test_suites(suites.into_values());
    report.to_string().map_err(|e| e.to_string())
}
