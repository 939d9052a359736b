//! Loading scenario files: YAML through serde_yaml (only here), includes expanded, errors located.

use super::model::{Prelude, Scenario, Step};
use std::path::{Path, PathBuf};

/// Folder under the catalogue root that holds preludes (`include: now/negotiated`).
pub const PRELUDE_DIR: &str = "_preludes";
/// How deep includes may nest (a cycle stops here too).
pub const MAX_INCLUDE_DEPTH: usize = 8;

/// A scenario with its includes expanded, and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    pub scenario: Scenario,
    pub path: PathBuf,
    /// The file's text (for locating names in error messages).
    pub source: String,
}

/// A loading problem: `file:line:column: message`.
#[derive(Debug, Clone)]
pub struct LoadError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl LoadError {
    pub fn at_text(path: &Path, source: &str, needle: &str, message: String) -> Self {
        let (line, column) = locate(source, needle).map_or((None, None), |(l, c)| (Some(l), Some(c)));
        Self {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    }
}

/// 1-based line and column of the first occurrence of `needle` in `source`.
pub fn locate(source: &str, needle: &str) -> Option<(usize, usize)> {
    let at = source.find(needle)?;
    let before = source.get(..at)?;
    let line = before.matches('\n').count() + 1;
    let column = at - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    Some((line, column))
}

fn yaml_error(path: &Path, e: &serde_yaml::Error) -> LoadError {
    let loc = e.location();
    let message = e.to_string();
    // serde_yaml appends " at line L column C"; the location is reported separately.
    let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
    LoadError {
        path: path.to_owned(),
        line: loc.as_ref().map(|l| l.line()),
        column: loc.map(|l| l.column()),
        message,
    }
}

/// Parse YAML text into `T`; enums take the one-key-map form (`{ split: 3 }`, `drop`).
pub fn parse_yaml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, LoadError> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_yaml::with::singleton_map_recursive::deserialize(de).map_err(|e| yaml_error(path, &e))
}

/// Load one scenario file and expand its includes against `root`.
pub fn load_file(path: &Path, root: &Path) -> Result<LoadedScenario, LoadError> {
    let source = std::fs::read_to_string(path).map_err(|e| LoadError {
        path: path.to_owned(),
        line: None,
        column: None,
        message: e.to_string(),
    })?;
    let mut scenario: Scenario = parse_yaml(path, &source)?;
    scenario.steps = expand(&scenario.steps, root, path, &source, 0)?;
    Ok(LoadedScenario {
        scenario,
        path: path.to_owned(),
        source,
    })
}

fn expand(
    steps: &[Step],
    root: &Path,
    path: &Path,
    source: &str,
    depth: usize,
) -> Result<Vec<Step>, LoadError> {
    let mut out = Vec::with_capacity(steps.len());
    for step in steps {
        let Some(name) = &step.include else {
            out.push(step.clone());
            continue;
        };
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(LoadError::at_text(
                path,
                source,
                name,
                format!("includes nest deeper than {MAX_INCLUDE_DEPTH} (a cycle?) at `{name}`"),
            ));
        }
        let file = root.join(PRELUDE_DIR).join(format!("{name}.yaml"));
        let text = std::fs::read_to_string(&file).map_err(|_| {
            let known = list_preludes(root);
            let hint = crate::protocols::closest(name, known.iter().map(String::as_str));
            LoadError::at_text(
                path,
                source,
                name,
                format!(
                    "no prelude `{name}` (looked for {}){}",
                    file.display(),
                    if hint.is_empty() {
                        String::new()
                    } else {
                        format!("; did you mean {}?", hint.join(", "))
                    }
                ),
            )
        })?;
        let prelude: Prelude = parse_yaml(&file, &text)?;
        out.extend(expand(&prelude.steps, root, &file, &text, depth + 1)?);
    }
    Ok(out)
}

/// Prelude names (`now/negotiated`) under `root`.
pub fn list_preludes(root: &Path) -> Vec<String> {
    let base = root.join(PRELUDE_DIR);
    let mut out = Vec::new();
    for f in yaml_files(&base) {
        if let Ok(rel) = f.strip_prefix(&base) {
            out.push(rel.with_extension("").to_string_lossy().replace('\\', "/"));
        }
    }
    out
}

/// Every `*.yaml` below `dir`, sorted (stable order for partitions and reports).
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Load every scenario under `root` (preludes excluded). A single file may be given as `root` too.
/// Returns the scenarios and every file's error (a bad file does not hide the others).
pub fn load_dir(root: &Path) -> (Vec<LoadedScenario>, Vec<LoadError>) {
    let (files, prelude_root) = if root.is_file() {
        let r = find_catalogue_root(root);
        (vec![root.to_owned()], r)
    } else {
        let files = yaml_files(root)
            .into_iter()
            .filter(|p| !p.strip_prefix(root).is_ok_and(|r| r.starts_with(PRELUDE_DIR)))
            .collect();
        (files, root.to_owned())
    };
    let mut ok = Vec::new();
    let mut errs = Vec::new();
    for f in files {
        match load_file(&f, &prelude_root) {
            Ok(s) => ok.push(s),
            Err(e) => errs.push(e),
        }
    }
    (ok, errs)
}

/// For a single file, the nearest ancestor holding `_preludes/` (else the file's folder).
fn find_catalogue_root(file: &Path) -> PathBuf {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d.join(PRELUDE_DIR).is_dir() {
            return d.to_owned();
        }
        dir = d.parent();
    }
    file.parent().map(Path::to_owned).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn locate_gives_one_based_line_and_column() {
        assert_eq!(locate("a\nbc foo\n", "foo"), Some((2, 4)));
    }

    #[test]
    fn yaml_errors_carry_line_and_column() {
        let e = parse_yaml::<Scenario>(Path::new("x.yaml"), "id: a\ntitle: b\nnope: 1\n").unwrap_err();
        assert!(e.line.is_some(), "{e}");
        assert!(e.message.contains("nope"), "{e}");
    }
}
