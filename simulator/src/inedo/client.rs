//! The client: handshake, one Get Agent Root Path, check the answer, finish.

use super::{drain_tls, send, session, Dice, CLIENT_TIMEOUT};
use crate::peer::{Output, PeerConfig};
use peercheck_inedo::config::Version;
use peercheck_inedo::crypto::Padding;
use peercheck_inedo::handshake::PROTOCOL_ID;
use peercheck_inedo::message::{GetAgentRootPath, Handshake, Message, Unknown};
use peercheck_inedo::types::{meta_command, EncryptionMode, HexBytes, Iv};
use peercheck_inedo::InedoSession;
use peercheck_wire::{Decoded, Guid, Role, WireSession};
use std::time::Duration;

#[derive(Debug)]
pub struct ClientPeer {
    session: InedoSession,
    dice: Dice,
    expected_path: Option<String>,
    session_id: i32,
    misbehave: Option<String>,
    done: bool,
}

impl ClientPeer {
    pub fn new(config: &PeerConfig) -> Result<Self, String> {
        let session = session(config, Role::Client, &[])?;
        let mut dice = Dice::new(config.seed);
        let session_id = match config.param("session-id") {
            Some(s) => s.parse().map_err(|e| format!("session-id: {e}"))?,
            None => dice.i32(),
        };
        Ok(ClientPeer {
            session,
            dice,
            expected_path: config.param("root-path").map(str::to_owned),
            session_id,
            misbehave: config.misbehave.clone(),
            done: false,
        })
    }

    fn bad(&self, name: &str) -> bool {
        self.misbehave.as_deref() == Some(name)
    }

    fn finish(&mut self, out: &mut Vec<Output>, ok: bool, summary: String) {
        if self.done {
            return;
        }
        self.done = true;
        out.push(Output::Log(summary.clone()));
        out.push(Output::Finished { ok, summary });
        out.push(Output::Close {
            reason: "client script done".to_owned(),
        });
    }

    fn handshake(&mut self) -> Result<Vec<u8>, String> {
        let mut h = Handshake::default();
        if self.bad("inedo-guid-text-order") {
            // The 16 bytes as the text reads, big-endian: what `Guid.ToString()` order gives.
            let text = PROTOCOL_ID.to_string().replace('-', "");
            let raw: [u8; 16] = hex::decode(text)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or("guid")?;
            h.protocol_id = Guid::from_dotnet_bytes(raw);
        }
        match self.session.protocol_version() {
            Version::V1 => {
                h.protocol_version = Some(1000);
                h.session_id = Some(self.session_id);
            }
            Version::V2 => {
                h.min_version = Some(1000);
                h.max_version = Some(2000);
            }
        }
        self.session
            .encode_message(Message::Handshake(h))
            .map_err(|e| e.to_string())
    }

    /// Get Agent Root Path, or a hand-made variant of it for the framing misbehaviours.
    fn ask_root_path(&mut self, out: &mut Vec<Output>) -> Result<(), String> {
        let label = "meta.get-agent-root-path";
        let aes = self.session.encryption_mode() == EncryptionMode::AES;
        let v2 = self.session.protocol_version() == Version::V2;
        let code = meta_command::GET_AGENT_ROOT_PATH.to_le_bytes();
        // The v1 header (agent type 0, then the command); v2 drops the agent type (ERRATA Inedo-10).
        let mut header = if v2 { Vec::new() } else { vec![0u8] };
        header.extend_from_slice(&code);
        let bytes = if v2 && self.bad("inedo-v2-keeps-agent-type") {
            let mut v1_header = vec![0u8];
            v1_header.extend_from_slice(&code);
            if aes {
                let mut plaintext = self.dice.iv().0.to_vec();
                plaintext.extend_from_slice(&v1_header);
                self.session
                    .seal_custom(&plaintext, Padding::Pkcs7)
                    .map_err(|e| e.to_string())?
            } else {
                self.raw_frame(0, &v1_header)?
            }
        } else if aes && self.bad("inedo-client-ignores-encryption") {
            self.raw_frame(0, &header)?
        } else if !aes && self.bad("inedo-client-length-counts-header") {
            let len = i32::try_from(header.len()).map_err(|e| e.to_string())?;
            self.raw_frame(len, &header)?
        } else {
            let next_iv = aes.then(|| self.dice.iv());
            let message = Message::GetAgentRootPath(GetAgentRootPath { next_iv });
            let bytes = self.session.encode_message(message).map_err(|e| e.to_string())?;
            send(out, label, bytes);
            return Ok(());
        };
        self.session.expect_root_path_reply();
        send(out, label, bytes);
        Ok(())
    }

