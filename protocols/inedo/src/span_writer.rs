//! An output buffer that records the span of every field it writes, so `annotate_sent` needs no
//! second parser.

use peercheck_wire::FieldSpan;

#[derive(Debug, Clone, Default)]
pub struct SpanWriter {
    pub bytes: Vec<u8>,
    pub spans: Vec<FieldSpan>,
}

impl SpanWriter {
    pub fn put(&mut self, name: &str, bytes: &[u8], value: impl Into<String>) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        self.spans.push(FieldSpan {
            start,
            end: self.bytes.len(),
            name: name.to_owned(),
            value: value.into(),
        });
    }

    pub fn put_u8(&mut self, name: &str, v: u8) {
        self.put(name, &[v], format!("{v} (0x{v:x})"));
    }

    pub fn put_i32(&mut self, name: &str, v: i32) {
        self.put(name, &v.to_le_bytes(), format!("{v} (0x{v:x})"));
    }

    pub fn put_blob(&mut self, name: &str, bytes: &[u8]) {
        let shown = if bytes.len() <= 16 {
            hex::encode(bytes)
        } else {
            format!("{} bytes", bytes.len())
        };
        self.put(name, bytes, shown);
    }

    /// Append another writer's output, shifting its spans.
    pub fn append(&mut self, other: SpanWriter) {
        let base = self.bytes.len();
        self.bytes.extend_from_slice(&other.bytes);
        self.spans.extend(other.spans.into_iter().map(|s| FieldSpan {
            start: s.start + base,
            end: s.end + base,
            ..s
        }));
    }
}
