//! The PSRP [`WireSession`]: structured messages ↔ fragments, raw (`framing=fragments`) or in
//! OutOfProc `<Data>` lines (`framing=outofproc`, the default).
//!
//! `SessionOptions::local_role` decides the direction; without it the session is a passive decoder
//! (as `peercheck decode` uses it): both directions decode, no Destination check, no acks.
//!
//! Params: `framing` (outofproc | fragments), `max-fragment-size` (default 32768, ERRATA PSRP-6),
//! `rpid` (default RPID for encoded messages), `object-id` (first object id, default 1; ERRATA
//! PSRP-7 ids count from 1 per pool), `bom` (true | false, default true: PowerShell writes the BOM,
//! ERRATA PSRP-4), `auto-ack` (outofproc server role: answer every Data line with a DataAck, as
//! PowerShell's server does; default true), `blob-limit` (powershell | spec: with `spec`, a BlobLength
//! over 32768 is an error as §2.2.4 says; PowerShell only caps whole objects, ERRATA PSRP-6).

use crate::defragment::{Defragmenter, Reassembled};
use crate::fragment::Fragmenter;
use crate::header::{Destination, Message, MessageType, MessageView};
use crate::messages::{self, EncodeDefaults};
use crate::outofproc::{self, Control, LineSplitter, Packet};
use peercheck_wire::session::split_structured;
use peercheck_wire::{
    DecodeError, DecodeErrorKind, Decoded, EncodeError, FieldSpan, Guid, Reader, Role, SessionOptions,
    WireSession,
};
use std::collections::{BTreeMap, VecDeque};

/// Default RPID when the `rpid` param is not set (deterministic, so golden vectors are stable).
pub const DEFAULT_RPID: &str = "d1b2c3a4-0000-4000-8000-505352500001";

/// How messages travel on the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    OutOfProc,
    Fragments,
}

/// Settings parsed from [`SessionOptions`].
#[derive(Debug, Clone)]
pub struct Settings {
    pub role: Role,
    /// No `local_role` given: a passive decoder (`peercheck decode`) that takes both directions, so it
    /// skips the Destination check and never acknowledges.
    pub passive: bool,
    pub framing: Framing,
    pub fragmenter: Fragmenter,
    pub first_object_id: u64,
    pub defaults: EncodeDefaults,
    pub auto_ack: bool,
    /// §2.2.4's 32768 BlobLength cap instead of PowerShell's lenient one (ERRATA PSRP-6).
    pub spec_blob_limit: bool,
}

const PARAMS: [&str; 7] = [
    "framing",
    "max-fragment-size",
    "rpid",
    "object-id",
    "bom",
    "auto-ack",
    "blob-limit",
];

fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err(format!("param `{key}`: `{v}` is not true/false")),
    }
}

impl Settings {
    pub fn from_options(o: &SessionOptions) -> Result<Self, String> {
        if let Some(k) = o.params.keys().find(|k| !PARAMS.contains(&k.as_str())) {
            return Err(format!("unknown psrp param `{k}` (known: {})", PARAMS.join(", ")));
        }
        let role = o.role();
        let passive = o.local_role.is_none();
        let framing = match o.param("framing").unwrap_or("outofproc") {
            "outofproc" => Framing::OutOfProc,
            "fragments" => Framing::Fragments,
            other => return Err(format!("param `framing`: `{other}` is not outofproc | fragments")),
        };
        let size = match o.param("max-fragment-size") {
            Some(v) => v
                .parse::<usize>()
                .map_err(|e| format!("param `max-fragment-size`: {e}"))?,
            None => crate::limits::DEFAULT_FRAGMENT_SIZE,
        };
        let rpid = Guid::parse(o.param("rpid").unwrap_or(DEFAULT_RPID))?;
        let first_object_id = match o.param("object-id") {
            Some(v) => v.parse::<u64>().map_err(|e| format!("param `object-id`: {e}"))?,
            None => 1,
        };
        let bom = o
            .param("bom")
            .map(|v| parse_bool("bom", v))
            .transpose()?
            .unwrap_or(true);
        let auto_ack = o
            .param("auto-ack")
            .map(|v| parse_bool("auto-ack", v))
            .transpose()?
            .unwrap_or(true);
        let spec_blob_limit = match o.param("blob-limit").unwrap_or("powershell") {
            "powershell" => false,
            "spec" => true,
            other => return Err(format!("param `blob-limit`: `{other}` is not powershell | spec")),
        };
        let protocol_version = crate::profile_version(o.profile.as_deref())?;
        let destination = match role {
            Role::Client => Destination::SERVER,
            Role::Server => Destination::CLIENT,
        };
        Ok(Self {
            role,
            passive,
            framing,
            fragmenter: Fragmenter::new(size)?,
            first_object_id,
            defaults: EncodeDefaults {
                destination,
                rpid,
                bom,
                protocol_version: protocol_version.to_owned(),
            },
            auto_ack,
            spec_blob_limit,
        })
    }
}

