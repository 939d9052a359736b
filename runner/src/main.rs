//! `peercheck`: conformance suite and mock peers for NOW-PROTO, MS-PSRP and the Inedo Agent protocol.
//!
//! Exit codes: 0 clean, 1 failures, 2 usage or scenario errors (including zero scenarios
//! selected), 3 the implementation could not be reached.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod engine;
mod expectations;
mod fuzzing;
mod matcher;
mod pace;
mod protocols;
mod report;
mod requirements;
mod scenario;
mod select;
pub mod tools;
mod transport;
mod verdict;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(commands::exit::USAGE);
        }
    };
    let code = runtime.block_on(async {
        match &cli.command {
            cli::Command::Run(a) => commands::run::run(a).await,
            cli::Command::List(a) => commands::list::run(a),
            cli::Command::Check(a) => commands::check::run(a),
            cli::Command::Decode(a) => commands::decode::run(a),
            cli::Command::Simulate(a) => commands::simulate::run(a).await,
            cli::Command::Schema(a) => commands::schema::run(a),
            cli::Command::Coverage(a) => commands::coverage::run(a),
            cli::Command::Selftest(a) => commands::selftest::run(a).await,
            cli::Command::Encode(a) => commands::encode::run(a),
            cli::Command::Golden(a) => commands::golden::run(a).await,
            cli::Command::Record(a) => commands::record::run(a).await,
            cli::Command::Replay(a) => commands::replay::run(a).await,
            cli::Command::Diff(a) => commands::diff::run(a).await,
            cli::Command::Shrink(a) => commands::shrink::run(a).await,
            cli::Command::Bench(a) => commands::bench::run(a).await,
            cli::Command::Fuzz(a) => commands::fuzz::run(a).await,
        }
    });
    // Background tasks (simulators, stderr readers, a blocking read of stdin) must not keep the
    // process alive: `simulate --stdio` must close its stdout the moment its peer closes, and a
    // blocked stdin read would hold a timed shutdown for its whole timeout.
    runtime.shutdown_background();
    std::process::exit(code);
}
