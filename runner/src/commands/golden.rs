//! `peercheck golden export|verify` (being implemented; see the issue tracker).

use super::exit;

#[derive(Debug, clap::Subcommand)]
pub enum GoldenCommand {
    /// Write every golden vector for other implementations.
    Export {},
}

pub async fn run(_cmd: &GoldenCommand) -> i32 {
    eprintln!("error: `peercheck golden` is not implemented yet");
    exit::USAGE
}
