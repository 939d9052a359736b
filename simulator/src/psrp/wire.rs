//! The PSRP peers' transport: builds messages with the codec, frames them (raw fragments or
//! OutOfProc lines) and can deviate on purpose at the wire level for the misbehaviour modes.

use crate::peer::Output;
use peercheck_psrp::fragment::{Fragmenter, FLAG_END};
use peercheck_psrp::header::{Destination, Message, MessageType};
use peercheck_psrp::messages::{encode_structured_owned, encode_value_data, EncodeDefaults};
use peercheck_psrp::outofproc::{Control, Packet, STREAM_DEFAULT, STREAM_PROMPT_RESPONSE};
use peercheck_psrp::session::{frame_message, Framing, PsrpSession};
use peercheck_psrp::ClixmlValue;
use peercheck_wire::{DecodeError, Decoded, Guid, Role, SessionOptions, WireSession};
use serde_json::Value;
use std::collections::BTreeMap;

/// Wire-level deviations (each one a misbehaviour mode).
#[derive(Debug, Clone, Default)]
pub struct WireBugs {
    pub fragment_id_from_1: bool,
    pub no_end_flag: bool,
    pub object_id_zero: bool,
    pub header_le: bool,
    pub blob_length_lies: bool,
    pub types_2013: bool,
    pub no_data_ack: bool,
    pub destination_swapped: bool,
}

/// Session params the codec understands (the rest of `PeerConfig::params` belongs to the peer).
const SESSION_PARAMS: [&str; 6] = [
    "framing",
    "max-fragment-size",
    "rpid",
    "object-id",
    "bom",
    "blob-limit",
];

/// The largest spent Data kept for reuse.
const SCRATCH_CAP: usize = 8 << 20;

#[derive(Debug)]
pub struct Transport {
    pub role: Role,
    pub framing: Framing,
    fragmenter: Fragmenter,
    next_object_id: u64,
    defaults: EncodeDefaults,
    rx: PsrpSession,
    pub bugs: WireBugs,
    /// A spent message Data, reused by [`Transport::send_value`].
    scratch: Vec<u8>,
}

impl Transport {
    pub fn new(
        role: Role,
        profile: Option<&str>,
        params: &BTreeMap<String, String>,
        bugs: WireBugs,
    ) -> Result<Self, String> {
        let mut opts = SessionOptions {
            local_role: Some(role),
            profile: profile.map(str::to_owned),
            ..Default::default()
        };
        for (k, v) in params {
            if SESSION_PARAMS.contains(&k.as_str()) {
                opts.params.insert(k.clone(), v.clone());
            }
        }
        opts.params
            .insert("auto-ack".into(), (!bugs.no_data_ack).to_string());
        let rx = PsrpSession::new(&opts)?;
        let s = rx.settings().clone();
        Ok(Self {
            role,
            framing: s.framing,
            fragmenter: s.fragmenter,
            next_object_id: s.first_object_id,
            defaults: s.defaults,
            rx,
            bugs,
            scratch: Vec::new(),
        })
    }

    pub fn rpid(&self) -> Guid {
        self.defaults.rpid
    }

    pub fn protocol_version(&self) -> &str {
        &self.defaults.protocol_version
    }

    /// Encode and frame one message `{name: fields}` for the given RPID/PID.
    pub fn send(&mut self, name: &str, rpid: Guid, pid: Guid, mut fields: Value) -> Result<Output, String> {
        if let Some(m) = fields.as_object_mut() {
            m.insert("rpid".into(), Value::String(rpid.to_string()));
            m.insert("pid".into(), Value::String(pid.to_string()));
        }
        let enc = encode_structured_owned(name, fields, &self.defaults).map_err(|e| e.to_string())?;
        Ok(self.send_message(name, enc.message))
    }

    /// [`Transport::send`] of a message whose body is one value (`pipeline-output`,
    /// `pipeline-input`), encoded from a reference: the same bytes as `send(name, rpid, pid,
    /// {"value": value})`, with Data written into a buffer reused from message to message.
    pub fn send_value(
        &mut self,
        name: &str,
        rpid: Guid,
        pid: Guid,
        value: &ClixmlValue,
    ) -> Result<Output, String> {
        let message_type = match MessageType::from_name(name) {
            Some(t @ (MessageType::PIPELINE_OUTPUT | MessageType::PIPELINE_INPUT)) => t,
            _ => return Err(format!("`{name}` has no value body")),
        };
        let data = encode_value_data(value, self.defaults.bom, std::mem::take(&mut self.scratch));
        let m = Message {
            destination: self.defaults.destination,
            message_type,
            rpid,
            pid,
            data,
        };
        Ok(self.send_message(name, m))
    }

