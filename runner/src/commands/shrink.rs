//! `peercheck shrink` (being implemented; see the issue tracker).

use super::exit;

#[derive(Debug, clap::Args)]
pub struct ShrinkArgs {}

pub async fn run(_args: &ShrinkArgs) -> i32 {
    eprintln!("error: `peercheck shrink` is not implemented yet");
    exit::USAGE
}
