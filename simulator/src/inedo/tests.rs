#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use super::*;
use crate::peer::{Output, PeerConfig};
use rstest::rstest;
use std::collections::VecDeque;
use std::time::Duration;

const KEY128: &str = "000102030405060708090a0b0c0d0e0f";
const KEY256: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";

fn config(role: Role, profile: &str, params: &[(&str, &str)], misbehave: Option<&str>) -> PeerConfig {
    PeerConfig {
        role: Some(role),
        profile: Some(profile.to_owned()),
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        script: None,
        misbehave: misbehave.map(str::to_owned),
        seed: 7,
    }
}

/// What happened on one in-memory connection.
#[derive(Debug, Default)]
struct Outcome {
    finished: Option<(bool, String)>,
    server_close: Option<String>,
    /// Everything the server wrote, by label.
    server_sent: Vec<(String, Vec<u8>)>,
    client_sent: Vec<(String, Vec<u8>)>,
}

/// Run a client peer against a server peer until the client finishes or both are quiet; when quiet,
/// fire the deadlines (time jumps, nothing is slept).
fn run(client: PeerConfig, server: PeerConfig) -> Outcome {
    let mut c = new_peer(&client).unwrap();
    let mut s = new_peer(&server).unwrap();
    let mut o = Outcome::default();
    // (to_server, bytes)
    let mut wire: VecDeque<(bool, Vec<u8>)> = VecDeque::new();
    let (mut c_closed, mut s_closed) = (false, false);
    let mut now = Duration::ZERO;
    let handle = |outs: Vec<Output>,
                  from_client: bool,
                  o: &mut Outcome,
                  wire: &mut VecDeque<(bool, Vec<u8>)>,
                  closed: &mut bool| {
        for out in outs {
            match out {
                Output::Send { label, bytes } if !*closed => {
                    if from_client {
                        o.client_sent.push((label, bytes.clone()));
                    } else {
                        o.server_sent.push((label, bytes.clone()));
                    }
                    wire.push_back((from_client, bytes));
                }
                Output::Close { reason } => {
                    if !from_client && o.server_close.is_none() {
                        o.server_close = Some(reason);
                    }
                    *closed = true;
                }
                Output::Finished { ok, summary } => o.finished = Some((ok, summary)),
                _ => {}
            }
        }
    };
    handle(s.start(now), false, &mut o, &mut wire, &mut s_closed);
    handle(c.start(now), true, &mut o, &mut wire, &mut c_closed);
    for _ in 0..200 {
        if let Some((to_server, bytes)) = wire.pop_front() {
            if to_server && !s_closed {
                handle(s.input(now, &bytes), false, &mut o, &mut wire, &mut s_closed);
            } else if !to_server && !c_closed {
                handle(c.input(now, &bytes), true, &mut o, &mut wire, &mut c_closed);
            }
            continue;
        }
        if o.finished.is_some() {
            break;
        }
        if s_closed && !c_closed {
            handle(c.peer_closed(now), true, &mut o, &mut wire, &mut c_closed);
            continue;
        }
        // Quiet: jump to the next deadline.
        let next = [c.next_deadline(), s.next_deadline()].into_iter().flatten().min();
        match next {
            Some(t) if t >= now => {
                now = t + Duration::from_millis(1);
                handle(s.timer(now), false, &mut o, &mut wire, &mut s_closed);
                handle(c.timer(now), true, &mut o, &mut wire, &mut c_closed);
            }
            _ => break,
        }
    }
    o
}

fn pair(
    profile: &str,
    params: &[(&str, &str)],
    server_bad: Option<&str>,
    client_bad: Option<&str>,
) -> Outcome {
    run(
        config(Role::Client, profile, params, client_bad),
        config(Role::Server, profile, params, server_bad),
    )
}

