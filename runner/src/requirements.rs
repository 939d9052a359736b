//! The requirement registry (`requirements/*.yaml`, format in docs/requirements.md).

use crate::scenario::Level;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    pub spec: String,
    #[serde(default)]
    pub source: Option<String>,
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub section: String,
    pub level: Level,
    pub quote: String,
    #[serde(default)]
    pub errata: Vec<String>,
    /// Why it cannot be checked on the wire (instead of coverage).
    #[serde(default)]
    pub untestable: Option<String>,
}

/// Every registry file under `dir`, with the spec it belongs to.
pub fn load(dir: &Path) -> Result<Vec<(RegistryFile, std::path::PathBuf)>, String> {
    let mut out = Vec::new();
    for f in crate::scenario::load::yaml_files(dir) {
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        let reg: RegistryFile = crate::scenario::load::parse_yaml(&f, &text).map_err(|e| e.to_string())?;
        out.push((reg, f));
    }
    Ok(out)
}

/// The registry next to a scenario folder: `<scenarios>/../requirements`.
pub fn beside(scenarios: &Path) -> std::path::PathBuf {
    let base = if scenarios.is_file() {
        scenarios.parent().and_then(Path::parent)
    } else {
        scenarios.parent()
    };
    base.unwrap_or(Path::new(".")).join("requirements")
}
