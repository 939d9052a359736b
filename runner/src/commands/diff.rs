//! `peercheck diff` (being implemented; see the issue tracker).

use super::exit;

#[derive(Debug, clap::Args)]
pub struct DiffArgs {}

pub async fn run(_args: &DiffArgs) -> i32 {
    eprintln!("error: `peercheck diff` is not implemented yet");
    exit::USAGE
}
