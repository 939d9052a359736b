//! `peercheck fuzz` (being implemented; see the issue tracker).

use super::exit;

#[derive(Debug, clap::Args)]
pub struct FuzzArgs {}

pub async fn run(_args: &FuzzArgs) -> i32 {
    eprintln!("error: `peercheck fuzz` is not implemented yet");
    exit::USAGE
}
