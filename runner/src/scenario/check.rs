//! Load-time checks: reject a scenario that can never pass before anything runs.
//!
//! - ids start with the protocol and are unique; the protocol and profiles exist;
//! - every step has exactly one action, durations and faults parse, hex is hex;
//! - a `send` names a message the suite's side may send, an `expect` one the implementation may send
//!   (a server is never expected to send a client-only message), with "did you mean" hints;
//! - a structured `send` without captures encodes with every profile it applies to.

use super::load::{LoadError, LoadedScenario};
use super::model::parse_duration;
use crate::matcher;
use crate::protocols;
use peercheck_wire::session::{ProtocolDef, Role, SessionOptions};
use std::collections::HashMap;

/// Check all scenarios; returns every problem found.
pub fn check_all(scenarios: &[LoadedScenario]) -> Vec<LoadError> {
    let mut errs = Vec::new();
    let mut seen: HashMap<&str, &std::path::Path> = HashMap::new();
    for s in scenarios {
        if let Some(first) = seen.insert(&s.scenario.id, &s.path) {
            errs.push(err(
                s,
                &s.scenario.id,
                format!("duplicate id (also in {})", first.display()),
            ));
        }
        errs.extend(check_one(s));
    }
    errs
}

fn err(s: &LoadedScenario, needle: &str, message: String) -> LoadError {
    LoadError::at_text(&s.path, &s.source, needle, message)
}

/// The profiles a scenario applies to (its list, or all of the protocol's).
pub fn profiles_of(s: &super::Scenario, p: &dyn ProtocolDef) -> Vec<String> {
    if s.profiles.is_empty() {
        p.profiles().iter().map(|x| x.to_string()).collect()
    } else {
        s.profiles.clone()
    }
}

pub fn check_one(s: &LoadedScenario) -> Vec<LoadError> {
    let sc = &s.scenario;
    let mut errs = Vec::new();
    let proto = match protocols::get(&sc.protocol) {
        Ok(p) => p,
        Err(e) => return vec![err(s, "protocol", e)],
    };
    if !sc.id.starts_with(&format!("{}.", sc.protocol)) {
        errs.push(err(
            s,
            &sc.id,
            format!("id `{}` must start with `{}.`", sc.id, sc.protocol),
        ));
    }
    for p in &sc.profiles {
        if !proto.profiles().contains(&p.as_str()) {
            let hint = protocols::closest(p, proto.profiles().iter().copied());
            errs.push(err(
                s,
                p,
                format!(
                    "unknown profile `{p}` for {} (known: {}){}",
                    sc.protocol,
                    proto.profiles().join(", "),
                    did_you_mean(&hint)
                ),
            ));
        }
    }
    if let Some(t) = &sc.timeout {
        if let Err(e) = parse_duration(t) {
            errs.push(err(s, t, e));
        }
    }
    let suite_role = sc.peer.as_role().other();
    let peer_role = sc.peer.as_role();
    for (i, step) in sc.steps.iter().enumerate() {
        let at = |m: String| format!("step {}: {m}", i + 1);
        if let Err(e) = step.action() {
            errs.push(err(s, "steps", at(e)));
            continue;
        }
        for d in [&step.within, &step.expect_silence, &step.sleep]
            .into_iter()
            .flatten()
        {
            if let Err(e) = parse_duration(d) {
                errs.push(err(s, d, at(e)));
            }
        }
        if let Some(c) = step.expect_close.as_ref().and_then(|c| c.within.as_ref()) {
            if let Err(e) = parse_duration(c) {
                errs.push(err(s, c, at(e)));
            }
        }
        for f in &step.fault {
            if let Err(e) = f.validate() {
                errs.push(err(s, "fault", at(e)));
            }
        }
        if !step.fault.is_empty() && step.send.is_none() && step.send_hex.is_none() {
            errs.push(err(
                s,
                "fault",
                at("faults apply to send or send-hex steps only".into()),
            ));
        }
        if let Some(h) = &step.send_hex {
            if let Err(e) = peercheck_wire::hexparse::parse_hex(h) {
                errs.push(err(s, h, at(format!("send-hex: {e}"))));
            }
        }
        if let Some(msg) = &step.send {
            errs.extend(check_message(s, proto, msg, suite_role, "send", i));
            if errs.is_empty() && !mentions_var(msg) {
                for profile in profiles_of(sc, proto) {
                    if let Err(e) = try_encode(proto, &profile, suite_role, sc, msg) {
                        errs.push(err(
                            s,
                            first_key(msg),
                            at(format!("cannot encode with profile {profile}: {e}")),
                        ));
                        break;
                    }
                }
            }
        }
        if let Some(msg) = &step.expect {
            errs.extend(check_message(s, proto, msg, peer_role, "expect", i));
        }
        if let Some(c) = &step.expect_close {
            for name in &c.allow {
                errs.extend(check_name(s, proto, name, peer_role, "expect-close allow", i));
            }
        }
        for path in step.capture.values() {
            if path.is_empty() {
                errs.push(err(s, "capture", at("capture needs a field path".into())));
            }
        }
        if !step.capture.is_empty() && step.expect.is_none() {
            errs.push(err(s, "capture", at("capture goes with an expect step".into())));
        }
    }
    errs
}

