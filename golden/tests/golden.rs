//! Every golden vector of every protocol: checked, and snapshotted as annotated hexdumps.
#![allow(clippy::unwrap_used, clippy::panic)]

use peercheck_golden::{load, vector_files, GoldenVerdict};

#[test]
fn every_golden_vector_holds() {
    let mut failures = Vec::new();
    let mut count = 0;
    for f in vector_files() {
        let file = load(&f).unwrap();
        for v in &file.vectors {
            count += 1;
            let r = std::panic::catch_unwind(|| v.check());
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(e),
                Err(_) => failures.push(format!("{}: PANIC while checking", v.id)),
            }
        }
    }
    assert!(count > 0, "no golden vectors found");
    assert!(
        failures.is_empty(),
        "{} of {count} vectors fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn ids_are_unique_and_sources_named() {
    let mut seen = std::collections::HashSet::new();
    for f in vector_files() {
        for v in load(&f).unwrap().vectors {
            assert!(seen.insert(v.id.clone()), "duplicate golden id {}", v.id);
            assert!(!v.source.trim().is_empty(), "{} has no source", v.id);
        }
    }
}

#[test]
fn annotated_hexdumps() {
    insta::glob!("../", "*/*.yaml", |path| {
        let file = load(path).unwrap();
        let text: String = file.vectors.iter().map(|v| v.render() + "\n").collect();
        insta::assert_snapshot!(text);
    });
}

/// The vectors of golden/<protocol>/, each checked to carry that protocol's id prefix and a
/// description.
fn vectors_of(protocol: &str) -> Vec<peercheck_golden::Vector> {
    let dir = peercheck_golden::golden_dir().join(protocol);
    let mut out = Vec::new();
    for f in vector_files()
        .iter()
        .filter(|f| f.parent() == Some(dir.as_path()))
    {
        for v in load(f).unwrap().vectors {
            assert!(
                v.id.starts_with(&format!("{protocol}.")),
                "{} in {}",
                v.id,
                f.display()
            );
            assert!(!v.description.trim().is_empty(), "{} has no description", v.id);
            out.push(v);
        }
    }
    out
}

fn has_valid(all: &[peercheck_golden::Vector], name: &str) -> bool {
    all.iter().any(|v| {
        v.verdict == GoldenVerdict::Valid && v.message.as_ref().is_some_and(|m| m.get(name).is_some())
    })
}

fn has_error(all: &[peercheck_golden::Vector], error: &str) -> bool {
    all.iter().any(|v| v.error.as_deref() == Some(error))
}

#[test]
fn now_vectors_cover_every_catalogue_message() {
    let all = vectors_of("now");
    assert!(all.len() >= 140, "only {} vectors", all.len());
    for info in peercheck_now::protocol().messages() {
        assert!(
            has_valid(&all, info.name),
            "no valid golden vector for {}",
            info.name
        );
    }
}

#[test]
fn psrp_vectors_cover_every_message_type_control_packet_and_limit() {
    let all = vectors_of("psrp");
    assert!(all.len() >= 80, "only {} vectors", all.len());
    for (_, name, ..) in peercheck_psrp::MessageType::ALL {
        assert!(has_valid(&all, name), "no valid vector for {name}");
    }
    for name in peercheck_psrp::outofproc::CONTROL_NAMES {
        assert!(has_valid(&all, name), "no valid vector for {name}");
    }
    let recorded = all
        .iter()
        .filter(|v| v.source.starts_with("pypsrp recorded Windows PowerShell"))
        .count();
    assert!(recorded >= 10, "only {recorded} recorded PowerShell vectors");
    for error in [
        "PSRP_MAX_BLOB_LENGTH",
        "fragment id gap",
        "objectId",
        "Start",
        "truncated",
        "malformed",
        "PSRP_MAX_CLIXML_DEPTH",
    ] {
        assert!(has_error(&all, error), "no invalid vector for {error}");
    }
}

#[test]
fn inedo_vectors_cover_every_message_and_every_invalid_kind() {
    let all = vectors_of("inedo");
    assert!(all.len() >= 40, "only {} vectors", all.len());
    for name in [
        "handshake",
        "handshake-reply",
        "command",
        "response",
        "meta.update-agent",
        "meta.get-agent-root-path",
        "meta.get-agent-root-path-reply",
    ] {
        assert!(
            all.iter()
                .any(|v| v.message.as_ref().is_some_and(|m| m.get(name).is_some())),
            "no vector for {name}"
        );
    }
    for error in [
        "protocolId",
        "truncated",
        "INEDO_MAX_FRAME_LEN",
        "INEDO_MAX_STRING_LEN",
        "padding",
    ] {
        assert!(has_error(&all, error), "no invalid vector for {error}");
    }
}

/// NOW vectors decode to exactly the fields they give (lists and numbers as written, not only
/// by value), with the `header.msgSize` span the wrong-length fault targets.
#[test]
fn now_vectors_decode_exactly_with_the_length_span() {
    let length = peercheck_now::protocol().length_field();
    for v in vectors_of("now") {
        if v.verdict == GoldenVerdict::Invalid {
            continue;
        }
        let (msgs, _) = v.decode(&v.bytes().unwrap()).unwrap();
        let [m] = msgs.as_slice() else {
            panic!("{}: {} messages", v.id, msgs.len())
        };
        let (_, fields) = v
            .message
            .as_ref()
            .and_then(|m| m.as_object())
            .and_then(|o| o.iter().next())
            .unwrap();
        let mut diffs = Vec::new();
        peercheck_golden::contains_exactly(fields, &m.fields, &m.name, &mut diffs);
        assert!(diffs.is_empty(), "{}: {}", v.id, diffs.join("; "));
        assert!(
            m.spans.iter().any(|s| s.name == length),
            "{}: no {length} span",
            v.id
        );
    }
}