#[rstest]
#[case("inedo-v1", &[])]
#[case("inedo-v2", &[])]
#[case("inedo-v1", &[("server-version", "int32")])]
#[case("inedo-v1", &[("encryption", "aes"), ("key", KEY128)])]
#[case("inedo-v1", &[("encryption", "aes"), ("key", KEY256)])]
#[case("inedo-v2", &[("encryption", "aes"), ("key", KEY128)])]
#[case("inedo-v1", &[("encryption", "aes"), ("key", KEY128), ("iv-chain", "shared")])]
#[case("inedo-v1", &[("encryption", "ssl")])]
#[case("inedo-v2", &[("encryption", "ssl")])]
fn client_and_agent_complete_in_every_mode(#[case] profile: &str, #[case] params: &[(&str, &str)]) {
    let mut p = params.to_vec();
    p.push(("root-path", "D:\\Inedo Agent"));
    let o = pair(profile, &p, None, None);
    assert_eq!(
        o.finished,
        Some((true, "agent root path `D:\\Inedo Agent`".to_owned())),
        "{o:?}"
    );
    assert!(o.server_close.is_none());
    assert_eq!(o.client_sent[0].0, "handshake");
    assert_eq!(o.server_sent[0].0, "handshake-reply");
}

#[test]
fn ssl_mode_really_runs_tls_after_the_clear_reply() {
    let o = pair("inedo-v1", &[("encryption", "ssl")], None, None);
    assert_eq!(o.server_sent[0].1[0], 1, "reply in clear, mode 1");
    assert!(
        o.client_sent.iter().any(|(l, b)| l == "tls" && b[0] == 0x16),
        "a TLS handshake record from the client"
    );
    assert!(
        o.server_sent
            .iter()
            .skip(1)
            .all(|(_, b)| matches!(b[0], 0x14..=0x17)),
        "only TLS records after the reply"
    );
}

#[test]
fn agent_closes_at_once_on_a_bad_guid_and_times_out_a_silent_client() {
    let o = pair("inedo-v1", &[], None, Some("inedo-guid-text-order"));
    assert!(
        o.server_close.as_deref().unwrap().contains("bad protocol id"),
        "{o:?}"
    );
    assert!(o.server_sent.is_empty());
    assert_eq!(o.finished.as_ref().map(|f| f.0), Some(false));

    let mut agent = new_peer(&config(Role::Server, "inedo-v1", &[], None)).unwrap();
    assert_eq!(agent.next_deadline(), Some(HANDSHAKE_TIMEOUT));
    assert!(agent.timer(Duration::from_secs(29)).is_empty());
    let out = agent.timer(Duration::from_secs(30));
    assert!(out.iter().any(|x| matches!(x, Output::Close { .. })));
}

#[test]
fn configuration_errors_are_reported() {
    assert!(new_peer(&config(Role::Server, "inedo-v1", &[], Some("no-such-bug"))).is_err());
    assert!(new_peer(&config(
        Role::Client,
        "inedo-v1",
        &[],
        Some("inedo-accept-bad-guid")
    ))
    .is_err());
    assert!(new_peer(&config(Role::Server, "inedo-v1", &[("encryption", "aes")], None)).is_err());
    assert!(new_peer(&config(Role::Server, "inedo-v7", &[], None)).is_err());
    assert_eq!(MISBEHAVIOURS.len(), 14);
}

fn failed(o: &Outcome) -> bool {
    matches!(o.finished, Some((false, _)))
}

/// Each misbehaviour, in a mode where it applies, makes a conforming counterpart fail (or, where the
/// protocol cannot notice, at least changes the bytes).
#[rstest]
#[case("inedo-iv-reused", "inedo-v1", &[("encryption", "aes"), ("key", KEY128)])]
#[case("inedo-length-counts-ciphertext-in-plain", "inedo-v1", &[])]
#[case("inedo-length-counts-ciphertext-in-plain", "inedo-v1", &[("encryption", "ssl")])]
#[case("inedo-data-at-offset-5", "inedo-v1", &[])]
#[case("inedo-server-version-single-int", "inedo-v1", &[])]
#[case("inedo-string-length-fixed-int32", "inedo-v1", &[])]
#[case("inedo-string-length-fixed-int32", "inedo-v2", &[("encryption", "aes"), ("key", KEY128)])]
#[case("inedo-no-padding", "inedo-v1", &[("encryption", "aes"), ("key", KEY256)])]
#[case("inedo-iv-always-in-reply", "inedo-v1", &[])]
fn server_misbehaviours_fail_a_conforming_client(
    #[case] bad: &str,
    #[case] profile: &str,
    #[case] params: &[(&str, &str)],
) {
    let good = pair(profile, params, None, None);
    assert_eq!(good.finished.as_ref().map(|f| f.0), Some(true), "{good:?}");
    let o = pair(profile, params, Some(bad), None);
    assert!(failed(&o), "{bad}: {o:?}");
}

