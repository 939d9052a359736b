//! Expectations files: an implementation's known deviations, each with a reason and an optional
//! expiry date. A known failure becomes `xfail`; a pass where a failure was expected is `xpass`
//! (the run fails: the file is out of date); entries that match nothing are reported as stale.

use crate::verdict::Verdict;
use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectationsFile {
    /// Which implementation (and version) this file describes.
    #[serde(default)]
    pub implementation: String,
    #[serde(default)]
    pub entries: Vec<Expectation>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Scenario id or glob (`psrp.fragment.*`).
    pub id: String,
    /// The verdict the implementation gets today: fail, non-strict, unsupported or error.
    pub verdict: Verdict,
    /// Why: the spec section and what the implementation does instead.
    pub reason: String,
    /// `YYYY-MM-DD`: after this date the entry is ignored (and reported), so a fix gets noticed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

#[derive(Debug)]
pub struct Expectations {
    pub file: ExpectationsFile,
    matchers: Vec<GlobMatcher>,
    used: Vec<bool>,
    expired: Vec<bool>,
}

impl Expectations {
    pub fn load(path: &Path, today: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: ExpectationsFile =
            crate::scenario::load::parse_yaml(path, &text).map_err(|e| e.to_string())?;
        Self::new(file, today).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn new(file: ExpectationsFile, today: &str) -> Result<Self, String> {
        let mut matchers = Vec::new();
        let mut expired = Vec::new();
        for (i, e) in file.entries.iter().enumerate() {
            if e.reason.trim().is_empty() {
                return Err(format!("entry {} ({}) has no reason", i + 1, e.id));
            }
            if e.verdict == Verdict::Pass || e.verdict == Verdict::Xfail || e.verdict == Verdict::Xpass {
                return Err(format!(
                    "entry {} ({}): verdict must be fail, non-strict, unsupported or error",
                    i + 1,
                    e.id
                ));
            }
            if let Some(d) = &e.expires {
                if !is_date(d) {
                    return Err(format!(
                        "entry {} ({}): expires `{d}` is not YYYY-MM-DD",
                        i + 1,
                        e.id
                    ));
                }
            }
            expired.push(e.expires.as_deref().is_some_and(|d| d < today));
            matchers.push(
                Glob::new(&e.id)
                    .map_err(|x| format!("entry {}: {x}", i + 1))?
                    .compile_matcher(),
            );
        }
        let used = vec![false; matchers.len()];
        Ok(Self {
            file,
            matchers,
            used,
            expired,
        })
    }

    /// Apply to one result: returns the final verdict and the reason of the entry that matched.
    pub fn apply(&mut self, id: &str, verdict: Verdict) -> (Verdict, Option<String>) {
        for (i, m) in self.matchers.iter().enumerate() {
            if self.expired.get(i).copied().unwrap_or(false) || !m.is_match(id) {
                continue;
            }
            if let Some(u) = self.used.get_mut(i) {
                *u = true;
            }
            let Some(e) = self.file.entries.get(i) else {
                continue;
            };
            return match verdict {
                v if v == e.verdict => (Verdict::Xfail, Some(e.reason.clone())),
                Verdict::Pass => (Verdict::Xpass, Some(e.reason.clone())),
                other => (
                    other,
                    Some(format!(
                        "expected {} ({}), got {}",
                        e.verdict.as_str(),
                        e.reason,
                        other.as_str()
                    )),
                ),
            };
        }
        (verdict, None)
    }

    /// Entries that matched no scenario of the run.
    pub fn stale(&self) -> Vec<&Expectation> {
        self.file
            .entries
            .iter()
            .zip(&self.used)
            .zip(&self.expired)
            .filter(|((_, u), x)| !**u && !**x)
            .map(|((e, _), _)| e)
            .collect()
    }

    pub fn expired(&self) -> Vec<&Expectation> {
        self.file
            .entries
            .iter()
            .zip(&self.expired)
            .filter(|(_, x)| **x)
            .map(|(e, _)| e)
            .collect()
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.get(4) == Some(&b'-')
        && b.get(7) == Some(&b'-')
        && s.chars().filter(char::is_ascii_digit).count() == 8
}

/// Today's date (UTC) as YYYY-MM-DD, from the system clock.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn file() -> ExpectationsFile {
        ExpectationsFile {
            implementation: "x".into(),
            entries: vec![
                Expectation {
                    id: "a.*".into(),
                    verdict: Verdict::Fail,
                    reason: "r".into(),
                    expires: None,
                },
                Expectation {
                    id: "b.old".into(),
                    verdict: Verdict::Fail,
                    reason: "r".into(),
                    expires: Some("2000-01-01".into()),
                },
                Expectation {
                    id: "c.none".into(),
                    verdict: Verdict::Fail,
                    reason: "r".into(),
                    expires: None,
                },
            ],
        }
    }

    #[test]
    fn xfail_xpass_stale_expired() {
        let mut e = Expectations::new(file(), "2026-01-01").unwrap();
        assert_eq!(e.apply("a.one", Verdict::Fail).0, Verdict::Xfail);
        assert_eq!(e.apply("a.two", Verdict::Pass).0, Verdict::Xpass);
        assert_eq!(e.apply("b.old", Verdict::Fail).0, Verdict::Fail);
        assert_eq!(e.stale().len(), 1);
        assert_eq!(e.expired().len(), 1);
    }

    #[test]
    fn today_is_a_date() {
        assert!(is_date(&today()));
    }
}
