//! `peercheck replay` (being implemented; see the issue tracker).

use super::exit;

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {}

pub async fn run(_args: &ReplayArgs) -> i32 {
    eprintln!("error: `peercheck replay` is not implemented yet");
    exit::USAGE
}
