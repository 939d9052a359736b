//! OutOfProc framing: PowerShell's stdin/stdout transport (`pwsh -s`, SSH, named pipes).
//! One XML element per line: `<Data Stream='Default' PSGuid='…'>base64 of fragments</Data>`,
//! `<DataAck PSGuid='…' />`, `<Command …/>`, `<CommandAck …/>`, `<Signal …/>`, `<SignalAck …/>`,
//! `<Close …/>`, `<CloseAck …/>` (DESIGN.md). PSGuid is the pipeline id, all zero for the pool
//! (ERRATA PSRP-3: it must match the PID of the messages carried).

use crate::fragment::{FragmentHeader, FRAGMENT_HEADER_LEN};
use crate::limits::MAX_OOP_LINE;
use base64::Engine;
use peercheck_wire::{DecodeError, DecodeErrorKind, Guid};
use quick_xml::events::{BytesStart, Event};

/// Structured-form names of the control packets.
pub const DATA_ACK: &str = "oop.data-ack";
pub const COMMAND: &str = "oop.command";
pub const COMMAND_ACK: &str = "oop.command-ack";
pub const SIGNAL: &str = "oop.signal";
pub const SIGNAL_ACK: &str = "oop.signal-ack";
pub const CLOSE: &str = "oop.close";
pub const CLOSE_ACK: &str = "oop.close-ack";
pub const CONTROL_NAMES: [&str; 7] = [
    DATA_ACK,
    COMMAND,
    COMMAND_ACK,
    SIGNAL,
    SIGNAL_ACK,
    CLOSE,
    CLOSE_ACK,
];

/// The stream of a Data packet: `Default`, or `PromptResponse` for host responses.
pub const STREAM_DEFAULT: &str = "Default";
pub const STREAM_PROMPT_RESPONSE: &str = "PromptResponse";

/// One OutOfProc packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Fragment bytes (already base64-decoded).
    Data {
        stream: String,
        ps_guid: Guid,
        payload: Vec<u8>,
    },
    /// A control packet: its element name and PSGuid.
    Control { kind: Control, ps_guid: Guid },
}

/// Control packet kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    DataAck,
    Command,
    CommandAck,
    Signal,
    SignalAck,
    Close,
    CloseAck,
}

impl Control {
    pub const ALL: [Control; 7] = [
        Control::DataAck,
        Control::Command,
        Control::CommandAck,
        Control::Signal,
        Control::SignalAck,
        Control::Close,
        Control::CloseAck,
    ];

    pub fn element(self) -> &'static str {
        match self {
            Self::DataAck => "DataAck",
            Self::Command => "Command",
            Self::CommandAck => "CommandAck",
            Self::Signal => "Signal",
            Self::SignalAck => "SignalAck",
            Self::Close => "Close",
            Self::CloseAck => "CloseAck",
        }
    }

    /// The structured-form name (`oop.data-ack`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::DataAck => DATA_ACK,
            Self::Command => COMMAND,
            Self::CommandAck => COMMAND_ACK,
            Self::Signal => SIGNAL,
            Self::SignalAck => SIGNAL_ACK,
            Self::Close => CLOSE,
            Self::CloseAck => CLOSE_ACK,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    fn from_element(el: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.element() == el)
    }
}

