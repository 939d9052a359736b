//! `peercheck list`.

use super::{exit, load_selected};
use crate::cli::ListArgs;
use std::io::Write;

pub fn run(args: &ListArgs) -> i32 {
    let chosen = match load_selected(&args.select, None) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Write through a locked handle and stop quietly when the reader goes away (`| head`).
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for s in &chosen {
        let sc = &s.scenario;
        if args.json {
            let v = serde_json::json!({
                "id": sc.id, "title": sc.title, "spec": sc.spec, "level": sc.level,
                "protocol": sc.protocol, "peer": sc.peer, "profiles": sc.profiles, "tags": sc.tags,
                "file": s.path.display().to_string(),
            });
            if writeln!(out, "{v}").is_err() {
                return exit::OK;
            }
        } else {
            let line = writeln!(
                out,
                "{:<60} {:<6} {:<6} {}  — {}",
                sc.id,
                sc.level.as_str(),
                format!("{:?}", sc.peer).to_lowercase(),
                sc.spec,
                sc.title
            );
            if line.is_err() {
                return exit::OK;
            }
        }
    }
    if !args.json {
        eprintln!("{} scenario(s)", chosen.len());
    }
    exit::OK
}
