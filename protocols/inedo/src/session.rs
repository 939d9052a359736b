//! The stateful, sans-IO session: handshake → reply → frames, the encryption mode the reply chose,
//! the AES IV chain(s) and the TLS engine.

use crate::config::{Config, IvChain, Phase, Version};
use crate::crypto::Padding;
use crate::dotnet_string::{encode_string, read_string};
use crate::frame::{self, FrameBody};
use crate::message::{
    Command, GetAgentRootPath, GetAgentRootPathReply, HandshakeReply, Message, Response, UpdateAgent,
};
use crate::span_writer::SpanWriter;
use crate::tls::Tls;
use crate::types::{meta_command, AgentType, EncryptionMode, HexBytes, Iv};
use crate::{handshake, reply};
use peercheck_wire::session::split_structured;
use peercheck_wire::{
    DecodeError, Decoded, Direction, EncodeError, FieldSpan, Reader, Role, SessionOptions, WireSession,
};
use std::collections::VecDeque;

/// One connection from one side.
#[derive(Debug)]
pub struct InedoSession {
    cfg: Config,
    role: Role,
    /// This side has written its handshake (client) or reply (server).
    sent_opening: bool,
    /// The other side's handshake (at a server) or reply (at a client) has been decoded.
    received_opening: bool,
    mode: EncryptionMode,
    send_iv: Iv,
    recv_iv: Iv,
    /// The IV the last received AES frame was decrypted with.
    last_recv_iv: Option<Iv>,
    pending_root_path: bool,
    /// Received bytes not yet consumed, and the stream offset of the first one.
    rx: Vec<u8>,
    rx_offset: usize,
    tls: Option<Tls>,
    /// Decrypted TLS application data not yet consumed, and its stream offset (in the plaintext stream).
    plain: Vec<u8>,
    plain_offset: usize,
    outbox: Vec<u8>,
    decoded: VecDeque<Decoded>,
    error: Option<DecodeError>,
    /// The truncation error of the partial message left in the buffer, for `finish`.
    partial: Option<DecodeError>,
    last_sent: Option<SpanWriter>,
    check_protocol_id: bool,
    padding: Padding,
}

fn internal(field: &'static str, reason: String) -> EncodeError {
    EncodeError::new(field, reason)
}

impl InedoSession {
    pub fn new(options: &SessionOptions) -> Result<Self, String> {
        let cfg = Config::from_options(options)?;
        let frames = cfg.phase == Phase::Frames;
        let iv = cfg.iv.unwrap_or(crate::config::DEFAULT_IV);
        if frames && cfg.encryption == EncryptionMode::AES && cfg.key.is_none() {
            return Err("phase=frames with encryption=aes needs key=<hex>".to_owned());
        }
        Ok(InedoSession {
            role: options.role(),
            sent_opening: frames,
            received_opening: frames,
            mode: cfg.encryption,
            send_iv: iv,
            recv_iv: iv,
            last_recv_iv: None,
            pending_root_path: cfg.pending_root_path,
            rx: Vec::new(),
            rx_offset: 0,
            tls: None,
            plain: Vec::new(),
            plain_offset: 0,
            outbox: Vec::new(),
            decoded: VecDeque::new(),
            error: None,
            partial: None,
            last_sent: None,
            check_protocol_id: true,
            padding: Padding::Pkcs7,
            cfg,
        })
    }

    /// The encryption mode in force (from the reply, or the `encryption` param before it).
    pub fn encryption_mode(&self) -> EncryptionMode {
        self.mode
    }

    /// The IV the next frame this side sends will be encrypted with.
    pub fn send_iv(&self) -> Iv {
        self.send_iv
    }

    /// The IV the next received frame will be decrypted with.
    pub fn recv_iv(&self) -> Iv {
        self.recv_iv
    }

    /// The IV the last received AES frame was decrypted with (to spot a peer that reuses IVs).
    pub fn last_recv_iv(&self) -> Option<Iv> {
        self.last_recv_iv
    }

    /// Both openings are through: this side's handshake or reply went out and the other side's
    /// arrived (always true in `phase=frames`).
    pub fn handshake_done(&self) -> bool {
        self.sent_opening && self.received_opening
    }

    pub fn protocol_version(&self) -> Version {
        self.cfg.version
    }

    pub fn is_tls_handshaking(&self) -> bool {
        self.tls.as_ref().is_some_and(Tls::is_handshaking)
    }

    /// Mock peers only: decode a handshake whatever its protocol ID (a server that forgets the check).
    pub fn set_check_protocol_id(&mut self, check: bool) {
        self.check_protocol_id = check;
    }

