//! The agent: the protocol server.

use super::{drain_tls, is, send, session, Dice, DEFAULT_ROOT_PATH, HANDSHAKE_TIMEOUT};
use crate::peer::{Output, PeerConfig};
use peercheck_inedo::config::Version;
use peercheck_inedo::crypto::Padding;
use peercheck_inedo::dotnet_string::encode_string;
use peercheck_inedo::handshake::{V2_MAX_VERSION, V2_MIN_VERSION};
use peercheck_inedo::message::{
    GetAgentRootPathReply, Handshake, HandshakeReply, Message, Response, Unknown,
};
use peercheck_inedo::types::{meta_command, EncryptionMode, HexBytes, Iv};
use peercheck_inedo::InedoSession;
use peercheck_wire::{Decoded, Role, WireSession};
use std::time::Duration;

#[derive(Debug)]
pub struct AgentPeer {
    session: InedoSession,
    dice: Dice,
    root_path: String,
    misbehave: Option<String>,
    closed: bool,
}

impl AgentPeer {
    pub fn new(config: &PeerConfig) -> Result<Self, String> {
        let mut overrides = Vec::new();
        if is(config, "inedo-server-version-single-int") {
            overrides.push(("server-version", "int32"));
        }
        if is(config, "inedo-shared-iv-chain") {
            overrides.push(("iv-chain", "shared"));
        }
        let mut session = session(config, Role::Server, &overrides)?;
        if session.encryption_mode() == EncryptionMode::AES && config.param("key").is_none() {
            return Err("encryption=aes needs key=<32 or 64 hex digits>".to_owned());
        }
        session.set_check_protocol_id(!is(config, "inedo-accept-bad-guid"));
        if is(config, "inedo-no-padding") {
            session.set_padding(Padding::Zero);
        }
        Ok(AgentPeer {
            session,
            dice: Dice::new(config.seed),
            root_path: config.param("root-path").unwrap_or(DEFAULT_ROOT_PATH).to_owned(),
            misbehave: config.misbehave.clone(),
            closed: false,
        })
    }

    fn bad(&self, name: &str) -> bool {
        self.misbehave.as_deref() == Some(name)
    }

    fn close(&mut self, out: &mut Vec<Output>, reason: String) {
        out.push(Output::Log(reason.clone()));
        out.push(Output::Close { reason });
        self.closed = true;
    }

    /// The next IV for an AES frame: fresh from the seed, or the current one when reusing IVs.
    fn next_iv(&mut self) -> Option<Iv> {
        if self.session.encryption_mode() != EncryptionMode::AES {
            return None;
        }
        Some(if self.bad("inedo-iv-reused") {
            self.session.send_iv()
        } else {
            self.dice.iv()
        })
    }

    fn reply(&mut self, h: &Handshake, out: &mut Vec<Output>) -> Result<(), String> {
        let mut reply = HandshakeReply::default();
        match self.session.protocol_version() {
            Version::V1 => {
                if h.protocol_version != Some(1000) {
                    out.push(Output::Log(format!(
                        "handshake announces protocol version {:?}",
                        h.protocol_version
                    )));
                }
                reply.session_id = h.session_id;
            }
            Version::V2 => {
                // ERRATA Inedo-10: pick the highest version both sides speak.
                let min = h.min_version.unwrap_or(V2_MIN_VERSION).max(V2_MIN_VERSION);
                let chosen = h.max_version.unwrap_or(V2_MAX_VERSION).min(V2_MAX_VERSION);
                if chosen < min {
                    self.close(
                        out,
                        format!(
                            "no common protocol version (client {:?}..{:?})",
                            h.min_version, h.max_version
                        ),
                    );
                    return Ok(());
                }
                reply.protocol_version = Some(chosen);
            }
        }
        if self.session.encryption_mode() == EncryptionMode::AES {
            reply.iv = Some(self.dice.iv());
        }
        let mut bytes = self
            .session
            .encode_message(Message::HandshakeReply(reply))
            .map_err(|e| e.to_string())?;
        if self.bad("inedo-iv-always-in-reply") && self.session.encryption_mode() != EncryptionMode::AES {
            // Insert an IV after the mode byte although the mode is not AES.
            let iv = self.dice.iv();
            let tail = bytes.split_off(1);
            bytes.extend_from_slice(&iv.0);
            bytes.extend(tail);
        }
        send(out, "handshake-reply", bytes);
        out.push(Output::Log(format!(
            "handshake answered, encryption {}",
            self.session.encryption_mode()
        )));
        Ok(())
    }

