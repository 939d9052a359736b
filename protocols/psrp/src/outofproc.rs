//! OutOfProc framing: PowerShell's stdin/stdout transport (`pwsh -s`, SSH, named pipes).
//! One XML element per line: `<Data Stream='Default' PSGuid='…'>base64 of fragments</Data>`,
//! `<DataAck PSGuid='…' />`, `<Command …/>`, `<CommandAck …/>`, `<Signal …/>`, `<SignalAck …/>`,
//! `<Close …/>`, `<CloseAck …/>` (DESIGN.md). PSGuid is the pipeline id, all zero for the pool
//! (ERRATA PSRP-3: it must match the PID of the messages carried).

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
    let find = |needle: &[u8], from: usize| {
        line.get(from..)
            .and_then(|rest| rest.windows(needle.len()).position(|w| w == needle))
            .map(|p| p + from)
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

/// Splits a byte stream into lines, enforcing [`MAX_OOP_LINE`].
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
    pos: usize,
    base: usize,
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
        loop {
            let rest = self.buf.get(self.pos..).unwrap_or(&[]);
            let offset = self.base + self.pos;
            let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
                MAX_OOP_LINE.check(rest.len() as u64, offset, "oop.line")?;
                return Ok(None);
            };
            MAX_OOP_LINE.check(nl as u64, offset, "oop.line")?;
            let raw = rest.get(..=nl).unwrap_or_default().to_vec();
            let mut line = rest.get(..nl).unwrap_or_default();
            if let Some(l) = line.strip_suffix(b"\r") {
                line = l;
            }
            let line = line.to_vec();
            self.pos += nl + 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some((offset, line, raw)));
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