impl Packet {
    /// The line, with its `\n`.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Packet::Data {
                stream,
                ps_guid,
                payload,
            } => format!(
                "<Data Stream='{stream}' PSGuid='{ps_guid}'>{}</Data>\n",
                base64::engine::general_purpose::STANDARD.encode(payload)
            )
            .into_bytes(),
            Packet::Control { kind, ps_guid } => {
                format!("<{} PSGuid='{ps_guid}' />\n", kind.element()).into_bytes()
            }
        }
    }

    /// Parse one line (without its line ending); `offset` is the line's absolute stream offset.
    pub fn decode(line: &[u8], offset: usize) -> Result<Self, DecodeError> {
        match decode_plain_data(line) {
            Some((p, _)) => Ok(p),
            None => Self::decode_xml(line, offset),
        }
    }

    /// [`Packet::decode`] through the XML reader (every line shape, every error).
    fn decode_xml(line: &[u8], offset: usize) -> Result<Self, DecodeError> {
        let err = |field: &'static str, reason: String| DecodeError::invalid(offset, field, reason);
        let text = std::str::from_utf8(line).map_err(|e| err("oop", format!("line is not UTF-8: {e}")))?;
        let mut reader = quick_xml::Reader::from_str(text);
        reader.config_mut().trim_text(false);
        let mut element: Option<(String, Vec<(String, String)>)> = None;
        let mut body = String::new();
        let mut closed = false;
        loop {
            match reader
                .read_event()
                .map_err(|e| err("oop", format!("malformed packet: {e}")))?
            {
                Event::Start(e) if element.is_none() => {
                    element = Some(attributes(&e).map_err(|r| err("oop", r))?)
                }
                Event::Empty(e) if element.is_none() => {
                    element = Some(attributes(&e).map_err(|r| err("oop", r))?);
                    closed = true;
                }
                Event::End(_) if element.is_some() && !closed => closed = true,
                Event::Text(t) if element.is_some() && !closed => {
                    body.push_str(&t.unescape().map_err(|e| err("oop.data", e.to_string()))?);
                }
                Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
                Event::Eof => break,
                _ => return Err(err("oop", "a line holds exactly one packet element".into())),
            }
        }
        let (name, attrs) = element.ok_or_else(|| err("oop", "empty line".into()))?;
        if !closed {
            return Err(err("oop", format!("<{name}> is not closed on its line")));
        }
        let get = |k: &str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        let ps_guid =
            Guid::parse(get("PSGuid").ok_or_else(|| err("oop.psGuid", format!("<{name}> lacks PSGuid")))?)
                .map_err(|r| err("oop.psGuid", r))?;
        if name == "Data" {
            let stream = get("Stream")
                .ok_or_else(|| err("oop.stream", "<Data> lacks Stream".into()))?
                .to_owned();
            let clean: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let payload = base64::engine::general_purpose::STANDARD
                .decode(clean)
                .map_err(|e| err("oop.data", format!("Data is not base64: {e}")))?;
            return Ok(Packet::Data {
                stream,
                ps_guid,
                payload,
            });
        }
        let kind =
            Control::from_element(&name).ok_or_else(|| err("oop", format!("unknown packet <{name}>")))?;
        if !body.trim().is_empty() {
            return Err(err("oop", format!("<{name}> carries no text")));
        }
        Ok(Packet::Control { kind, ps_guid })
    }
}

/// Base64 of a byte sequence given in pieces, appended to a string: the same text as encoding the
/// pieces concatenated (groups of 3 bytes that straddle two pieces are carried over).
#[derive(Debug, Default)]
struct Base64Run {
    pending: [u8; 3],
    n: usize,
}

impl Base64Run {
    fn push(&mut self, out: &mut String, mut data: &[u8]) {
        let engine = &base64::engine::general_purpose::STANDARD;
        if self.n > 0 {
            let k = (3 - self.n).min(data.len());
            let (head, tail) = data.split_at(k);
            if let Some(dst) = self.pending.get_mut(self.n..self.n + k) {
                dst.copy_from_slice(head);
            }
            self.n += k;
            data = tail;
            if self.n < 3 {
                return;
            }
            engine.encode_string(self.pending, out);
            self.n = 0;
        }
        let (whole, rest) = data.split_at(data.len() / 3 * 3);
        engine.encode_string(whole, out);
        if let Some(dst) = self.pending.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        self.n = rest.len();
    }

    fn finish(self, out: &mut String) {
        if let Some(tail) = self.pending.get(..self.n) {
            base64::engine::general_purpose::STANDARD.encode_string(tail, out);
        }
    }
}

/// Append the `<Data>` line of one fragment (its header and its blob given in pieces) to `out`: the
/// same bytes as [`Packet::encode`] of a Data packet whose payload is the encoded fragment, with the
/// base64 written straight into the line.
pub fn write_data_line(
    out: &mut String,
    stream: &str,
    ps_guid: Guid,
    header: &FragmentHeader,
    blob: &[&[u8]],
) {
    use std::fmt::Write;
    let _ = write!(out, "<Data Stream='{stream}' PSGuid='{ps_guid}'>");
    let mut h = Vec::with_capacity(FRAGMENT_HEADER_LEN);
    header.encode_into(&mut h);
    let mut run = Base64Run::default();
    run.push(out, &h);
    for piece in blob {
        run.push(out, piece);
    }
    run.finish(out);
    out.push_str("</Data>\n");
}

/// Where the parts of a plain Data line lie (see [`decode_plain_data`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainDataLine {
    stream: (usize, usize),
    ps_guid: (usize, usize),
    body: (usize, usize),
}

