//! The peercheck [`WireSession`] for NOW-PROTO: structured JSON in, bytes out, and a [`Framer`] on
//! the receive side. NOW has no per-connection codec state beyond the layout, so both directions
//! use the same layout; the local role only picks defaults (e.g. the exec.data stream flag).

use peercheck_wire::session::split_structured;
use peercheck_wire::{Decoded, DecodeError, EncodeError, FieldSpan, Role, SessionOptions, WireSession};

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
        Ok(NowSession { layout, role: options.role(), framer: Framer::new(layout) })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Encode a typed message (for callers that do not go through JSON).
    pub fn encode_typed(&self, msg: &NowMessage) -> Result<Vec<u8>, EncodeError> {
        encode_message(msg, &EncodeCx { layout: &self.layout, role: self.role })
    }
}

/// Parse the structured form `{ name: fields }` into a typed message (`null` fields = all defaults).
pub fn parse_structured(message: &serde_json::Value) -> Result<NowMessage, EncodeError> {
    let (name, fields) = split_structured(message)?;
    let fields = if fields.is_null() { serde_json::json!({}) } else { fields.clone() };
    let mut map = serde_json::Map::new();
    map.insert(name.to_owned(), fields);
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| EncodeError::new(name.to_owned(), e.to_string()))
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
            let total = usize::try_from(h.msg_size).unwrap_or(usize::MAX).saturating_add(HEADER_SIZE);
            match rest.get(..total).map(|frame| decode_message(frame, at, &self.layout, true)) {
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
