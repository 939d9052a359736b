//! One module per subcommand.

pub mod bench;
pub mod check;
pub mod coverage;
pub mod decode;
pub mod diff;
pub mod encode;
pub mod fuzz;
pub mod golden;
pub mod list;
pub mod record;
pub mod replay;
pub mod run;
pub mod schema;
pub mod selftest;
pub mod shrink;
pub mod simulate;

/// Exit codes (documented in README.md and docs/cli.md).
pub mod exit {
    /// Every selected scenario passed (or was a known failure, unsupported, or non-strict without --strict).
    pub const OK: i32 = 0;
    /// At least one fail, xpass or error (or non-strict with --strict); also `decode` on bad input.
    pub const FAILURES: i32 = 1;
    /// Usage error, scenario file error, or zero scenarios selected.
    pub const USAGE: i32 = 2;
    /// The implementation could not be reached at all.
    pub const UNREACHABLE: i32 = 3;
}

use crate::cli::SelectArgs;
use crate::scenario::{self, LoadedScenario};
use crate::select::{parse_partition, Selection};

/// Load, check and select scenarios; on any problem print it and return the exit code.
pub fn load_selected(
    args: &SelectArgs,
    extra_role: Option<crate::scenario::PeerRole>,
) -> Result<Vec<LoadedScenario>, i32> {
    if !args.scenarios.exists() {
        eprintln!("error: scenario path {} does not exist", args.scenarios.display());
        return Err(exit::USAGE);
    }
    let (all, mut errs) = scenario::load_dir(&args.scenarios);
    errs.extend(scenario::check::check_all(&all));
    if !errs.is_empty() {
        for e in &errs {
            eprintln!("error: {e}");
        }
        eprintln!("{} scenario error(s); `peercheck check` lists them", errs.len());
        return Err(exit::USAGE);
    }
    let levels = args
        .level
        .iter()
        .map(|l| match l.as_str() {
            "must" => scenario::Level::Must,
            "should" => scenario::Level::Should,
            _ => scenario::Level::May,
        })
        .collect();
    let role = match args.role.as_deref() {
        Some("server") => Some(scenario::PeerRole::Server),
        Some("client") => Some(scenario::PeerRole::Client),
        _ => extra_role,
    };
    let partition = match args.partition.as_deref().map(parse_partition).transpose() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: --partition {e}");
            return Err(exit::USAGE);
        }
    };
    let sel = Selection {
        filters: args.filter.clone(),
        tags: args.tag.clone(),
        levels,
        role,
        partition,
    };
    let mut chosen = sel.apply(all).map_err(|e| {
        eprintln!("error: {e}");
        exit::USAGE
    })?;
    // Keep only scenarios that apply to the chosen profile of their protocol.
    let profiles = match chosen_profiles(&args.profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(exit::USAGE);
        }
    };
    chosen.retain(|s| {
        let p = profiles.get(&s.scenario.protocol).cloned().unwrap_or_default();
        s.scenario.profiles.is_empty() || s.scenario.profiles.contains(&p)
    });
    chosen.sort_by(|a, b| a.scenario.id.cmp(&b.scenario.id));
    Ok(chosen)
}

/// The profile each protocol runs with: `--profile` entries, else the protocol's default.
pub fn chosen_profiles(args: &[String]) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut out = std::collections::BTreeMap::new();
    for p in crate::protocols::all() {
        out.insert(
            p.name().to_owned(),
            p.profiles().first().map(|s| s.to_string()).unwrap_or_default(),
        );
    }
    for want in args {
        let owner = crate::protocols::all()
            .into_iter()
            .find(|p| p.profiles().contains(&want.as_str()));
        match owner {
            Some(p) => {
                out.insert(p.name().to_owned(), want.clone());
            }
            None => {
                let all: Vec<&str> = crate::protocols::all()
                    .iter()
                    .flat_map(|p| p.profiles().iter().copied())
                    .collect();
                return Err(format!("unknown profile `{want}` (known: {})", all.join(", ")));
            }
        }
    }
    Ok(out)
}