    /// Mock peers only: a hand-made Get Agent Root Path went out, so type the next command-3
    /// response as its reply.
    pub fn expect_root_path_reply(&mut self) {
        self.pending_root_path = true;
    }

    /// Mock peers only: fill AES frames with zeros instead of PKCS#7 (an encryptor that forgets padding).
    pub fn set_padding(&mut self, padding: Padding) {
        self.padding = padding;
    }

    fn incoming(&self) -> Direction {
        match self.role {
            Role::Client => Direction::ToClient,
            Role::Server => Direction::ToServer,
        }
    }

    /// Mode, IV and TLS from a reply this side sent or received.
    fn apply_reply(&mut self, reply: &HandshakeReply) -> Result<(), String> {
        self.mode = reply.encryption_mode.unwrap_or_default();
        if let Some(iv) = reply.iv {
            self.send_iv = iv;
            self.recv_iv = iv;
        }
        if self.mode == EncryptionMode::SSL {
            // ERRATA Inedo-9: TLS on the same socket, the agent as TLS server.
            let mut tls = match self.role {
                Role::Client => Tls::client()?,
                Role::Server => Tls::server()?,
            };
            self.outbox.extend(tls.take_records()?);
            self.tls = Some(tls);
        }
        Ok(())
    }

    fn advance_send_chain(&mut self, next: Iv) {
        self.send_iv = next;
        if self.cfg.iv_chain == IvChain::Shared {
            self.recv_iv = next;
        }
    }

    fn advance_recv_chain(&mut self, next: Iv) {
        self.recv_iv = next;
        if self.cfg.iv_chain == IvChain::Shared {
            self.send_iv = next;
        }
    }

    fn check_sender(&self, name: &str, sender: Role) -> Result<(), EncodeError> {
        if self.role == sender {
            Ok(())
        } else {
            Err(EncodeError::new(
                "message",
                format!(
                    "`{name}` is sent by the {}, this side is the {}",
                    sender.as_str(),
                    self.role.as_str()
                ),
            ))
        }
    }

    /// The agent-type byte for an outgoing client frame: required in v1 (default meta), absent in v2.
    fn agent_type_for(&self, given: Option<AgentType>) -> Result<Option<AgentType>, EncodeError> {
        match (self.cfg.version, given) {
            (Version::V1, given) => Ok(Some(given.unwrap_or(AgentType::META))),
            (Version::V2, None) => Ok(None),
            (Version::V2, Some(_)) => Err(EncodeError::new(
                "agentType",
                "inedo-v2 client frames have no agent-type byte (ERRATA Inedo-10)",
            )),
        }
    }

    /// Frame a body in the current mode (plain, AES, or plain inside TLS).
    fn encode_frame(&mut self, body: &FrameBody, next_iv: Option<Iv>) -> Result<SpanWriter, EncodeError> {
        match self.mode {
            EncryptionMode::NONE | EncryptionMode::SSL => {
                if next_iv.is_some() {
                    return Err(EncodeError::new(
                        "nextIv",
                        "only AES frames carry the next IV (ERRATA Inedo-7)",
                    ));
                }
                frame::encode_plain(body)
            }
            EncryptionMode::AES => {
                let next = next_iv.unwrap_or_else(|| self.send_iv.successor());
                let plaintext = frame::aes_plaintext(next, body);
                let sealed = self.seal_custom_inner(&plaintext.bytes, self.padding)?;
                self.advance_send_chain(next);
                Ok(sealed)
            }
            other => Err(EncodeError::new(
                "encryptionMode",
                format!("cannot frame in encryption mode {other}"),
            )),
        }
    }

    fn seal_custom_inner(&self, plaintext: &[u8], padding: Padding) -> Result<SpanWriter, EncodeError> {
        let key = self.cfg.key.as_ref().ok_or_else(|| {
            EncodeError::new(
                "key",
                "AES mode needs the pre-shared key: param key=<32 or 64 hex digits>",
            )
        })?;
        frame::seal(key, self.send_iv, plaintext, padding)
    }

    /// Mock peers only: encrypt a hand-made AES plaintext (its first 16 bytes are taken as the next
    /// IV) under the current send IV, and advance the chain as a real frame would.
    pub fn seal_custom(&mut self, plaintext: &[u8], padding: Padding) -> Result<Vec<u8>, EncodeError> {
        let sealed = self.seal_custom_inner(plaintext, padding)?;
        if let Some(next) = plaintext.get(..16).and_then(|b| <[u8; 16]>::try_from(b).ok()) {
            self.advance_send_chain(Iv(next));
        }
        self.finish_encode(sealed)
    }

