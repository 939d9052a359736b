//! The peercheck [`WireSession`] for NOW-PROTO: structured JSON in, bytes out, and a [`Framer`] on
//! the receive side. NOW has no per-connection codec state beyond the layout, so both directions
//! use the same layout; the local role only picks defaults (e.g. the exec.data stream flag).

use peercheck_wire::session::split_structured;
use peercheck_wire::{DecodeError, Decoded, EncodeError, FieldSpan, Role, SessionOptions, WireSession};

use crate::framer::Framer;
use crate::header::Header;
use crate::limits::HEADER_SIZE;
use crate::msg::{decode_message, encode_message, EncodeCx, NowMessage};
use crate::profile::Layout;

#[derive(Debug, Clone)]
pub struct NowSession {
    layout: Layout,
    role: Role,
    framer: Framer,
}

impl NowSession {
    pub fn new(options: &SessionOptions) -> Result<Self, String> {
        let layout = Layout::from_options(options)?;
        Ok(NowSession {
            layout,
            role: options.role(),
            framer: Framer::new(layout),
        })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Encode a typed message (for callers that do not go through JSON).
    pub fn encode_typed(&self, msg: &NowMessage) -> Result<Vec<u8>, EncodeError> {
        encode_message(
            msg,
            &EncodeCx {
                layout: &self.layout,
                role: self.role,
            },
        )
    }
}

/// Parse the structured form `{ name: fields }` into a typed message (`null` fields = all defaults).
pub fn parse_structured(message: &serde_json::Value) -> Result<NowMessage, EncodeError> {
    let (name, fields) = split_structured(message)?;
    let fields = if fields.is_null() {
        serde_json::json!({})
    } else {
        fields.clone()
    };
    let mut map = serde_json::Map::new();
    map.insert(name.to_owned(), fields);
    serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| EncodeError::new(name.to_owned(), e.to_string()))
}

/// The fields of a typed message in structured form (the value under its name).
pub fn structured_fields(msg: &NowMessage) -> serde_json::Value {
    match serde_json::to_value(msg) {
        Ok(serde_json::Value::Object(mut map)) => map.remove(msg.name()).unwrap_or(serde_json::Value::Null),
        _ => serde_json::Value::Null,
    }
}

impl WireSession for NowSession {
    fn encode(&mut self, message: &serde_json::Value) -> Result<Vec<u8>, EncodeError> {
        let msg = parse_structured(message)?;
        self.encode_typed(&msg)
    }

    fn push_received(&mut self, bytes: &[u8]) {
        self.framer.push(bytes);
    }

    fn next_received(&mut self) -> Result<Option<Decoded>, DecodeError> {
        Ok(self.framer.next_frame()?.map(|f| Decoded {
            name: f.message.name().to_owned(),
            fields: structured_fields(&f.message),
            offset: f.offset,
            bytes: f.bytes,
            spans: f.spans,
        }))
    }

    fn finish(&mut self) -> Result<(), DecodeError> {
        self.framer.finish()
    }

    fn annotate_sent(&self, bytes: &[u8]) -> Vec<FieldSpan> {
        let mut spans = Vec::new();
        let mut at = 0usize;
        while let Some(rest) = bytes.get(at..).filter(|r| !r.is_empty()) {
            let mut r = peercheck_wire::Reader::new(rest).with_base(at).traced();
            let Ok(h) = Header::read(&mut r) else { break };
            let header_spans = r.take_spans();
            let total = usize::try_from(h.msg_size)
                .unwrap_or(usize::MAX)
                .saturating_add(HEADER_SIZE);
            match rest
                .get(..total)
                .map(|frame| decode_message(frame, at, &self.layout, true))
            {
                Some(Ok((_, s))) => spans.extend(s),
                _ => {
                    spans.extend(header_spans);
                    break;
                }
            }
            at += total;
        }
        spans
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    fn session(role: Role, profile: &str) -> NowSession {
        NowSession::new(&SessionOptions {
            local_role: Some(role),
            profile: Some(profile.into()),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn exec_data_default_stream_follows_the_sender() {
        let msg = json!({ "exec.data": { "sessionId": 1, "data": "00" } });
        assert_eq!(session(Role::Client, "now-1.6").encode(&msg).unwrap()[6], 0x02);
        assert_eq!(session(Role::Server, "now-1.6").encode(&msg).unwrap()[6], 0x04);
    }

    #[test]
    fn flag_names_lists_and_null_fields_are_accepted() {
        let mut s = session(Role::Client, "now-1.6");
        let a = s
            .encode(&json!({ "channel.capset": { "execCapset": ["run", "shell"], "heartbeatInterval": 60 } }))
            .unwrap();
        assert_eq!(
            hex::encode(&a),
            "0e0000001001010001000600000000000500".to_owned() + "3c000000"
        );
        let b = s.encode(&json!({ "channel.heartbeat": null })).unwrap();
        assert_eq!(b, vec![0, 0, 0, 0, 0x10, 0x02, 0, 0]);
        assert!(s.encode(&json!({ "channel.capset": { "bogus": 1 } })).is_err());
        assert!(s.encode(&json!({ "no.such": {} })).is_err());
    }

    #[test]
    fn messages_outside_the_profile_are_refused_on_encode_and_unknown_on_decode() {
        let mut s = session(Role::Client, "now-1.3");
        assert!(s.encode(&json!({ "session.window-rec-stop": {} })).is_err());
        let mut r = session(Role::Server, "now-1.3");
        r.push_received(&[0, 0, 0, 0, 0x12, 0x07, 0, 0]);
        assert_eq!(r.next_received().unwrap().unwrap().name, "unknown");
    }

    #[test]
    fn annotate_sent_names_the_length_field_and_body_fields() {
        let mut s = session(Role::Client, "now-1.6");
        let mut bytes = s
            .encode(&json!({ "exec.run": { "sessionId": 1, "command": "x" } }))
            .unwrap();
        bytes.extend(
            s.encode(&json!({ "exec.cancel-req": { "sessionId": 1 } }))
                .unwrap(),
        );
        let spans = s.annotate_sent(&bytes);
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        assert!(names.contains(&"header.msgSize"));
        assert!(names.contains(&"body.command"));
        let second = spans
            .iter()
            .filter(|s| s.name == "header.msgSize")
            .nth(1)
            .unwrap();
        assert_eq!(second.start, 17);
        // A frame cut short still shows its header.
        let spans = s.annotate_sent(&bytes[..10]);
        assert!(spans.iter().any(|s| s.name == "header.msgSize"));
    }

    #[test]
    fn protocol_def_contract() {
        let p = crate::protocol();
        assert_eq!(p.name(), "now");
        assert_eq!(p.profiles()[0], "now-1.6");
        assert_eq!(p.length_field(), "header.msgSize");
        assert_eq!(p.ignorable(), &["channel.heartbeat"]);
        let schema = p.message_schema().to_string();
        assert!(schema.contains("exec.run") && schema.contains("rdm.session-notify"));
        let find = |n: &str| p.messages().iter().find(|m| m.name == n).unwrap().sent_by;
        use peercheck_wire::Sender;
        assert_eq!(find("exec.run"), Sender::Client);
        assert_eq!(find("exec.started"), Sender::Server);
        assert_eq!(find("exec.result"), Sender::Server);
        assert_eq!(find("exec.data"), Sender::Either);
        assert_eq!(find("channel.capset"), Sender::Either);
        assert!(p
            .new_session(&SessionOptions {
                profile: Some("now-9".into()),
                ..Default::default()
            })
            .is_err());
    }
}