    /// A plain-layout frame written by hand (for the framing misbehaviours), through TLS if up.
    fn raw(&mut self, out: &mut Vec<Output>, label: &str, bytes: Vec<u8>) -> Result<(), String> {
        let b = self
            .session
            .encode_message(Message::Unknown(Unknown {
                data: HexBytes(bytes),
            }))
            .map_err(|e| e.to_string())?;
        send(out, label, b);
        Ok(())
    }

    fn answer_root_path(&mut self, out: &mut Vec<Output>) -> Result<(), String> {
        let label = "meta.get-agent-root-path-reply";
        let path = self.root_path.clone();
        let plain = self.session.encryption_mode() != EncryptionMode::AES;
        let code = meta_command::GET_AGENT_ROOT_PATH;
        let data = encode_string(&path).map_err(|e| e.to_string())?;
        let len = |n: usize| i32::try_from(n).map_err(|_| "path too long".to_owned());
        if plain && self.bad("inedo-length-counts-ciphertext-in-plain") {
            let mut b = len(4 + data.len())?.to_le_bytes().to_vec();
            b.extend_from_slice(&code.to_le_bytes());
            b.extend_from_slice(&data);
            return self.raw(out, label, b);
        }
        if plain && self.bad("inedo-data-at-offset-5") {
            let mut b = len(data.len())?.to_le_bytes().to_vec();
            b.push(u8::try_from(code).unwrap_or(3));
            b.extend_from_slice(&data);
            return self.raw(out, label, b);
        }
        let next_iv = self.next_iv();
        let message = if self.bad("inedo-string-length-fixed-int32") {
            let mut d = len(path.len())?.to_le_bytes().to_vec();
            d.extend_from_slice(path.as_bytes());
            Message::Response(Response {
                command: code,
                data: HexBytes(d),
                next_iv,
            })
        } else {
            Message::GetAgentRootPathReply(GetAgentRootPathReply { path, next_iv })
        };
        let bytes = self.session.encode_message(message).map_err(|e| e.to_string())?;
        send(out, label, bytes);
        Ok(())
    }

    fn on_message(&mut self, d: &Decoded, out: &mut Vec<Output>) -> Result<(), String> {
        out.push(Output::Log(format!("received {} {}", d.name, d.fields)));
        match d.name.as_str() {
            "handshake" => {
                let h: Handshake = serde_json::from_value(d.fields.clone()).map_err(|e| e.to_string())?;
                self.reply(&h, out)
            }
            "meta.get-agent-root-path" => self.answer_root_path(out),
            "meta.update-agent" => {
                out.push(Output::Log(
                    "Update Agent ignored: its payload format is not public".to_owned(),
                ));
                Ok(())
            }
            _ => {
                out.push(Output::Log(format!(
                    "no behaviour for {} (product command codes are not public)",
                    d.name
                )));
                Ok(())
            }
        }
    }
}

impl crate::peer::Peer for AgentPeer {
    fn start(&mut self, _now: Duration) -> Vec<Output> {
        vec![Output::Log(format!(
            "inedo agent ({:?}, encryption {}) waiting for a handshake",
            self.session.protocol_version(),
            self.session.encryption_mode()
        ))]
    }

    fn input(&mut self, _now: Duration, bytes: &[u8]) -> Vec<Output> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        self.session.push_received(bytes);
        loop {
            drain_tls(&mut self.session, &mut out);
            match self.session.next_received() {
                Ok(Some(d)) => {
                    if let Err(e) = self.on_message(&d, &mut out) {
                        self.close(&mut out, format!("internal error: {e}"));
                    }
                }
                Ok(None) => break,
                Err(e) if e.field == "protocolId" => {
                    // "If the protocol ID is not valid, the server will immediately disconnect."
                    self.close(&mut out, format!("bad protocol id, disconnecting: {e}"));
                }
                Err(e) => self.close(&mut out, format!("malformed message: {e}")),
            }
            if self.closed {
                break;
            }
        }
        drain_tls(&mut self.session, &mut out);
        out
    }

    fn timer(&mut self, now: Duration) -> Vec<Output> {
        let mut out = Vec::new();
        if !self.closed
            && !self.session.handshake_done()
            && now >= HANDSHAKE_TIMEOUT
            && !self.bad("inedo-no-handshake-timeout")
        {
            self.close(&mut out, "no handshake within 30 s (ERRATA Inedo-11)".to_owned());
        }
        out
    }

    fn next_deadline(&self) -> Option<Duration> {
        (!self.closed && !self.session.handshake_done() && !self.bad("inedo-no-handshake-timeout"))
            .then_some(HANDSHAKE_TIMEOUT)
    }

    fn peer_closed(&mut self, _now: Duration) -> Vec<Output> {
        self.closed = true;
        vec![Output::Log("client closed the connection".to_owned())]
    }
}