/// One connection's PSRP codec state.
#[derive(Debug)]
pub struct PsrpSession {
    s: Settings,
    next_object_id: u64,
    /// `framing=fragments`: the one receive stream.
    defrag: Defragmenter,
    /// `framing=outofproc`: lines, then one defragmenter per (PSGuid, stream).
    lines: LineSplitter,
    oop_streams: BTreeMap<(Guid, String), OopStream>,
    ready: VecDeque<Decoded>,
    transmit: VecDeque<Vec<u8>>,
    failed: Option<DecodeError>,
}

/// The bytes of message `m` as object `object_id` in `framing`: its fragments back to back, or one
/// OutOfProc `<Data>` line per fragment (stream `PromptResponse` for host responses). The message
/// header and Data are fragmented where they lie, and each fragment is base64-encoded straight into
/// its line.
pub fn frame_message(fragmenter: &Fragmenter, framing: Framing, object_id: u64, m: &Message) -> Vec<u8> {
    let header = m.header_bytes();
    let parts: [&[u8]; 2] = [&header, &m.data];
    match framing {
        Framing::Fragments => fragmenter.fragment_parts(object_id, &parts),
        Framing::OutOfProc => {
            let stream = if matches!(
                m.message_type,
                MessageType::RUNSPACEPOOL_HOST_RESPONSE | MessageType::PIPELINE_HOST_RESPONSE
            ) {
                outofproc::STREAM_PROMPT_RESPONSE
            } else {
                outofproc::STREAM_DEFAULT
            };
            let len = header.len() + m.data.len();
            let mut out = String::with_capacity(
                (len + crate::fragment::FRAGMENT_HEADER_LEN * fragmenter.fragment_count(len)) / 3 * 4
                    + 128 * fragmenter.fragment_count(len),
            );
            fragmenter.for_each_fragment(object_id, &parts, |h, blob| {
                outofproc::write_data_line(&mut out, stream, m.pid, &h, blob);
            });
            out.into_bytes()
        }
    }
}

/// `keep_wire`: keep each object's fragments and their spans (raw fragment framing); with OutOfProc
/// the lines are the wire and the fragment spans inside base64 are not reported.
fn new_defragmenter(s: &Settings, keep_wire: bool) -> Defragmenter {
    let d = Defragmenter::new().keeping_wire(keep_wire);
    if s.spec_blob_limit {
        d.with_max_blob(crate::limits::SPEC_MAX_BLOB_LENGTH)
    } else {
        d
    }
}

#[derive(Debug, Default)]
struct OopStream {
    defrag: Defragmenter,
    wire: Vec<u8>,
    first_offset: Option<usize>,
    /// Spans of the lines of the object in flight.
    spans: Vec<FieldSpan>,
    /// Wire size of the last object of this stream (the capacity the next one starts with).
    last_wire: usize,
}

/// The most an OutOfProc object's line buffer reserves from the size of the one before it.
const OOP_WIRE_HINT_CAP: usize = 8 << 20;

