//! `peercheck golden export`: every golden vector in a stable, documented JSON/YAML schema for other
//! implementations (in the spirit of Wycheproof: a versioned top level with counts, then test
//! groups per protocol + profile; invalid vectors are first-class). The schema is documented in
//! docs/golden.md; `SCHEMA_VERSION` changes only when a consumer would have to change.

use crate::{load, protocol_of, vector_files, GoldenVerdict, Vector};
use peercheck_wire::hexparse::parse_hex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Name of the schema (the `schema` member).
pub const SCHEMA: &str = "peercheck-golden-vectors";
/// Version of the schema (the `schemaVersion` member).
pub const SCHEMA_VERSION: u32 = 1;
/// Protocol order in the export (and in test groups).
pub const PROTOCOLS: [&str; 3] = ["now", "psrp", "inedo"];

/// The whole export.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Export {
    /// Always [`SCHEMA`].
    pub schema: String,
    pub schema_version: u32,
    /// The tool and version that wrote the file, e.g. `peercheck 0.1.0`.
    pub generator: String,
    pub number_of_tests: usize,
    /// How many tests have each verdict.
    pub counts: Counts,
    /// One group per protocol and profile, in a stable order.
    pub test_groups: Vec<TestGroup>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    pub valid: usize,
    pub invalid: usize,
    pub acceptable: usize,
}

/// Vectors that share a protocol and a profile (the settings a decoder is built with).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestGroup {
    pub protocol: String,
    pub profile: String,
    pub tests: Vec<Test>,
}

/// One vector, self-contained (a consumer may read a single test without its group).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Test {
    /// 1-based position in the export (stable for a given set of vector files).
    pub tc_id: usize,
    /// Unique, stable id, starting with the protocol (`now.exec.result.exit-0`).
    pub id: String,
    pub protocol: String,
    /// The profile the bytes are read with (the protocol's default when the vector names none).
    pub profile: String,
    /// `to-server` (the client sends the bytes) or `to-client`.
    pub direction: String,
    /// Session parameters (e.g. PSRP `framing`, Inedo `key`/`iv`/`phase`).
    pub params: BTreeMap<String, String>,
    pub description: String,
    /// `valid`: a correct implementation accepts the bytes and produces exactly them for `fields`;
    /// `acceptable`: must be accepted, need not be produced; `invalid`: must be rejected.
    pub verdict: GoldenVerdict,
    /// Tags: the vector's own flags plus `errata-<entry>` for every ERRATA entry its source cites.
    pub flags: Vec<String>,
    /// ERRATA entries the vector depends on (`NOW-2`, `PSRP-4`, `Inedo-7`).
    pub errata: Vec<String>,
    /// Spec section, errata entry or named third-party origin of the bytes.
    pub source: String,
    /// Message name in peercheck's structured form (valid and acceptable vectors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields a decoder must produce (a subset: other fields may be present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<serde_json::Value>,
    /// The exact bytes, lower-case hex without spaces.
    pub hex: String,
    /// Invalid vectors: a word peercheck's decoder names in its error (informational for others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The data file the vector comes from, relative to golden/.
    pub file: String,
}

/// Every vector (optionally of one protocol) with the file it comes from, relative to golden/.
pub fn collect(protocol: Option<&str>) -> Result<Vec<(String, Vector)>, String> {
    let base = crate::golden_dir();
    let mut out = Vec::new();
    for f in vector_files() {
        let rel = f
            .strip_prefix(&base)
            .unwrap_or(&f)
            .to_string_lossy()
            .replace('\\', "/");
        for v in load(&f)?.vectors {
            if protocol.is_none_or(|p| v.id.split('.').next() == Some(p)) {
                out.push((rel.clone(), v));
            }
        }
    }
    Ok(out)
}

/// ERRATA entries cited in a source text: `ERRATA NOW-2`, `ERRATA Inedo-6, Inedo-7`.
pub fn errata_in(source: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, _) in source.match_indices("ERRATA") {
        let rest = source.get(i + "ERRATA".len()..).unwrap_or("");
        for token in rest
            .split([' ', ',', ';', '(', ')', '\n'])
            .filter(|t| !t.is_empty())
        {
            if token == "and" {
                continue;
            }
            let looks = token.split_once('-').is_some_and(|(a, b)| {
                !a.is_empty()
                    && a.chars().all(|c| c.is_ascii_alphabetic())
                    && !b.is_empty()
                    && b.chars().all(|c| c.is_ascii_digit())
            });
            if !looks {
                break;
            }
            if !out.iter().any(|x| x == token) {
                out.push(token.to_owned());
            }
        }
    }
    out
}

/// One vector in export form.
pub fn test_of(v: &Vector, file: &str, tc_id: usize) -> Result<Test, String> {
    let proto = protocol_of(&v.id)?;
    let profile = match &v.profile {
        Some(p) => p.clone(),
        None => proto
            .profiles()
            .first()
            .map(|p| p.to_string())
            .unwrap_or_default(),
    };
    let hex = hex::encode(parse_hex(&v.hex).map_err(|e| format!("{}: hex: {e}", v.id))?);
    let (name, fields) = match &v.message {
        Some(m) => {
            let (n, f) = m
                .as_object()
                .filter(|o| o.len() == 1)
                .and_then(|o| o.iter().next())
                .ok_or_else(|| format!("{}: message must be {{ name: {{ fields }} }}", v.id))?;
            (Some(n.clone()), Some(f.clone()))
        }
        None => (None, None),
    };
    let errata = errata_in(&v.source);
    let mut flags = v.flags.clone();
    for e in &errata {
        let f = format!("errata-{}", e.to_ascii_lowercase());
        if !flags.contains(&f) {
            flags.push(f);
        }
    }
    Ok(Test {
        tc_id,
        id: v.id.clone(),
        protocol: proto.name().to_owned(),
        profile,
        direction: v.direction.clone(),
        params: v.params.clone(),
        description: v.description.clone(),
        verdict: v.verdict,
        flags,
        errata,
        source: v.source.clone(),
        name,
        fields,
        hex,
        error: v.error.clone(),
        file: file.to_owned(),
    })
}

