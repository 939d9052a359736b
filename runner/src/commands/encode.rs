//! `peercheck encode` (being implemented; see the issue tracker).

use super::exit;

#[derive(Debug, clap::Args)]
pub struct EncodeArgs {}

pub fn run(_args: &EncodeArgs) -> i32 {
    eprintln!("error: `peercheck encode` is not implemented yet");
    exit::USAGE
}
