//! Selecting scenarios: id globs, tags, levels, profiles, roles, and stable partitions.

use crate::scenario::{Level, LoadedScenario, PeerRole};
use globset::{Glob, GlobSetBuilder};

#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub filters: Vec<String>,
    pub tags: Vec<String>,
    pub levels: Vec<Level>,
    pub role: Option<PeerRole>,
    /// (k, n): the k-th of n shards, 1-based.
    pub partition: Option<(u64, u64)>,
}

/// Parse `k/n` (1 ≤ k ≤ n).
pub fn parse_partition(s: &str) -> Result<(u64, u64), String> {
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not k/n (e.g. 2/4)"))?;
    let k: u64 = k
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: k is not a number"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: n is not a number"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("`{s}`: need 1 ≤ k ≤ n"));
    }
    Ok((k, n))
}

/// FNV-1a: a stable hash (the same in every run and on every machine) for partitions and seeds.
pub fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Selection {
    pub fn apply(&self, all: Vec<LoadedScenario>) -> Result<Vec<LoadedScenario>, String> {
        let mut b = GlobSetBuilder::new();
        for f in &self.filters {
            b.add(Glob::new(f).map_err(|e| format!("--filter `{f}`: {e}"))?);
        }
        let set = b.build().map_err(|e| e.to_string())?;
        Ok(all
            .into_iter()
            .filter(|s| {
                let sc = &s.scenario;
                (self.filters.is_empty() || set.is_match(&sc.id))
                    && (self.tags.is_empty() || self.tags.iter().any(|t| sc.tags.contains(t)))
                    && (self.levels.is_empty() || self.levels.contains(&sc.level))
                    && self.role.is_none_or(|r| r == sc.peer)
                    && self
                        .partition
                        .is_none_or(|(k, n)| stable_hash(&sc.id) % n == k - 1)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_stable_and_cover_everything() {
        let ids: Vec<String> = (0..100).map(|i| format!("now.x.{i}")).collect();
        let mut total = 0;
        for k in 1..=4 {
            total += ids.iter().filter(|id| stable_hash(id) % 4 == k - 1).count();
        }
        assert_eq!(total, 100);
        assert_eq!(stable_hash("abc"), stable_hash("abc"));
        assert!(parse_partition("0/3").is_err());
        assert_eq!(parse_partition("2/3").unwrap(), (2, 3));
    }
}
