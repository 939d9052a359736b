//! `peercheck check`: load every scenario and report every problem, with file:line:column.

use super::exit;
use crate::cli::CheckArgs;
use crate::scenario;

pub fn run(args: &CheckArgs) -> i32 {
    if !args.scenarios.exists() {
        eprintln!("error: {} does not exist", args.scenarios.display());
        return exit::USAGE;
    }
    let (all, mut errs) = scenario::load_dir(&args.scenarios);
    errs.extend(scenario::check::check_all(&all));
    for e in &errs {
        println!("{e}");
    }
    if errs.is_empty() {
        println!("{} scenario(s), all valid", all.len());
        exit::OK
    } else {
        println!(
            "{} problem(s) in {} scenario file(s) read",
            errs.len(),
            all.len() + errs.len()
        );
        exit::USAGE
    }
}