const PLAIN_DATA_OPEN: &[u8] = b"<Data Stream='";
const PLAIN_DATA_GUID: &[u8] = b"' PSGuid='";
const PLAIN_DATA_CLOSE: &[u8] = b"</Data>";

/// The common Data line, `<Data Stream='S' PSGuid='G'>BASE64</Data>` with an alphanumeric stream
/// name and nothing but base64 between the tags, decoded without the XML reader: the same packet as
/// [`Packet::decode`] (a base64 body holds no `<`, `&` or whitespace, so the XML reader would see the
/// same attribute values and text). `None` when the line is anything else, or its base64 or PSGuid
/// is bad: the full parser then decides, with its exact errors.
pub fn decode_plain_data(line: &[u8]) -> Option<(Packet, PlainDataLine)> {
    let rest = line.strip_prefix(PLAIN_DATA_OPEN)?;
    let stream_start = PLAIN_DATA_OPEN.len();
    let q = rest.iter().position(|b| *b == b'\'')?;
    let (stream, rest) = rest.split_at(q);
    if stream.is_empty() || !stream.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let rest = rest.strip_prefix(PLAIN_DATA_GUID)?;
    let guid_start = stream_start + q + PLAIN_DATA_GUID.len();
    let q = rest.iter().position(|b| *b == b'\'')?;
    let (guid, rest) = rest.split_at(q);
    let rest = rest.strip_prefix(b"'>")?;
    let body_start = guid_start + q + 2;
    let body = rest.strip_suffix(PLAIN_DATA_CLOSE)?;
    let ps_guid = Guid::parse(std::str::from_utf8(guid).ok()?).ok()?;
    // Decoding succeeds only when the body is all base64 alphabet (and padding).
    let payload = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    let packet = Packet::Data {
        stream: std::str::from_utf8(stream).ok()?.to_owned(),
        ps_guid,
        payload,
    };
    let layout = PlainDataLine {
        stream: (stream_start, stream_start + stream.len()),
        ps_guid: (guid_start, guid_start + guid.len()),
        body: (body_start, body_start + body.len()),
    };
    Some((packet, layout))
}

impl PlainDataLine {
    /// The spans [`line_spans`] gives for this line, from the known layout (no search).
    pub fn spans(&self, offset: usize, line: &[u8]) -> Vec<peercheck_wire::FieldSpan> {
        let text =
            |(a, b): (usize, usize)| String::from_utf8_lossy(line.get(a..b).unwrap_or_default()).into_owned();
        let span = |(a, b): (usize, usize), name: &str, value: String| peercheck_wire::FieldSpan {
            start: offset + a,
            end: offset + b,
            name: name.into(),
            value,
        };
        vec![
            span(self.stream, "oop.stream", text(self.stream)),
            span(self.ps_guid, "oop.psGuid", text(self.ps_guid)),
            span(
                self.body,
                "oop.payload",
                format!("{} base64 characters", self.body.1 - self.body.0),
            ),
        ]
    }
}

/// The first `needle` byte in `hay`: 32-byte blocks are tested whole (vector compares), then the
/// block that holds it is searched.
pub(crate) fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    const BLOCK: usize = 32;
    let mut blocks = hay.chunks_exact(BLOCK);
    let mut at = 0;
    for block in &mut blocks {
        if block.iter().fold(false, |any, &b| any | (b == needle)) {
            return block.iter().position(|&b| b == needle).map(|p| at + p);
        }
        at += BLOCK;
    }
    blocks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|p| at + p)
}

fn attributes(e: &BytesStart<'_>) -> Result<(String, Vec<(String, String)>), String> {
    let name = std::str::from_utf8(e.name().as_ref())
        .map_err(|x| x.to_string())?
        .to_owned();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|x| x.to_string())?;
        let k = std::str::from_utf8(a.key.as_ref())
            .map_err(|x| x.to_string())?
            .to_owned();
        attrs.push((k, a.unescape_value().map_err(|x| x.to_string())?.into_owned()));
    }
    Ok((name, attrs))
}