    /// Route encoded bytes through TLS when it is up, and remember their spans.
    fn finish_encode(&mut self, w: SpanWriter) -> Result<Vec<u8>, EncodeError> {
        let Some(tls) = self.tls.as_mut() else {
            let bytes = w.bytes.clone();
            self.last_sent = Some(w);
            return Ok(bytes);
        };
        tls.send(&w.bytes).map_err(|e| internal("tls", e))?;
        let mut records = std::mem::take(&mut self.outbox);
        records.extend(tls.take_records().map_err(|e| internal("tls", e))?);
        let mut sent = SpanWriter::default();
        if !records.is_empty() {
            sent.put(
                "tls",
                &records,
                format!("TLS records carrying {} plaintext bytes", w.bytes.len()),
            );
        }
        self.last_sent = Some(sent);
        Ok(records)
    }

    /// Encode a typed message (what [`WireSession::encode`] does after parsing the JSON form).
    pub fn encode_message(&mut self, message: Message) -> Result<Vec<u8>, EncodeError> {
        let name = message.name();
        let w = match message {
            Message::Handshake(h) => {
                self.check_sender(name, Role::Client)?;
                let w = handshake::encode(&h, self.cfg.version)?;
                self.sent_opening = true;
                w
            }
            Message::HandshakeReply(r) => {
                self.check_sender(name, Role::Server)?;
                let full = reply::complete(&r, &self.cfg)?;
                let w = reply::encode(&full);
                self.sent_opening = true;
                // The reply itself goes out in clear; TLS starts after it.
                let bytes = w.bytes.clone();
                self.last_sent = Some(w);
                self.apply_reply(&full).map_err(|e| internal("tls", e))?;
                // Bytes the client sent early (a ClientHello in the same read) go to TLS now.
                self.process();
                return Ok(bytes);
            }
            Message::Command(c) => {
                self.check_sender(name, Role::Client)?;
                let body = FrameBody {
                    agent_type: self.agent_type_for(c.agent_type)?,
                    command: c.command,
                    data: c.data.0,
                };
                self.encode_frame(&body, c.next_iv)?
            }
            Message::UpdateAgent(u) => {
                self.check_sender(name, Role::Client)?;
                let body = FrameBody {
                    agent_type: self.agent_type_for(None)?,
                    command: meta_command::UPDATE_AGENT,
                    data: u.data.0,
                };
                self.encode_frame(&body, u.next_iv)?
            }
            Message::GetAgentRootPath(g) => {
                self.check_sender(name, Role::Client)?;
                let body = FrameBody {
                    agent_type: self.agent_type_for(None)?,
                    command: meta_command::GET_AGENT_ROOT_PATH,
                    data: Vec::new(),
                };
                let w = self.encode_frame(&body, g.next_iv)?;
                self.pending_root_path = true;
                w
            }
            Message::Response(r) => {
                self.check_sender(name, Role::Server)?;
                self.encode_frame(
                    &FrameBody {
                        agent_type: None,
                        command: r.command,
                        data: r.data.0,
                    },
                    r.next_iv,
                )?
            }
            Message::GetAgentRootPathReply(r) => {
                self.check_sender(name, Role::Server)?;
                let body = FrameBody {
                    agent_type: None,
                    command: meta_command::GET_AGENT_ROOT_PATH,
                    data: encode_string(&r.path)?,
                };
                let w = self.encode_frame(&body, r.next_iv)?;
                self.pending_root_path = false;
                w
            }
            Message::Unknown(u) => {
                let mut w = SpanWriter::default();
                w.put_blob("raw", &u.data.0);
                w
            }
        };
        self.finish_encode(w)
    }

    // ---- receiving ----

