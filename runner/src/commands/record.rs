//! `peercheck record` (being implemented; see the issue tracker).

use super::exit;

#[derive(Debug, clap::Args)]
pub struct RecordArgs {}

pub async fn run(_args: &RecordArgs) -> i32 {
    eprintln!("error: `peercheck record` is not implemented yet");
    exit::USAGE
}
