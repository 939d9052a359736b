//! `peercheck list`.

use super::{exit, load_selected};
use crate::cli::ListArgs;

pub fn run(args: &ListArgs) -> i32 {
    let chosen = match load_selected(&args.select, None) {
        Ok(c) => c,
        Err(code) => return code,
    };
    for s in &chosen {
        let sc = &s.scenario;
        if args.json {
            let v = serde_json::json!({
                "id": sc.id, "title": sc.title, "spec": sc.spec, "level": sc.level,
                "protocol": sc.protocol, "peer": sc.peer, "profiles": sc.profiles, "tags": sc.tags,
                "file": s.path.display().to_string(),
            });
            println!("{v}");
        } else {
            println!(
                "{:<60} {:<6} {:<6} {}  — {}",
                sc.id,
                sc.level.as_str(),
                format!("{:?}", sc.peer).to_lowercase(),
                sc.spec,
                sc.title
            );
        }
    }
    if !args.json {
        eprintln!("{} scenario(s)", chosen.len());
    }
    exit::OK
}