    fn process(&mut self) {
        while self.error.is_none() {
            match self.step() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    self.error = Some(e);
                    break;
                }
            }
        }
    }

    /// Decode at most one message; `Ok(false)` when more bytes are needed.
    fn step(&mut self) -> Result<bool, DecodeError> {
        if !self.received_opening {
            return self.step_opening();
        }
        if let Some(tls) = self.tls.as_mut() {
            if !self.rx.is_empty() {
                let at = self.rx_offset;
                tls.receive(&self.rx, &mut self.plain)
                    .map_err(|e| DecodeError::invalid(at, "tls", e))?;
                self.rx_offset += self.rx.len();
                self.rx.clear();
                let records = tls
                    .take_records()
                    .map_err(|e| DecodeError::invalid(at, "tls", e))?;
                self.outbox.extend(records);
            }
            let buf = std::mem::take(&mut self.plain);
            let out = self.step_frame(&buf, self.plain_offset);
            let used = self.consume_result(&out);
            self.plain = buf.get(used..).unwrap_or(&[]).to_vec();
            self.plain_offset += used;
            return out.map(|d| d.is_some());
        }
        let buf = std::mem::take(&mut self.rx);
        let out = self.step_frame(&buf, self.rx_offset);
        let used = self.consume_result(&out);
        self.rx = buf.get(used..).unwrap_or(&[]).to_vec();
        self.rx_offset += used;
        out.map(|d| d.is_some())
    }

    /// Queue a decoded message and say how many bytes it used.
    fn consume_result(&mut self, out: &Result<Option<Decoded>, DecodeError>) -> usize {
        match out {
            Ok(Some(d)) => {
                self.partial = None;
                self.decoded.push_back(d.clone());
                d.bytes.len()
            }
            _ => 0,
        }
    }

    fn step_opening(&mut self) -> Result<bool, DecodeError> {
        let buf = std::mem::take(&mut self.rx);
        let mut r = Reader::new(&buf).with_base(self.rx_offset).traced();
        let decoded = match self.role {
            Role::Server => {
                handshake::decode(&mut r, self.cfg.version, self.check_protocol_id).map(Message::Handshake)
            }
            Role::Client => reply::decode(&mut r, &self.cfg).map(Message::HandshakeReply),
        };
        let message = match decoded {
            Ok(m) => m,
            Err(e) if e.is_truncation() => {
                self.partial = Some(e);
                self.rx = buf;
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        let used = r.position();
        let spans = r.take_spans();
        let bytes = buf.get(..used).unwrap_or(&[]).to_vec();
        self.rx = buf.get(used..).unwrap_or(&[]).to_vec();
        let offset = self.rx_offset;
        self.rx_offset += used;
        self.received_opening = true;
        self.partial = None;
        if let Message::HandshakeReply(reply) = &message {
            self.apply_reply(reply)
                .map_err(|e| DecodeError::invalid(offset, "tls", e))?;
        }
        self.decoded.push_back(Decoded {
            name: message.name().to_owned(),
            fields: message.fields(),
            offset,
            bytes,
            spans,
        });
        Ok(true)
    }

    fn step_frame(&mut self, buf: &[u8], base: usize) -> Result<Option<Decoded>, DecodeError> {
        if buf.is_empty() {
            return Ok(None);
        }
        match self.decode_frame(buf, base) {
            Err(e) if e.is_truncation() => {
                self.partial = Some(e);
                Ok(None)
            }
            other => other.map(Some),
        }
    }

    fn decode_frame(&mut self, buf: &[u8], base: usize) -> Result<Decoded, DecodeError> {
        let direction = self.incoming();
        let version = self.cfg.version;
        let mut r = Reader::new(buf).with_base(base).traced();
        let mut extra_spans = Vec::new();
        let (body, next_iv, data_offset) = match self.mode {
            EncryptionMode::NONE | EncryptionMode::SSL => {
                let f = frame::decode_plain(&mut r, direction, version)?;
                (f.body, None, Some(f.data_offset))
            }
            EncryptionMode::AES => {
                let ciphertext = frame::read_sealed(&mut r)?;
                let at = base + 4;
                let key = self.cfg.key.as_ref().ok_or_else(|| {
                    DecodeError::invalid(
                        at,
                        "key",
                        "AES mode needs the pre-shared key: param key=<32 or 64 hex digits>",
                    )
                })?;
                let iv = self.recv_iv;
                let plaintext = frame::open(key, iv, ciphertext, at)?;
                let opened = frame::parse_plaintext(&plaintext, direction, version, at, ciphertext.len())?;
                self.last_recv_iv = Some(iv);
                self.advance_recv_chain(opened.next_iv);
                extra_spans = opened.spans;
                (opened.body, Some(opened.next_iv), Some(opened.data_offset))
            }
            other => {
                return Err(DecodeError::invalid(
                    base,
                    "encryptionMode",
                    format!("frames in encryption mode {other} cannot be read (spec: 0 none, 1 SSL, 2 AES)"),
                ))
            }
        };
        let used = r.position();
        let mut spans = r.take_spans();
        spans.extend(extra_spans);
        let message = self.classify(body, next_iv, data_offset, &mut spans)?;
        Ok(Decoded {
            name: message.name().to_owned(),
            fields: message.fields(),
            offset: base,
            bytes: buf.get(..used).unwrap_or(&[]).to_vec(),
            spans,
        })
    }

    /// Type a frame: meta commands by agent type 0 (v1) or command code alone (v2, no agent type on
    /// the wire), the root-path reply by the outstanding request (ERRATA Inedo-8).
    fn classify(
        &mut self,
        body: FrameBody,
        next_iv: Option<Iv>,
        data_offset: Option<usize>,
        spans: &mut Vec<FieldSpan>,
    ) -> Result<Message, DecodeError> {
        match self.incoming() {
            Direction::ToServer => {
                let meta = body.agent_type.is_none_or(|a| a == AgentType::META);
                Ok(match body.command {
                    meta_command::UPDATE_AGENT if meta => Message::UpdateAgent(UpdateAgent {
                        data: HexBytes(body.data),
                        next_iv,
                    }),
                    meta_command::GET_AGENT_ROOT_PATH if meta && body.data.is_empty() => {
                        self.pending_root_path = true;
                        Message::GetAgentRootPath(GetAgentRootPath { next_iv })
                    }
                    _ => Message::Command(Command {
                        agent_type: body.agent_type,
                        command: body.command,
                        data: HexBytes(body.data),
                        next_iv,
                    }),
                })
            }
            Direction::ToClient => {
                if self.pending_root_path && body.command == meta_command::GET_AGENT_ROOT_PATH {
                    let base = data_offset.unwrap_or_default();
                    let mut r = Reader::new(&body.data).with_base(base).traced();
                    let path = read_string(&mut r, "path")
                        .and_then(|p| r.expect_end("path").map(|()| p))
                        .map_err(|e| match e.kind {
                            peercheck_wire::DecodeErrorKind::Truncated { .. } => DecodeError::invalid(
                                e.offset,
                                e.field,
                                format!("the string runs past the end of the frame data: {}", e.kind),
                            ),
                            _ => e,
                        })?;
                    // The string's spans replace the span of the data that holds it.
                    let is_data = |s: &FieldSpan| s.start == base && s.name.ends_with("data");
                    let prefix = spans
                        .iter()
                        .find(|s| is_data(s))
                        .map(|s| s.name.trim_end_matches("data").to_owned())
                        .unwrap_or_default();
                    spans.retain(|s| !is_data(s));
                    spans.extend(r.take_spans().into_iter().map(|s| FieldSpan {
                        name: format!("{prefix}{}", s.name),
                        ..s
                    }));
                    self.pending_root_path = false;
                    Ok(Message::GetAgentRootPathReply(GetAgentRootPathReply {
                        path,
                        next_iv,
                    }))
                } else {
                    Ok(Message::Response(Response {
                        command: body.command,
                        data: HexBytes(body.data),
                        next_iv,
                    }))
                }
            }
        }
    }
}

impl WireSession for InedoSession {
    fn encode(&mut self, message: &serde_json::Value) -> Result<Vec<u8>, EncodeError> {
        let (name, _) = split_structured(message)?;
        let parsed: Message = serde_json::from_value(message.clone())
            .map_err(|e| EncodeError::new(name.to_owned(), format!("not a valid inedo message: {e}")))?;
        self.encode_message(parsed)
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if let Some(tls) = self.tls.as_mut() {
            if let Ok(records) = tls.take_records() {
                self.outbox.extend(records);
            }
        }
        if self.outbox.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.outbox))
        }
    }

    fn push_received(&mut self, bytes: &[u8]) {
        self.rx.extend_from_slice(bytes);
        self.process();
    }

    fn next_received(&mut self) -> Result<Option<Decoded>, DecodeError> {
        if let Some(d) = self.decoded.pop_front() {
            return Ok(Some(d));
        }
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(None),
        }
    }

    fn finish(&mut self) -> Result<(), DecodeError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let left = if self.tls.is_some() && self.received_opening {
            self.plain.len()
        } else {
            self.rx.len()
        };
        if left == 0 {
            return Ok(());
        }
        Err(self.partial.clone().unwrap_or_else(|| {
            DecodeError::invalid(
                self.rx_offset,
                "message",
                format!("{left} byte(s) of a partial message at end of input"),
            )
        }))
    }

    fn annotate_sent(&self, bytes: &[u8]) -> Vec<FieldSpan> {
        match &self.last_sent {
            Some(w) if w.bytes == bytes => w.spans.clone(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
