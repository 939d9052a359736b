//! Fragments (MS-PSRP §2.2.4): ObjectId u64, FragmentId u64, flags u8, BlobLength u32, blob.
//! The fixed fields are big-endian (ERRATA PSRP-2).

use crate::limits::{DEFAULT_FRAGMENT_SIZE, MAX_BLOB_LENGTH, MIN_FRAGMENT_SIZE};
use peercheck_wire::{DecodeError, Reader, WriteExt};

/// 8 + 8 + 1 + 4 bytes.
pub const FRAGMENT_HEADER_LEN: usize = 21;

/// §2.2.4 "S (1 bit): If set, the fragment is a start fragment."
pub const FLAG_START: u8 = 0x01;
/// §2.2.4 "E (1 bit): If set, the fragment is an end fragment."
pub const FLAG_END: u8 = 0x02;

/// Span names of the fragment header fields (the `wrong-length` fault uses [`SPAN_BLOB_LENGTH`]).
pub const SPAN_OBJECT_ID: &str = "fragment.objectId";
pub const SPAN_FRAGMENT_ID: &str = "fragment.fragmentId";
pub const SPAN_FLAGS: &str = "fragment.flags";
pub const SPAN_BLOB_LENGTH: &str = "fragment.blobLength";
pub const SPAN_BLOB: &str = "fragment.blob";

/// The fixed part of a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentHeader {
    pub object_id: u64,
    pub fragment_id: u64,
    pub flags: u8,
    pub blob_length: u32,
}

impl FragmentHeader {
    pub fn is_start(&self) -> bool {
        self.flags & FLAG_START != 0
    }
    pub fn is_end(&self) -> bool {
        self.flags & FLAG_END != 0
    }

    /// Reads the 21 header bytes (spans `fragment.*`). BlobLength is checked against
    /// [`MAX_BLOB_LENGTH`] here, before any byte of the blob is awaited or allocated.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.ensure(FRAGMENT_HEADER_LEN, "fragment")?;
        let object_id = r.u64_be(SPAN_OBJECT_ID)?;
        let fragment_id = r.u64_be(SPAN_FRAGMENT_ID)?;
        let flags = r.u8(SPAN_FLAGS)?;
        let at = r.offset();
        let blob_length = r.u32_be(SPAN_BLOB_LENGTH)?;
        MAX_BLOB_LENGTH.check(u64::from(blob_length), at, SPAN_BLOB_LENGTH)?;
        Ok(Self {
            object_id,
            fragment_id,
            flags,
            blob_length,
        })
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.put_u64_be(self.object_id);
        out.put_u64_be(self.fragment_id);
        out.put_u8(self.flags);
        out.put_u32_be(self.blob_length);
    }
}

/// One whole fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    pub object_id: u64,
    pub fragment_id: u64,
    pub flags: u8,
    pub blob: Vec<u8>,
}

impl Fragment {
    pub fn header(&self) -> FragmentHeader {
        FragmentHeader {
            object_id: self.object_id,
            fragment_id: self.fragment_id,
            flags: self.flags,
            blob_length: u32::try_from(self.blob.len()).unwrap_or(u32::MAX),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FRAGMENT_HEADER_LEN + self.blob.len());
        self.header().encode_into(&mut out);
        out.put_bytes(&self.blob);
        out
    }

    /// Decode one whole fragment (the blob must be complete).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let h = FragmentHeader::decode(r)?;
        let blob = r.bytes(h.blob_length as usize, SPAN_BLOB)?.to_vec();
        Ok(Self {
            object_id: h.object_id,
            fragment_id: h.fragment_id,
            flags: h.flags,
            blob,
        })
    }
}

/// Splits objects into fragments of at most `max_fragment_size` bytes, header included
/// (ERRATA PSRP-6: PowerShell uses 32768 including the 21-byte header).
#[derive(Debug, Clone)]
pub struct Fragmenter {
    max_fragment_size: usize,
}

impl Default for Fragmenter {
    fn default() -> Self {
        Self {
            max_fragment_size: DEFAULT_FRAGMENT_SIZE,
        }
    }
}

impl Fragmenter {
    /// Fails when the size leaves no room for a blob byte.
    pub fn new(max_fragment_size: usize) -> Result<Self, String> {
        if max_fragment_size < MIN_FRAGMENT_SIZE {
            return Err(format!(
                "max fragment size {max_fragment_size} is below {MIN_FRAGMENT_SIZE}"
            ));
        }
        Ok(Self { max_fragment_size })
    }

    pub fn max_blob(&self) -> usize {
        self.max_fragment_size.saturating_sub(FRAGMENT_HEADER_LEN).max(1)
    }

