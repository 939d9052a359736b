//! Transport flags shared by `replay` and `shrink` (the same meaning as in `peercheck run`), and
//! running one loaded scenario through `commands::run::execute`.

use crate::cli::TransportArgs;
use crate::commands::chosen_profiles;
use crate::commands::run::{execute, ExecPlan};
use crate::engine::Timing;
use crate::report::ScenarioResult;
use crate::scenario::{self, LoadedScenario, Scenario};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, clap::Args)]
#[command(
    mut_arg("exec", |a| a.help("stdio mode: spawn this and speak on its stdin/stdout ({protocol}, {role}, {profile}, {id})")),
    mut_arg("builtin", |a| a.help("The built-in simulator over tcp (the default when no other transport is given) or stdio"))
)]
pub struct TargetArgs {
    #[command(flatten)]
    pub transport: TransportArgs,
    /// Profile per protocol (repeatable), e.g. now-1.3. Default: each protocol's first.
    #[arg(long)]
    pub profile: Vec<String>,
    /// Session parameter `key=value` or `protocol:key=value` (repeatable).
    #[arg(long)]
    pub param: Vec<String>,
    /// PSRP framing on a byte stream: outofproc (default) or fragments.
    #[arg(long, value_parser = ["outofproc", "fragments"])]
    pub framing: Option<String>,
    /// Multiply every timeout.
    #[arg(long, default_value_t = 1.0)]
    pub timeout_scale: f64,
}

impl TargetArgs {
    /// The execution plan for one scenario at a time.
    /// The execution plan for `scenario`: its protocol runs with the `--profile` given for it,
    /// else with the scenario's first profile (a recording made with `now-1.0-text` replays with
    /// it), else the protocol's default.
    pub fn plan(&self, seed: u64, scenario: &Scenario) -> Result<ExecPlan, String> {
        let mut profiles = chosen_profiles(&self.profile)?;
        let given = self.profile.iter().any(|p| {
            crate::protocols::get(&scenario.protocol).is_ok_and(|d| d.profiles().contains(&p.as_str()))
        });
        if let (false, Some(first)) = (given, scenario.profiles.first()) {
            profiles.insert(scenario.protocol.clone(), first.clone());
        }
        Ok(ExecPlan {
            target: Arc::new(self.transport.target()?),
            profiles,
            params: self.param.clone(),
            framing: self.framing.clone(),
            timing: Timing {
                scale: self.timeout_scale,
                disabled: false,
                speed: 1,
            },
            seed,
            jobs: 1,
        })
    }
}

/// Load one scenario file (includes expanded) and run the load-time checks, with the command
/// line's `--param` pairs applied as the run will apply them (a recorded scenario leaves secret
/// params such as an AES key out of the file; they come from `--param`).
pub fn load_one(path: &Path, cli_params: &[String]) -> Result<LoadedScenario, String> {
    if !path.is_file() {
        return Err(format!("{} is not a scenario file", path.display()));
    }
    let (mut found, errs) = scenario::load_dir(path);
    if let Some(e) = errs.first() {
        return Err(e.to_string());
    }
    let s = found
        .pop()
        .ok_or_else(|| format!("{}: no scenario", path.display()))?;
    let mut checked = s.clone();
    checked
        .scenario
        .params
        .extend(crate::cli::params_for(cli_params, &s.scenario.protocol)?);
    if let Some(e) = scenario::check::check_all(std::slice::from_ref(&checked)).first() {
        return Err(e.to_string());
    }
    Ok(s)
}

/// Run one scenario once.
pub async fn run_once(s: &LoadedScenario, plan: &ExecPlan) -> Result<ScenarioResult, String> {
    let (mut results, _, interrupted) = execute(vec![s.clone()], plan, |_| {}).await?;
    if interrupted {
        return Err("interrupted".into());
    }
    results
        .pop()
        .ok_or_else(|| "the scenario produced no result".into())
}

/// A seed from the clock when none is given.
pub fn seed_or_clock(seed: Option<u64>) -> u64 {
    seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs().rotate_left(32) ^ u64::from(d.subsec_nanos()))
            .unwrap_or(1)
    })
}