fn first_key(v: &serde_json::Value) -> &str {
    v.as_object()
        .and_then(|m| m.keys().next())
        .map(String::as_str)
        .unwrap_or("send")
}

fn mentions_var(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains("${"),
        serde_json::Value::Array(a) => a.iter().any(mentions_var),
        serde_json::Value::Object(o) => o.values().any(mentions_var),
        _ => false,
    }
}

fn did_you_mean(hint: &[&str]) -> String {
    if hint.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", hint.join(", "))
    }
}

fn check_message(
    s: &LoadedScenario,
    proto: &dyn ProtocolDef,
    msg: &serde_json::Value,
    sender: Role,
    what: &str,
    step: usize,
) -> Vec<LoadError> {
    let Some(map) = msg.as_object().filter(|m| !m.is_empty()) else {
        return vec![err(
            s,
            what,
            format!(
                "step {}: {what} needs a map {{ message-name: {{ fields }} }}",
                step + 1
            ),
        )];
    };
    if what == "send" && map.len() != 1 {
        return vec![err(
            s,
            what,
            format!("step {}: send names exactly one message", step + 1),
        )];
    }
    let mut errs = Vec::new();
    let schema = protocols::message_schema(proto);
    for (name, fields) in map {
        errs.extend(check_name(s, proto, name, sender, what, step));
        if what == "expect"
            && !(fields.is_object() || fields.is_null() || matcher::as_matcher(fields).is_some())
        {
            errs.push(err(
                s,
                name,
                format!("step {}: the fields of `{name}` must be a map", step + 1),
            ));
        }
        // Field names: a typo would make an expect fail against every correct peer.
        let (Some(given), Some(known)) = (fields.as_object(), super::fields::field_names(schema, name))
        else {
            continue;
        };
        if matcher::as_matcher(fields).is_some() {
            continue;
        }
        for key in given.keys().filter(|k| !known.contains(*k)) {
            let hint = protocols::closest(key, known.iter().map(String::as_str));
            errs.push(err(
                s,
                key,
                format!(
                    "step {}: `{name}` has no field `{key}`{} (fields: {})",
                    step + 1,
                    did_you_mean(&hint),
                    known.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    errs
}

fn check_name(
    s: &LoadedScenario,
    proto: &dyn ProtocolDef,
    name: &str,
    sender: Role,
    what: &str,
    step: usize,
) -> Vec<LoadError> {
    let known = proto.messages();
    if name == "unknown" {
        return Vec::new();
    }
    match known.iter().find(|m| m.name == name) {
        None => {
            let hint = protocols::closest(name, known.iter().map(|m| m.name));
            vec![err(s, name, format!("step {}: unknown {} message `{name}`{}", step + 1, proto.name(), did_you_mean(&hint)))]
        }
        Some(info) if !info.sent_by.allows(sender) => vec![err(
            s,
            name,
            format!(
                "step {}: {what} `{name}` can never happen: only the {:?} sends it, and here the {} does (the implementation under test is the {})",
                step + 1,
                info.sent_by,
                sender.as_str(),
                s.scenario.peer.as_role().as_str(),
            )
            .to_lowercase(),
        )],
        Some(_) => Vec::new(),
    }
}

fn try_encode(
    proto: &dyn ProtocolDef,
    profile: &str,
    role: Role,
    sc: &super::Scenario,
    msg: &serde_json::Value,
) -> Result<(), String> {
    let opts = SessionOptions {
        local_role: Some(role),
        profile: Some(profile.to_owned()),
        params: sc.params.clone(),
    };
    let mut session = proto.new_session(&opts)?;
    session.encode(msg).map(|_| ()).map_err(|e| e.to_string())
}