#[rstest]
#[case("inedo-v2-keeps-agent-type", "inedo-v2", &[])]
#[case("inedo-v2-keeps-agent-type", "inedo-v2", &[("encryption", "aes"), ("key", KEY128)])]
#[case("inedo-guid-text-order", "inedo-v1", &[])]
#[case("inedo-client-ignores-encryption", "inedo-v1", &[("encryption", "aes"), ("key", KEY128)])]
#[case("inedo-client-length-counts-header", "inedo-v1", &[])]
fn client_misbehaviours_fail_against_a_conforming_agent(
    #[case] bad: &str,
    #[case] profile: &str,
    #[case] params: &[(&str, &str)],
) {
    let o = pair(profile, params, None, Some(bad));
    assert!(failed(&o), "{bad}: {o:?}");
    let good = pair(profile, params, None, None);
    assert_ne!(good.client_sent, o.client_sent, "{bad} sends the same bytes");
}

#[test]
fn accept_bad_guid_answers_a_handshake_it_should_drop() {
    let o = pair(
        "inedo-v1",
        &[],
        Some("inedo-accept-bad-guid"),
        Some("inedo-guid-text-order"),
    );
    assert!(o.server_close.is_none(), "{o:?}");
    assert_eq!(o.server_sent[0].0, "handshake-reply");
}

#[test]
fn no_handshake_timeout_never_gives_up() {
    let mut agent = new_peer(&config(
        Role::Server,
        "inedo-v1",
        &[],
        Some("inedo-no-handshake-timeout"),
    ))
    .unwrap();
    assert_eq!(agent.next_deadline(), None);
    assert!(agent
        .timer(Duration::from_secs(3600))
        .iter()
        .all(|x| !matches!(x, Output::Close { .. })));
}

#[test]
fn shared_iv_chain_encrypts_replies_under_another_iv() {
    // The next IV is the first plaintext block, so a receiver on the other chain still decodes the
    // rest: the deviation shows in the bytes (and in the decoded nextIv), not as a decode failure.
    let params = [("encryption", "aes"), ("key", KEY128)];
    let good = pair("inedo-v1", &params, None, None);
    let bad = pair("inedo-v1", &params, Some("inedo-shared-iv-chain"), None);
    assert_eq!(good.server_sent[0], bad.server_sent[0], "same reply");
    assert_ne!(
        good.server_sent[1].1, bad.server_sent[1].1,
        "the answer is encrypted under a different IV"
    );
    assert_eq!(good.server_sent[1].1.len(), bad.server_sent[1].1.len());
}

#[test]
fn every_listed_misbehaviour_is_exercised_by_a_test() {
    let tested = [
        "inedo-iv-reused",
        "inedo-length-counts-ciphertext-in-plain",
        "inedo-data-at-offset-5",
        "inedo-server-version-single-int",
        "inedo-accept-bad-guid",
        "inedo-no-handshake-timeout",
        "inedo-shared-iv-chain",
        "inedo-string-length-fixed-int32",
        "inedo-no-padding",
        "inedo-iv-always-in-reply",
        "inedo-v2-keeps-agent-type",
        "inedo-guid-text-order",
        "inedo-client-ignores-encryption",
        "inedo-client-length-counts-header",
    ];
    for m in MISBEHAVIOURS {
        assert!(tested.contains(&m.name), "{} has no test", m.name);
    }
}
