//! NOW_HEADER (NOW-PROTO 1.3 "NOW_HEADER"): msgSize u32 LE (body only), msgClass u8, msgType u8,
//! msgFlags u16 LE.

use peercheck_wire::{DecodeError, Reader};

/// msgClass values. 0x10 is CHANNEL since 1.1; the 1.0 text calls it NEGOTIATION (ERRATA NOW-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MsgClass(pub u8);

impl MsgClass {
    pub const CHANNEL: Self = Self(0x10);
    /// The 1.0 text's name for 0x10.
    pub const NEGOTIATION: Self = Self(0x10);
    pub const SYSTEM: Self = Self(0x11);
    pub const SESSION: Self = Self(0x12);
    pub const EXEC: Self = Self(0x13);
    pub const RDM: Self = Self(0x14);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Body size, "excluding the header size (8 bytes)".
    pub msg_size: u32,
    pub msg_class: MsgClass,
    pub msg_type: u8,
    pub msg_flags: u16,
}

/// Span name of the length field (for the `wrong-length` fault).
pub const MSG_SIZE_SPAN: &str = "header.msgSize";

impl Header {
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        // Untraced with all 8 bytes present no read can fail and no span is wanted: one read.
        if !r.is_traced() && r.remaining() >= 8 {
            if let Ok(&[s0, s1, s2, s3, class, msg_type, f0, f1]) = r.bytes_quiet(8, "header") {
                return Ok(Header {
                    msg_size: u32::from_le_bytes([s0, s1, s2, s3]),
                    msg_class: MsgClass(class),
                    msg_type,
                    msg_flags: u16::from_le_bytes([f0, f1]),
                });
            }
        }
        r.scope("header", |r| {
            Ok(Header {
                msg_size: r.u32_le("msgSize")?,
                msg_class: MsgClass(r.u8("msgClass")?),
                msg_type: r.u8("msgType")?,
                msg_flags: r.u16_le("msgFlags")?,
            })
        })
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }

    /// The 8 header bytes.
    pub fn to_bytes(&self) -> [u8; 8] {
        let [s0, s1, s2, s3] = self.msg_size.to_le_bytes();
        let [f0, f1] = self.msg_flags.to_le_bytes();
        [s0, s1, s2, s3, self.msg_class.0, self.msg_type, f0, f1]
    }
}