    /// Apply the wire-level misbehaviours to an encoded message and frame it.
    fn send_message(&mut self, name: &str, mut m: Message) -> Output {
        if self.bugs.types_2013 && m.message_type == MessageType::RUNSPACEPOOL_INIT_DATA {
            m.message_type = MessageType::RUNSPACEPOOL_INIT_DATA_2013;
        }
        if self.bugs.types_2013 && m.message_type == MessageType::CONNECT_RUNSPACEPOOL {
            m.message_type = MessageType::CONNECT_RUNSPACEPOOL_2013;
        }
        if self.bugs.destination_swapped {
            m.destination = if m.destination == Destination::SERVER {
                Destination::CLIENT
            } else {
                Destination::SERVER
            };
        }
        let bytes = self.frame(&m);
        // Data is spent once framed: keep its memory for the next value body.
        if m.data.capacity() > self.scratch.capacity() && m.data.capacity() <= SCRATCH_CAP {
            self.scratch = m.data;
        }
        Output::Send {
            label: name.to_owned(),
            bytes,
        }
    }

    fn frame(&mut self, m: &Message) -> Vec<u8> {
        let id = if self.bugs.object_id_zero {
            0
        } else {
            self.next_object_id
        };
        self.next_object_id = self.next_object_id.saturating_add(1);
        let b = &self.bugs;
        let plain_fragments = !(b.fragment_id_from_1 || b.no_end_flag || b.header_le || b.blob_length_lies);
        if plain_fragments {
            // The common case: the codec's framing unchanged, written in one buffer straight from
            // the message.
            return frame_message(&self.fragmenter, self.framing, id, m);
        }
        let mut frags = self.fragmenter.fragment(id, &m.encode());
        for f in &mut frags {
            if self.bugs.fragment_id_from_1 {
                f.fragment_id += 1;
            }
            if self.bugs.no_end_flag {
                f.flags &= !FLAG_END;
            }
        }
        let raw: Vec<Vec<u8>> = frags
            .iter()
            .map(|f| {
                let mut out = Vec::with_capacity(21 + f.blob.len());
                let len = u32::try_from(f.blob.len())
                    .unwrap_or(u32::MAX)
                    .saturating_add(u32::from(self.bugs.blob_length_lies));
                if self.bugs.header_le {
                    out.extend_from_slice(&f.object_id.to_le_bytes());
                    out.extend_from_slice(&f.fragment_id.to_le_bytes());
                    out.push(f.flags);
                    out.extend_from_slice(&len.to_le_bytes());
                } else {
                    out.extend_from_slice(&f.object_id.to_be_bytes());
                    out.extend_from_slice(&f.fragment_id.to_be_bytes());
                    out.push(f.flags);
                    out.extend_from_slice(&len.to_be_bytes());
                }
                out.extend_from_slice(&f.blob);
                out
            })
            .collect();
        match self.framing {
            Framing::Fragments => raw.concat(),
            Framing::OutOfProc => {
                let stream = if matches!(
                    m.message_type,
                    MessageType::RUNSPACEPOOL_HOST_RESPONSE | MessageType::PIPELINE_HOST_RESPONSE
                ) {
                    STREAM_PROMPT_RESPONSE
                } else {
                    STREAM_DEFAULT
                };
                raw.into_iter()
                    .flat_map(|payload| {
                        Packet::Data {
                            stream: stream.into(),
                            ps_guid: m.pid,
                            payload,
                        }
                        .encode()
                    })
                    .collect()
            }
        }
    }

    /// A control packet (OutOfProc only; `None` with raw fragments, which have no such packets).
    pub fn control(&self, kind: Control, ps_guid: Guid) -> Option<Output> {
        (self.framing == Framing::OutOfProc).then(|| Output::Send {
            label: kind.name().to_owned(),
            bytes: Packet::Control { kind, ps_guid }.encode(),
        })
    }

    /// Decode what arrived: messages, the acks the codec wants written, and a final error if any.
    pub fn receive(&mut self, bytes: &[u8]) -> (Vec<Decoded>, Vec<Output>, Option<DecodeError>) {
        self.rx.push_received(bytes);
        let mut msgs = Vec::new();
        let mut err = None;
        loop {
            match self.rx.next_received() {
                Ok(Some(d)) => msgs.push(d),
                Ok(None) => break,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let mut acks = Vec::new();
        while let Some(b) = self.rx.poll_transmit() {
            acks.push(Output::Send {
                label: "oop.data-ack".into(),
                bytes: b,
            });
        }
        (msgs, acks, err)
    }
}

/// A GUID field of decoded fields.
pub fn guid_of(fields: &Value, key: &str) -> Guid {
    fields
        .get(key)
        .and_then(Value::as_str)
        .and_then(|s| Guid::parse(s).ok())
        .unwrap_or(Guid::NIL)
}

/// An integer field of decoded fields.
pub fn int_of(fields: &Value, key: &str) -> Option<i64> {
    fields.get(key).and_then(Value::as_i64)
}
