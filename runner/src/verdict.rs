//! Verdicts: what a scenario's outcome means, given its level and the expectations file.

use crate::engine::Outcome;
use crate::scenario::Level;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every step held.
    Pass,
    /// A MUST was broken.
    Fail,
    /// A SHOULD (or MAY) was broken.
    NonStrict,
    /// The implementation did not advertise the capability the scenario needs.
    Unsupported,
    /// Broken as the expectations file says (a known failure).
    Xfail,
    /// The expectations file says it fails, but it passed: the file is out of date.
    Xpass,
    /// The suite or the transport failed; says nothing about the implementation.
    Error,
}

impl Verdict {
    pub const ALL: [Verdict; 7] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::NonStrict,
        Verdict::Unsupported,
        Verdict::Xfail,
        Verdict::Xpass,
        Verdict::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NonStrict => "non-strict",
            Verdict::Unsupported => "unsupported",
            Verdict::Xfail => "xfail",
            Verdict::Xpass => "xpass",
            Verdict::Error => "error",
        }
    }

    /// Does this verdict make the run fail (exit code 1)? `strict` also fails on non-strict.
    pub fn fails_run(self, strict: bool) -> bool {
        match self {
            Verdict::Fail | Verdict::Xpass | Verdict::Error => true,
            Verdict::NonStrict => strict,
            Verdict::Pass | Verdict::Unsupported | Verdict::Xfail => false,
        }
    }
}

/// The verdict of an outcome at a level, before expectations.
pub fn judge(outcome: Outcome, level: Level) -> Verdict {
    match (outcome, level) {
        (Outcome::Passed, _) => Verdict::Pass,
        (Outcome::Broken, Level::Must) => Verdict::Fail,
        (Outcome::Broken, Level::Should | Level::May) => Verdict::NonStrict,
        (Outcome::Unsupported, _) => Verdict::Unsupported,
        (Outcome::SuiteError, _) => Verdict::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_decide_fail_or_non_strict() {
        assert_eq!(judge(Outcome::Broken, Level::Must), Verdict::Fail);
        assert_eq!(judge(Outcome::Broken, Level::Should), Verdict::NonStrict);
        assert_eq!(judge(Outcome::SuiteError, Level::Must), Verdict::Error);
        assert!(!Verdict::NonStrict.fails_run(false));
        assert!(Verdict::NonStrict.fails_run(true));
        assert!(Verdict::Xpass.fails_run(false));
    }
}