    /// §2.2.4: fragment ids count from 0, the first has Start, the last has End (both for one).
    pub fn fragment(&self, object_id: u64, object: &[u8]) -> Vec<Fragment> {
        let chunks: Vec<&[u8]> = if object.is_empty() {
            vec![&[][..]]
        } else {
            object.chunks(self.max_blob()).collect()
        };
        let last = chunks.len().saturating_sub(1);
        chunks
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let mut flags = 0;
                if i == 0 {
                    flags |= FLAG_START;
                }
                if i == last {
                    flags |= FLAG_END;
                }
                Fragment {
                    object_id,
                    fragment_id: i as u64,
                    flags,
                    blob: c.to_vec(),
                }
            })
            .collect()
    }

    /// The fragments of one object, back to back: the same bytes as [`Fragmenter::fragment`] with
    /// each fragment encoded, written straight from the object (one copy of each blob).
    pub fn fragment_bytes(&self, object_id: u64, object: &[u8]) -> Vec<u8> {
        self.fragment_parts(object_id, &[object])
    }

    /// [`Fragmenter::fragment_bytes`] of the object `parts` concatenated, without building it
    /// (a message is its 40-byte header and its Data: `fragment_parts(id, &[&header, &data])`).
    pub fn fragment_parts(&self, object_id: u64, parts: &[&[u8]]) -> Vec<u8> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut out = Vec::with_capacity(len + FRAGMENT_HEADER_LEN * self.fragment_count(len));
        self.for_each_fragment(object_id, parts, |header, blob| {
            header.encode_into(&mut out);
            for piece in blob {
                out.extend_from_slice(piece);
            }
        });
        out
    }

    /// How many fragments an object of `len` bytes takes (an empty object is one empty fragment).
    pub fn fragment_count(&self, len: usize) -> usize {
        len.div_ceil(self.max_blob()).max(1)
    }

    /// Calls `f` with the header and the blob (as at most `parts.len()` pieces) of each fragment of
    /// the object `parts` concatenated, in order; the same fragments as [`Fragmenter::fragment`].
    pub fn for_each_fragment(
        &self,
        object_id: u64,
        parts: &[&[u8]],
        mut f: impl FnMut(FragmentHeader, &[&[u8]]),
    ) {
        let max = self.max_blob();
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let count = self.fragment_count(len);
        let mut rest = parts.iter().copied().filter(|p| !p.is_empty());
        let mut current: &[u8] = rest.next().unwrap_or(&[]);
        let mut pieces: Vec<&[u8]> = Vec::with_capacity(parts.len());
        for i in 0..count {
            pieces.clear();
            let mut want = max;
            let mut blob_len = 0usize;
            while want > 0 {
                if current.is_empty() {
                    match rest.next() {
                        Some(p) => current = p,
                        None => break,
                    }
                }
                let (piece, tail) = current.split_at(want.min(current.len()));
                pieces.push(piece);
                current = tail;
                want -= piece.len();
                blob_len += piece.len();
            }
            let mut flags = 0;
            if i == 0 {
                flags |= FLAG_START;
            }
            if i + 1 == count {
                flags |= FLAG_END;
            }
            let header = FragmentHeader {
                object_id,
                fragment_id: i as u64,
                flags,
                blob_length: u32::try_from(blob_len).unwrap_or(u32::MAX),
            };
            f(header, &pieces);
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

    #[rstest::rstest]
    #[case(0)]
    #[case(1)]
    #[case(11)]
    #[case(12)]
    #[case(13)]
    #[case(100)]
    fn fragment_bytes_are_the_fragments_back_to_back(#[case] len: usize) {
        let f = Fragmenter::new(FRAGMENT_HEADER_LEN + 12).unwrap();
        let object: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let expected: Vec<u8> = f.fragment(7, &object).iter().flat_map(Fragment::encode).collect();
        assert_eq!(f.fragment_bytes(7, &object), expected);
        // The same object in pieces, split at every point (empty pieces included).
        for cut in 0..=len {
            let (a, b) = object.split_at(cut);
            assert_eq!(f.fragment_parts(7, &[a, b]), expected, "cut {cut}");
            assert_eq!(f.fragment_parts(7, &[&[], a, &[], b, &[]]), expected, "cut {cut}");
        }
        assert_eq!(f.fragment_count(len), f.fragment(7, &object).len());
    }

    #[test]
    fn header_is_big_endian() {
        let f = Fragment {
            object_id: 1,
            fragment_id: 2,
            flags: 3,
            blob: vec![0xAA],
        };
        assert_eq!(
            hex::encode(f.encode()),
            "000000000000000100000000000000020300000001aa"
        );
        let back = Fragment::decode(&mut Reader::new(&f.encode())).unwrap();
        assert_eq!(back, f);
    }

    #[test]
    fn blob_length_limit_at_n_and_n_plus_one() {
        let mut h = vec![0u8; 17];
        h.extend_from_slice(&(MAX_BLOB_LENGTH.max as u32).to_be_bytes());
        assert!(FragmentHeader::decode(&mut Reader::new(&h)).is_ok());
        let mut h = vec![0u8; 17];
        h.extend_from_slice(&(MAX_BLOB_LENGTH.max as u32 + 1).to_be_bytes());
        let e = FragmentHeader::decode(&mut Reader::new(&h)).unwrap_err();
        assert!(e.to_string().contains("PSRP_MAX_BLOB_LENGTH"));
    }

    #[test]
    fn fragmenter_counts_header_in_size() {
        let fr = Fragmenter::new(32768).unwrap();
        assert_eq!(fr.max_blob(), 32747);
        let frags = fr.fragment(5, &vec![7u8; 32747 * 2 + 1]);
        assert_eq!(frags.len(), 3);
        assert_eq!(frags[0].flags, FLAG_START);
        assert_eq!(frags[1].flags, 0);
        assert_eq!(frags[2].flags, FLAG_END);
        assert_eq!(frags[2].fragment_id, 2);
        assert!(frags.iter().all(|f| f.encode().len() <= 32768));
        let one = fr.fragment(1, b"");
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].flags, FLAG_START | FLAG_END);
        assert!(Fragmenter::new(21).is_err());
        assert!(Fragmenter::new(22).is_ok());
    }
}