/// The export of `vectors`, grouped by protocol and profile (protocols in [`PROTOCOLS`] order,
/// profiles in the protocol's order, vectors in file order); `tcId`s follow that order.
pub fn build(vectors: &[(String, Vector)], generator: &str) -> Result<Export, String> {
    let mut groups: Vec<TestGroup> = Vec::new();
    let mut tests = Vec::with_capacity(vectors.len());
    for (file, v) in vectors {
        tests.push(test_of(v, file, 0)?);
    }
    let rank = |t: &Test| {
        let p = PROTOCOLS
            .iter()
            .position(|x| *x == t.protocol)
            .unwrap_or(PROTOCOLS.len());
        let profile = protocol_of(&t.id)
            .ok()
            .and_then(|d| d.profiles().iter().position(|x| *x == t.profile))
            .unwrap_or(usize::MAX);
        (p, profile)
    };
    // Stable sort: file order within a group.
    tests.sort_by_key(|t| rank(t));
    let mut counts = Counts::default();
    for (i, mut t) in tests.into_iter().enumerate() {
        t.tc_id = i + 1;
        match t.verdict {
            GoldenVerdict::Valid => counts.valid += 1,
            GoldenVerdict::Invalid => counts.invalid += 1,
            GoldenVerdict::Acceptable => counts.acceptable += 1,
        }
        match groups.last_mut() {
            Some(g) if g.protocol == t.protocol && g.profile == t.profile => g.tests.push(t),
            _ => groups.push(TestGroup {
                protocol: t.protocol.clone(),
                profile: t.profile.clone(),
                tests: vec![t],
            }),
        }
    }
    Ok(Export {
        schema: SCHEMA.to_owned(),
        schema_version: SCHEMA_VERSION,
        generator: generator.to_owned(),
        number_of_tests: counts.valid + counts.invalid + counts.acceptable,
        counts,
        test_groups: groups,
    })
}

/// A file name for an id (ids are already tame; anything else becomes `_`).
pub fn file_stem(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `hex-dir`: `<id>.hex` (the bytes as hex, one line) and `<id>.json` (the test) per vector, and
/// `index.json` (the export without the tests' bodies: ids per group). Returns the vector count.
pub fn write_hex_dir(export: &Export, dir: &Path) -> Result<usize, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut n = 0;
    let mut index_groups = Vec::new();
    for g in &export.test_groups {
        let mut ids = Vec::new();
        for t in &g.tests {
            let stem = file_stem(&t.id);
            let json = serde_json::to_string_pretty(t).map_err(|e| e.to_string())?;
            std::fs::write(dir.join(format!("{stem}.json")), json + "\n")
                .map_err(|e| format!("{stem}.json: {e}"))?;
            std::fs::write(dir.join(format!("{stem}.hex")), format!("{}\n", t.hex))
                .map_err(|e| format!("{stem}.hex: {e}"))?;
            ids.push(t.id.clone());
            n += 1;
        }
        index_groups.push(serde_json::json!({ "protocol": g.protocol, "profile": g.profile, "tests": ids }));
    }
    let index = serde_json::json!({
        "schema": export.schema,
        "schemaVersion": export.schema_version,
        "generator": export.generator,
        "numberOfTests": export.number_of_tests,
        "counts": export.counts,
        "testGroups": index_groups,
    });
    let text = serde_json::to_string_pretty(&index).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("index.json"), text + "\n").map_err(|e| format!("index.json: {e}"))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn errata_are_read_from_sources() {
        assert_eq!(errata_in("NOW-PROTO 1.3 §2.2.2.1; ERRATA NOW-2"), vec!["NOW-2"]);
        assert_eq!(
            errata_in("x; ERRATA Inedo-6, Inedo-7; AES by Python"),
            vec!["Inedo-6", "Inedo-7"]
        );
        assert_eq!(errata_in("ERRATA NOW-13 (status is variable)"), vec!["NOW-13"]);
        assert!(errata_in("MS-PSRP §2.2.2.1").is_empty());
    }

    #[test]
    fn every_vector_exports_with_counts_that_add_up() {
        let all = collect(None).unwrap();
        let e = build(&all, "test").unwrap();
        assert_eq!(e.number_of_tests, all.len());
        assert_eq!(
            e.test_groups.iter().map(|g| g.tests.len()).sum::<usize>(),
            all.len()
        );
        let ids: Vec<usize> = e
            .test_groups
            .iter()
            .flat_map(|g| g.tests.iter().map(|t| t.tc_id))
            .collect();
        assert_eq!(ids, (1..=all.len()).collect::<Vec<_>>());
        assert!(e.counts.invalid > 0, "invalid vectors are exported too");
        let now_only = build(&collect(Some("now")).unwrap(), "test").unwrap();
        assert!(now_only.test_groups.iter().all(|g| g.protocol == "now"));
    }
}