/// Spans of one packet line at absolute `offset`: `oop.stream`, `oop.psGuid` (attribute values) and
/// `oop.payload` (the base64 text of a Data packet).
pub fn line_spans(offset: usize, line: &[u8]) -> Vec<peercheck_wire::FieldSpan> {
    // The first occurrence of `needle` at or after `from`: a scan for its first byte, then a compare.
    let find = |needle: &[u8], from: usize| {
        let (&first, _) = needle.split_first()?;
        let mut at = from;
        loop {
            let rest = line.get(at..)?;
            let p = find_byte(rest, first)?;
            if rest.get(p..p + needle.len()) == Some(needle) {
                return Some(at + p);
            }
            at += p + 1;
        }
    };
    let text = |a: usize, b: usize| String::from_utf8_lossy(line.get(a..b).unwrap_or_default()).into_owned();
    let mut spans = Vec::new();
    for (attr, name) in [(&b"Stream="[..], "oop.stream"), (&b"PSGuid="[..], "oop.psGuid")] {
        if let Some(at) = find(attr, 0) {
            let q = at + attr.len();
            if let Some(&quote) = line.get(q) {
                if let Some(end) = find(&[quote], q + 1) {
                    spans.push(peercheck_wire::FieldSpan {
                        start: offset + q + 1,
                        end: offset + end,
                        name: name.into(),
                        value: text(q + 1, end),
                    });
                }
            }
        }
    }
    if line.starts_with(b"<Data") {
        if let (Some(gt), Some(close)) = (find(b">", 0), find(b"</Data>", 0)) {
            if gt < close {
                spans.push(peercheck_wire::FieldSpan {
                    start: offset + gt + 1,
                    end: offset + close,
                    name: "oop.payload".into(),
                    value: format!("{} base64 characters", close - gt - 1),
                });
            }
        }
    }
    spans
}

/// One line: absolute offset, text without the line ending, raw bytes with it.
pub type Line = (usize, Vec<u8>, Vec<u8>);

/// One line as [`LineSplitter::next_raw_line`] gives it: absolute offset, the raw bytes with the
/// line ending, and the length of the text without it (`raw[..len]`).
pub type RawLine = (usize, Vec<u8>, usize);

/// Splits a byte stream into lines, enforcing [`MAX_OOP_LINE`].
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
    pos: usize,
    base: usize,
    /// Bytes after `pos` already searched for a line end (a long line arrives in many reads).
    scanned: usize,
}

impl LineSplitter {
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.base += self.pos;
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete line: (absolute offset, line without `\r\n`/`\n`, raw bytes with it).
    pub fn next_line(&mut self) -> Result<Option<Line>, DecodeError> {
        Ok(self.next_raw_line()?.map(|(offset, raw, len)| {
            let line = raw.get(..len).unwrap_or_default().to_vec();
            (offset, line, raw)
        }))
    }

