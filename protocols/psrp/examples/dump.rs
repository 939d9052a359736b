//! Print the annotated hexdump of one encoded message (a quick look at the decoded spans).
#![allow(clippy::unwrap_used)]
use peercheck_wire::{Role, SessionOptions};

fn main() {
    let mut o = SessionOptions {
        local_role: Some(Role::Client),
        ..Default::default()
    };
    o.params.insert("framing".into(), "fragments".into());
    o.params.insert("max-fragment-size".into(), "120".into());
    let p = peercheck_psrp::protocol();
    let mut c = p.new_session(&o).unwrap();
    let bytes = c
        .encode(&serde_json::json!({ "session-capability": {} }))
        .unwrap();
    let mut s = p
        .new_session(&SessionOptions {
            local_role: Some(Role::Server),
            ..o.clone()
        })
        .unwrap();
    s.push_received(&bytes);
    let d = s.next_received().unwrap().unwrap();
    println!(
        "{}",
        peercheck_wire::hexdump::annotated(&d.bytes, d.offset, &d.spans)
    );
}
