//! Named maxima for every length, count or depth read from a peer.
//!
//! A limit has a stable name (it appears in errors and docs) and a value. Codecs declare their limits
//! as constants and check them through [`Limit::check`], so the test "at N passes, at N+1 fails" can be
//! written once per limit.

use crate::error::{DecodeError, DecodeErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub name: &'static str,
    pub max: u64,
}

impl Limit {
    pub const fn new(name: &'static str, max: u64) -> Self {
        Self { name, max }
    }

    /// Ok when `value <= max`; otherwise an [`DecodeErrorKind::OverLimit`] at `offset` in `field`.
    pub fn check(&self, value: u64, offset: usize, field: &'static str) -> Result<(), DecodeError> {
        if value > self.max {
            Err(DecodeError::new(
                offset,
                field,
                DecodeErrorKind::OverLimit {
                    value,
                    max: self.max,
                    limit: self.name,
                },
            ))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_accepts_max_and_rejects_max_plus_one() {
        let l = Limit::new("TEST_MAX", 10);
        assert!(l.check(10, 0, "f").is_ok());
        let e = l.check(11, 3, "f").unwrap_err();
        assert_eq!(e.offset, 3);
        assert!(matches!(
            e.kind,
            DecodeErrorKind::OverLimit {
                limit: "TEST_MAX",
                ..
            }
        ));
    }
}