    /// [`LineSplitter::next_line`] with one copy of the line instead of two: the text is
    /// `raw[..len]`. Blank lines are skipped; each byte is searched for the line end once.
    pub fn next_raw_line(&mut self) -> Result<Option<RawLine>, DecodeError> {
        loop {
            let rest = self.buf.get(self.pos..).unwrap_or(&[]);
            let offset = self.base + self.pos;
            let from = self.scanned.min(rest.len());
            let Some(nl) = find_byte(rest.get(from..).unwrap_or_default(), b'\n').map(|p| from + p) else {
                self.scanned = rest.len();
                MAX_OOP_LINE.check(rest.len() as u64, offset, "oop.line")?;
                return Ok(None);
            };
            self.scanned = 0;
            MAX_OOP_LINE.check(nl as u64, offset, "oop.line")?;
            let raw = rest.get(..=nl).unwrap_or_default();
            let mut line = raw.get(..nl).unwrap_or_default();
            if let Some(l) = line.strip_suffix(b"\r") {
                line = l;
            }
            let len = line.len();
            let blank = line.iter().all(u8::is_ascii_whitespace);
            let raw = if blank { Vec::new() } else { raw.to_vec() };
            self.pos += nl + 1;
            if blank {
                continue;
            }
            return Ok(Some((offset, raw, len)));
        }
    }

    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.buffered() {
            0 => Ok(()),
            n => Err(DecodeError::new(
                self.base + self.pos,
                "oop.line",
                DecodeErrorKind::Truncated {
                    needed: n + 1,
                    available: n,
                },
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::cast_possible_truncation
    )]
    use super::*;

    #[test]
    fn packets_round_trip() {
        let g = Guid::from_u128(0xABCD);
        let p = Packet::Data {
            stream: STREAM_DEFAULT.into(),
            ps_guid: g,
            payload: vec![1, 2, 3],
        };
        let line = p.encode();
        assert_eq!(
            String::from_utf8(line.clone()).unwrap(),
            format!("<Data Stream='Default' PSGuid='{g}'>AQID</Data>\n")
        );
        assert_eq!(Packet::decode(&line[..line.len() - 1], 0).unwrap(), p);
        for kind in Control::ALL {
            let p = Packet::Control { kind, ps_guid: g };
            let l = p.encode();
            assert_eq!(Packet::decode(&l[..l.len() - 1], 0).unwrap(), p);
            assert_eq!(Control::from_name(kind.name()), Some(kind));
        }
        let accepted = "<DataAck PSGuid=\"00000000-0000-0000-0000-000000000000\"></DataAck>";
        assert!(Packet::decode(accepted.as_bytes(), 0).is_ok());
    }

    #[rstest::rstest]
    #[case("<Data PSGuid='00000000-0000-0000-0000-000000000000'>AA==</Data>", "Stream")]
    #[case(
        "<Data Stream='Default' PSGuid='00000000-0000-0000-0000-000000000000'>!!</Data>",
        "base64"
    )]
    #[case("<Bogus PSGuid='00000000-0000-0000-0000-000000000000' />", "unknown packet")]
    #[case("<Close />", "PSGuid")]
    #[case("<Close PSGuid='xyz' />", "GUID")]
    #[case("<Close PSGuid='00000000-0000-0000-0000-000000000000' /><Close PSGuid='00000000-0000-0000-0000-000000000000' />", "exactly one")]
    #[case(
        "<Data Stream='Default' PSGuid='00000000-0000-0000-0000-000000000000'>AA==",
        "not closed"
    )]
    fn bad_packets_are_errors(#[case] line: &str, #[case] reason: &str) {
        let e = Packet::decode(line.as_bytes(), 0).unwrap_err();
        assert!(e.to_string().contains(reason), "{e}");
    }

    #[test]
    fn line_limit_at_n_and_n_plus_one() {
        let n = MAX_OOP_LINE.max as usize;
        let mut s = LineSplitter::default();
        s.push(&vec![b'a'; n]);
        assert!(s.next_line().unwrap().is_none());
        s.push(b"\n");
        assert_eq!(s.next_line().unwrap().unwrap().1.len(), n);
        let mut s = LineSplitter::default();
        s.push(&vec![b'a'; n + 1]);
        assert!(s.next_line().is_err());
    }

    #[test]
    fn line_spans_name_attributes_and_payload() {
        let line = b"<Data Stream='Default' PSGuid='00000000-0000-0000-0000-000000000000'>AQID</Data>";
        let spans = line_spans(100, line);
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["oop.stream", "oop.psGuid", "oop.payload"]);
        assert_eq!(
            (spans[0].start, spans[0].end, spans[0].value.as_str()),
            (114, 121, "Default")
        );
        assert_eq!(&line[spans[2].start - 100..spans[2].end - 100], b"AQID");
        assert!(line_spans(0, b"<Close />").is_empty());
    }

    /// The Data line written from pieces is [`Packet::encode`] of the encoded fragment, however the
    /// blob is cut (base64 groups straddling pieces).
    #[test]
    fn data_line_from_pieces_is_the_encoded_packet() {
        let g = Guid::from_u128(0x1234_5678);
        let blob: Vec<u8> = (0..100u32).map(|i| (i * 7) as u8).collect();
        let h = FragmentHeader {
            object_id: 3,
            fragment_id: 1,
            flags: 2,
            blob_length: blob.len() as u32,
        };
        let mut payload = Vec::new();
        h.encode_into(&mut payload);
        payload.extend_from_slice(&blob);
        for stream in [STREAM_DEFAULT, STREAM_PROMPT_RESPONSE] {
            let want = Packet::Data {
                stream: stream.into(),
                ps_guid: g,
                payload: payload.clone(),
            }
            .encode();
            for a in 0..=blob.len().min(7) {
                for b in a..=blob.len().min(a + 5) {
                    let pieces = [&blob[..a], &blob[a..b], &blob[b..]];
                    let mut out = String::from("kept");
                    write_data_line(&mut out, stream, g, &h, &pieces);
                    assert_eq!(&out.as_bytes()[4..], &want[..], "cuts {a} {b}");
                }
            }
        }
    }

    /// The plain-line fast path gives the packet and the spans of the full parser, and declines
    /// every line it does not fully understand (the parser then reports its own error).
    #[rstest::rstest]
    #[case(
        "<Data Stream='Default' PSGuid='00000000-0000-0000-0000-0000000000ab'>AQID</Data>",
        true
    )]
    #[case(
        "<Data Stream='PromptResponse' PSGuid='{00000000-0000-0000-0000-0000000000ab}'></Data>",
        true
    )]
    #[case(
        "<Data Stream='Default' PSGuid='00000000-0000-0000-0000-0000000000ab'>AQ==</Data>",
        true
    )]
    #[case(
        "<Data Stream='Default' PSGuid='00000000-0000-0000-0000-0000000000ab'>AQ ID</Data>",
        false
    )]
    #[case(
        "<Data Stream='Default' PSGuid='00000000-0000-0000-0000-0000000000ab'>AQ&#73;D</Data>",
        false
    )]
    #[case(
        "<Data Stream='De fault' PSGuid='00000000-0000-0000-0000-0000000000ab'>AQID</Data>",
        false
    )]
    #[case(
        "<Data Stream='Default' PSGuid='00000000-0000-0000-0000-0000000000ab'>!!</Data>",
        false
    )]
    #[case("<Data Stream='Default' PSGuid='xyz'>AQID</Data>", false)]
    #[case(
        "<Data Stream=\"Default\" PSGuid='00000000-0000-0000-0000-0000000000ab'>AQID</Data>",
        false
    )]
    #[case(
        "<Data Stream='Default' PSGuid='00000000-0000-0000-0000-0000000000ab'>AQID</Data> ",
        false
    )]
    #[case(
        "<Data Stream='Default' PSGuid='00000000-0000-0000-0000-0000000000ab'>AQID</Data><Data>",
        false
    )]
    #[case("<Close PSGuid='00000000-0000-0000-0000-000000000000' />", false)]
    fn plain_data_lines_match_the_parser(#[case] line: &str, #[case] plain: bool) {
        let line = line.as_bytes();
        let fast = decode_plain_data(line);
        assert_eq!(fast.is_some(), plain);
        if let Some((p, layout)) = fast {
            assert_eq!(Ok(p), Packet::decode_xml(line, 0));
            assert_eq!(layout.spans(9, line), line_spans(9, line));
        }
    }

    #[test]
    fn raw_lines_and_lines_agree_and_each_byte_is_searched_once() {
        let text = b"\r\n<a/>\r\n  \n<bb/>\n<c/>";
        for step in [1, 2, 5, text.len()] {
            let (mut a, mut b) = (LineSplitter::default(), LineSplitter::default());
            let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
            for chunk in text.chunks(step) {
                a.push(chunk);
                b.push(chunk);
                while let Some(l) = a.next_line().unwrap() {
                    got_a.push(l);
                }
                while let Some((off, raw, len)) = b.next_raw_line().unwrap() {
                    got_b.push((off, raw[..len].to_vec(), raw));
                }
            }
            assert_eq!(got_a, got_b, "step {step}");
            assert_eq!(got_a.len(), 2);
            assert_eq!(got_a[1], (11, b"<bb/>".to_vec(), b"<bb/>\n".to_vec()));
            assert_eq!(a.buffered(), 4);
        }
        // A line that never ends is over the limit at N+1 bytes however it arrives.
        let n = MAX_OOP_LINE.max as usize;
        let mut s = LineSplitter::default();
        for _ in 0..n / 4096 {
            s.push(&[b'a'; 4096]);
            assert!(s.next_raw_line().unwrap().is_none());
        }
        s.push(&vec![b'a'; n % 4096]);
        assert!(s.next_raw_line().unwrap().is_none());
        s.push(b"a");
        assert!(s.next_raw_line().is_err());
    }

    #[test]
    fn find_byte_finds_the_first_in_and_across_blocks() {
        for len in [0usize, 1, 31, 32, 33, 65, 100] {
            let hay = vec![b'x'; len];
            assert_eq!(find_byte(&hay, b'\n'), None);
            for at in 0..len {
                let mut h = hay.clone();
                h[at] = b'\n';
                if at + 1 < len {
                    h[len - 1] = b'\n';
                }
                assert_eq!(find_byte(&h, b'\n'), Some(at), "len {len} at {at}");
            }
        }
    }

    #[test]
    fn crlf_and_blank_lines() {
        let mut s = LineSplitter::default();
        s.push(b"\r\n<a/>\r\n<b/>");
        let (off, line, raw) = s.next_line().unwrap().unwrap();
        assert_eq!((off, line.as_slice(), raw.len()), (2, &b"<a/>"[..], 6));
        assert!(s.next_line().unwrap().is_none());
        assert!(s.finish().is_err());
    }
}