    /// A plain-layout frame by hand: the length as given, then the header; through TLS if up.
    fn raw_frame(&mut self, length: i32, header: &[u8]) -> Result<Vec<u8>, String> {
        let mut b = length.to_le_bytes().to_vec();
        b.extend_from_slice(header);
        self.raw(b)
    }

    fn raw(&mut self, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        self.session
            .encode_message(Message::Unknown(Unknown {
                data: HexBytes(bytes),
            }))
            .map_err(|e| e.to_string())
    }

    fn on_message(&mut self, d: &Decoded, out: &mut Vec<Output>) -> Result<(), String> {
        out.push(Output::Log(format!("received {} {}", d.name, d.fields)));
        match d.name.as_str() {
            "handshake-reply" => self.ask_root_path(out),
            "meta.get-agent-root-path-reply" => {
                let path = d
                    .fields
                    .get("path")
                    .and_then(|p| p.as_str())
                    .unwrap_or_default()
                    .to_owned();
                let reused = self.session.encryption_mode() == EncryptionMode::AES
                    && d.fields
                        .get("nextIv")
                        .and_then(|v| v.as_str())
                        .and_then(|t| Iv::parse(t).ok())
                        == self.session.last_recv_iv();
                let (ok, summary) = match &self.expected_path {
                    _ if reused => (
                        false,
                        "the agent reused an IV: nextIv equals the frame's own IV".to_owned(),
                    ),
                    Some(want) if *want != path => (false, format!("root path `{path}`, expected `{want}`")),
                    None if path.is_empty() => (false, "empty root path".to_owned()),
                    _ => (true, format!("agent root path `{path}`")),
                };
                self.finish(out, ok, summary);
                Ok(())
            }
            other => {
                self.finish(
                    out,
                    false,
                    format!("unexpected {other} from the agent: {}", d.fields),
                );
                Ok(())
            }
        }
    }
}

impl crate::peer::Peer for ClientPeer {
    fn start(&mut self, _now: Duration) -> Vec<Output> {
        let mut out = Vec::new();
        match self.handshake() {
            Ok(bytes) => send(&mut out, "handshake", bytes),
            Err(e) => self.finish(&mut out, false, format!("cannot encode the handshake: {e}")),
        }
        out
    }

    fn input(&mut self, _now: Duration, bytes: &[u8]) -> Vec<Output> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        self.session.push_received(bytes);
        loop {
            drain_tls(&mut self.session, &mut out);
            match self.session.next_received() {
                Ok(Some(d)) => {
                    if let Err(e) = self.on_message(&d, &mut out) {
                        self.finish(&mut out, false, format!("internal error: {e}"));
                    }
                }
                Ok(None) => break,
                Err(e) => self.finish(&mut out, false, format!("malformed message from the agent: {e}")),
            }
            if self.done {
                break;
            }
        }
        drain_tls(&mut self.session, &mut out);
        out
    }

    fn timer(&mut self, now: Duration) -> Vec<Output> {
        let mut out = Vec::new();
        if now >= CLIENT_TIMEOUT {
            let pending = self
                .session
                .finish()
                .err()
                .map(|e| format!(" (partial message: {e})"))
                .unwrap_or_default();
            self.finish(
                &mut out,
                false,
                format!("no root path from the agent within 30 s{pending}"),
            );
        }
        out
    }

    fn next_deadline(&self) -> Option<Duration> {
        (!self.done).then_some(CLIENT_TIMEOUT)
    }

    fn peer_closed(&mut self, _now: Duration) -> Vec<Output> {
        let mut out = Vec::new();
        let pending = self
            .session
            .finish()
            .err()
            .map(|e| format!(" (partial message: {e})"))
            .unwrap_or_default();
        self.finish(
            &mut out,
            false,
            format!("the agent closed the connection before answering{pending}"),
        );
        out
    }
}