impl PsrpSession {
    pub fn new(options: &SessionOptions) -> Result<Self, String> {
        let s = Settings::from_options(options)?;
        Ok(Self {
            next_object_id: s.first_object_id,
            defrag: new_defragmenter(&s, true),
            s,
            lines: LineSplitter::default(),
            oop_streams: BTreeMap::new(),
            ready: VecDeque::new(),
            transmit: VecDeque::new(),
            failed: None,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.s
    }

    /// Encode one PSRP message (already built) into this session's framing.
    pub fn encode_message(&mut self, m: &Message, object_id: Option<u64>) -> Vec<u8> {
        let id = object_id.unwrap_or(self.next_object_id);
        self.next_object_id = self.next_object_id.max(id.saturating_add(1));
        frame_message(&self.s.fragmenter, self.s.framing, id, m)
    }

    fn fail(&mut self, e: DecodeError) -> DecodeError {
        self.failed = Some(e.clone());
        e
    }

    /// Turn a reassembled object into a Decoded message (spans mapped to stream offsets).
    fn decode_object(
        &self,
        o: &Reassembled,
        bytes: Vec<u8>,
        offset: usize,
        keep_fragment_spans: bool,
    ) -> Result<Decoded, DecodeError> {
        let map = |e: DecodeError| {
            let at = o.stream_offset(e.offset);
            DecodeError { offset: at, ..e }
        };
        let mut r = Reader::new(&o.data).traced();
        let m = MessageView::decode(&mut r).map_err(map)?;
        let mut spans = if keep_fragment_spans {
            o.spans.clone()
        } else {
            Vec::new()
        };
        for sp in r.take_spans() {
            // A field that crosses fragment boundaries becomes one span per piece, so no span covers
            // the fragment headers in between.
            let pieces: Vec<(usize, usize)> = o
                .chunks
                .iter()
                .filter_map(|c| {
                    let lo = sp.start.max(c.object_offset);
                    let hi = sp.end.min(c.object_offset + c.len);
                    (lo < hi).then(|| {
                        (
                            c.stream_offset + (lo - c.object_offset),
                            c.stream_offset + (hi - c.object_offset),
                        )
                    })
                })
                .collect();
            if pieces.is_empty() {
                let at = o.stream_offset(sp.start);
                spans.push(FieldSpan {
                    start: at,
                    end: at,
                    ..sp
                });
                continue;
            }
            for (start, end) in pieces {
                spans.push(FieldSpan {
                    start,
                    end,
                    name: sp.name.clone(),
                    value: sp.value.clone(),
                });
            }
        }
        spans.sort_by_key(|s| s.start);
        let data_at = o.stream_offset(crate::header::MESSAGE_HEADER_LEN);
        // §2.2.1 Destination; ERRATA PSRP-7: PowerShell tests it as a bitmask.
        let wanted = match self.s.role {
            Role::Server => Destination::SERVER,
            Role::Client => Destination::CLIENT,
        };
        if !self.s.passive && m.destination.0 & wanted.0 == 0 {
            return Err(DecodeError::invalid(
                o.stream_offset(0),
                "destination",
                format!(
                    "destination {} does not include the receiving {} (0x{:x})",
                    m.destination.0,
                    self.s.role.as_str(),
                    wanted.0
                ),
            ));
        }
        let (name, mut fields) = messages::decode_structured_view(&m).map_err(|e| match e.limit {
            Some((limit, value, max)) => {
                DecodeError::new(data_at, e.field, DecodeErrorKind::OverLimit { value, max, limit })
            }
            None => DecodeError::invalid(data_at, e.field, e.reason),
        })?;
        if let Some(map) = fields.as_object_mut() {
            map.insert("objectId".into(), o.object_id.into());
            map.insert("fragmentCount".into(), o.fragment_count.into());
        }
        Ok(Decoded {
            name,
            fields,
            offset,
            bytes,
            spans,
        })
    }

    fn pump_fragments(&mut self) -> Result<(), DecodeError> {
        while let Some(o) = self.defrag.next_object().map_err(|e| e.to_decode_error())? {
            let mut o = o;
            let wire = std::mem::take(&mut o.wire);
            let d = self.decode_object(&o, wire, o.offset, true);
            self.defrag.recycle(o.data);
            self.ready.push_back(d?);
        }
        Ok(())
    }

    fn pump_lines(&mut self) -> Result<(), DecodeError> {
        while let Some((offset, raw, len)) = self.lines.next_raw_line()? {
            let line = raw.get(..len).unwrap_or_default();
            // The usual Data line is decoded and its spans placed without the XML reader and
            // without searching; anything else takes the full parser.
            let (packet, plain) = match outofproc::decode_plain_data(line) {
                Some((p, layout)) => (p, Some(layout)),
                None => (Packet::decode(line, offset)?, None),
            };
            match packet {
                Packet::Control { kind, ps_guid } => {
                    let mut spans = vec![FieldSpan {
                        start: offset,
                        end: offset + line.len(),
                        name: "oop".into(),
                        value: kind.element().into(),
                    }];
                    spans.extend(outofproc::line_spans(offset, line));
                    self.ready.push_back(Decoded {
                        name: kind.name().into(),
                        fields: serde_json::json!({ "psGuid": ps_guid.to_string() }),
                        offset,
                        bytes: raw,
                        spans,
                    });
                }
                Packet::Data {
                    stream,
                    ps_guid,
                    payload,
                } => {
                    if self.s.role == Role::Server && self.s.auto_ack && !self.s.passive {
                        self.transmit.push_back(
                            Packet::Control {
                                kind: Control::DataAck,
                                ps_guid,
                            }
                            .encode(),
                        );
                    }
                    let fresh = new_defragmenter(&self.s, false);
                    let key = (ps_guid, stream);
                    let st = self.oop_streams.entry(key.clone()).or_insert_with(|| OopStream {
                        defrag: fresh,
                        ..OopStream::default()
                    });
                    st.first_offset.get_or_insert(offset);
                    if st.wire.is_empty() {
                        // Sized from the last object of this stream that arrived, never from a header.
                        st.wire.reserve(st.last_wire.min(OOP_WIRE_HINT_CAP));
                    }
                    st.wire.extend_from_slice(&raw);
                    match plain {
                        Some(layout) => st.spans.extend(layout.spans(offset, line)),
                        None => st.spans.extend(outofproc::line_spans(offset, line)),
                    }
                    st.defrag.push(&payload);
                    let mut done = Vec::new();
                    loop {
                        match st.defrag.next_object() {
                            Ok(Some(o)) => {
                                st.last_wire = st.wire.len();
                                let mut wire = std::mem::take(&mut st.wire);
                                if wire.capacity() > wire.len().saturating_mul(2) {
                                    wire.shrink_to_fit();
                                }
                                done.push((
                                    o,
                                    st.first_offset.take().unwrap_or(offset),
                                    wire,
                                    std::mem::take(&mut st.spans),
                                ))
                            }
                            Ok(None) => break,
                            // Offsets inside base64 do not map to the line: report the line.
                            Err(e) => {
                                let de = e.to_decode_error();
                                return Err(DecodeError {
                                    offset,
                                    field: format!("oop.data.{}", de.field).into(),
                                    ..de
                                });
                            }
                        }
                    }
                    for (o, first, wire, line_spans) in done {
                        let wire = if wire.is_empty() { raw.to_vec() } else { wire };
                        let d = self.decode_object(&o, wire, first, false);
                        if let Some(st) = self.oop_streams.get_mut(&key) {
                            st.defrag.recycle(o.data);
                        }
                        let d = d.map_err(|e| DecodeError { offset, ..e })?;
                        // ERRATA PSRP-3: the PSGuid of the Data lines is the PID of the message.
                        let pid = d.fields.get("pid").and_then(|v| v.as_str()).unwrap_or_default();
                        if pid != ps_guid.to_string() {
                            return Err(DecodeError::invalid(
                                offset,
                                "oop.psGuid",
                                format!("Data PSGuid {ps_guid} differs from the message's PID {pid}"),
                            ));
                        }
                        let mut spans = vec![FieldSpan {
                            start: first,
                            end: first + d.bytes.len(),
                            name: "oop.data".into(),
                            value: format!("object {}", o.object_id),
                        }];
                        spans.extend(line_spans);
                        self.ready.push_back(Decoded { spans, ..d });
                    }
                }
            }
        }
        Ok(())
    }
}

impl WireSession for PsrpSession {
    fn encode(&mut self, message: &serde_json::Value) -> Result<Vec<u8>, EncodeError> {
        let (name, fields) = split_structured(message)?;
        if let Some(kind) = Control::from_name(name) {
            if self.s.framing != Framing::OutOfProc {
                return Err(EncodeError::new(
                    "message",
                    format!("`{name}` exists only with framing=outofproc"),
                ));
            }
            let ps_guid = match fields.get("psGuid").and_then(|v| v.as_str()) {
                Some(g) => Guid::parse(g).map_err(|e| EncodeError::new("psGuid", e))?,
                None => Guid::NIL,
            };
            if let Some(k) = fields.as_object().and_then(|m| m.keys().find(|k| *k != "psGuid")) {
                return Err(EncodeError::new(k.clone(), "unknown field (only psGuid)"));
            }
            return Ok(Packet::Control { kind, ps_guid }.encode());
        }
        let enc = messages::encode_structured(name, fields, &self.s.defaults)?;
        Ok(self.encode_message(&enc.message, enc.object_id))
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    fn push_received(&mut self, bytes: &[u8]) {
        match self.s.framing {
            Framing::Fragments => self.defrag.push(bytes),
            Framing::OutOfProc => {
                self.lines.push(bytes);
                // Take complete lines now, so the DataAck of each one is in `poll_transmit` as soon
                // as its bytes arrive: a flow-controlled client (PowerShell sends the next <Data>
                // only after the DataAck of the last) must not wait for a message to complete.
                if self.failed.is_none() {
                    if let Err(e) = self.pump_lines() {
                        self.fail(e);
                    }
                }
            }
        }
    }

    fn next_received(&mut self) -> Result<Option<Decoded>, DecodeError> {
        if let Some(d) = self.ready.pop_front() {
            return Ok(Some(d));
        }
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = match self.s.framing {
            Framing::Fragments => self.pump_fragments(),
            Framing::OutOfProc => self.pump_lines(),
        };
        if let Err(e) = r {
            // Messages completed before the bad bytes are still delivered; the error comes next.
            let e = self.fail(e);
            if self.ready.is_empty() {
                return Err(e);
            }
        }
        Ok(self.ready.pop_front())
    }

    fn finish(&mut self) -> Result<(), DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.s.framing {
            Framing::Fragments => self.defrag.finish().map_err(|e| e.to_decode_error()),
            Framing::OutOfProc => {
                self.lines.finish()?;
                match self.oop_streams.values().find(|s| !s.defrag.is_idle()) {
                    Some(s) => Err(DecodeError::new(
                        s.first_offset.unwrap_or(0),
                        "oop.data",
                        DecodeErrorKind::Invalid {
                            reason: "the stream ended inside a fragmented object".into(),
                        },
                    )),
                    None => Ok(()),
                }
            }
        }
    }

    fn annotate_sent(&self, bytes: &[u8]) -> Vec<FieldSpan> {
        let mut opts = SessionOptions {
            local_role: Some(self.s.role.other()),
            ..Default::default()
        };
        opts.params.insert(
            "framing".into(),
            if self.s.framing == Framing::Fragments {
                "fragments"
            } else {
                "outofproc"
            }
            .into(),
        );
        opts.params.insert("auto-ack".into(), "false".into());
        let Ok(mut peer) = PsrpSession::new(&opts) else {
            return Vec::new();
        };
        peer.push_received(bytes);
        let mut spans = Vec::new();
        while let Ok(Some(d)) = peer.next_received() {
            spans.extend(d.spans);
        }
        spans
    }
}

/// Fragment header spans of a raw fragment stream (used by tools; empty input gives none).
pub fn fragment_spans_of_stream(bytes: &[u8]) -> Vec<FieldSpan> {
    let mut d = Defragmenter::new().keeping_wire(true);
    d.push(bytes);
    let mut out = Vec::new();
    while let Ok(Some(o)) = d.next_object() {
        out.extend(o.spans);
    }
    out
}
