//! AES-CBC with PKCS#7 padding under the pre-shared key (ERRATA Inedo-7: no MAC).

use aes::{Aes128, Aes256};
use cbc::cipher::block_padding::{Pkcs7, ZeroPadding};
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};

/// The AES block size; encrypted frames are a whole number of blocks.
pub const BLOCK: usize = 16;

/// The pre-shared key: 32 hex digits select AES-128, 64 select AES-256 (ERRATA Inedo-7).
#[derive(Clone, PartialEq, Eq)]
pub enum AesKey {
    Aes128([u8; 16]),
    Aes256([u8; 32]),
}

impl std::fmt::Debug for AesKey {
    // Keys never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AesKey::Aes128(_) => f.write_str("AesKey::Aes128(<redacted>)"),
            AesKey::Aes256(_) => f.write_str("AesKey::Aes256(<redacted>)"),
        }
    }
}

/// How the plaintext is filled up to a whole block. Only PKCS#7 is the protocol; zero fill exists so
/// a mock peer can imitate an implementation that forgets the padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    Pkcs7,
    Zero,
}

/// Why a ciphertext did not decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptError {
    /// Not a whole number of blocks.
    NotBlockAligned,
    /// The last block does not end in valid PKCS#7 padding: a wrong key or a corrupted frame.
    BadPadding,
}

impl AesKey {
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw = peercheck_wire::hexparse::parse_hex(text).map_err(|e| format!("key: {e}"))?;
        match raw.len() {
            16 => raw
                .try_into()
                .map(AesKey::Aes128)
                .map_err(|_| "key: 16 bytes expected".to_owned()),
            32 => raw
                .try_into()
                .map(AesKey::Aes256)
                .map_err(|_| "key: 32 bytes expected".to_owned()),
            n => Err(format!(
                "key: the pre-shared key is 32 or 64 hex digits (AES-128/256), got {}",
                n * 2
            )),
        }
    }

    pub fn encrypt(&self, iv: &[u8; 16], plaintext: &[u8], padding: Padding) -> Vec<u8> {
        match (self, padding) {
            (AesKey::Aes128(k), Padding::Pkcs7) => {
                cbc::Encryptor::<Aes128>::new(k.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext)
            }
            (AesKey::Aes256(k), Padding::Pkcs7) => {
                cbc::Encryptor::<Aes256>::new(k.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext)
            }
            (AesKey::Aes128(k), Padding::Zero) => cbc::Encryptor::<Aes128>::new(k.into(), iv.into())
                .encrypt_padded_vec_mut::<ZeroPadding>(plaintext),
            (AesKey::Aes256(k), Padding::Zero) => cbc::Encryptor::<Aes256>::new(k.into(), iv.into())
                .encrypt_padded_vec_mut::<ZeroPadding>(plaintext),
        }
    }

    pub fn decrypt(&self, iv: &[u8; 16], ciphertext: &[u8]) -> Result<Vec<u8>, DecryptError> {
        if ciphertext.is_empty() || ciphertext.len() % BLOCK != 0 {
            return Err(DecryptError::NotBlockAligned);
        }
        let out =
            match self {
                AesKey::Aes128(k) => cbc::Decryptor::<Aes128>::new(k.into(), iv.into())
                    .decrypt_padded_vec_mut::<Pkcs7>(ciphertext),
                AesKey::Aes256(k) => cbc::Decryptor::<Aes256>::new(k.into(), iv.into())
                    .decrypt_padded_vec_mut::<Pkcs7>(ciphertext),
            };
        out.map_err(|_| DecryptError::BadPadding)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn aes128_cbc_matches_the_nist_sp800_38a_vector() {
        // SP 800-38A F.2.1 CBC-AES128.Encrypt, first block (PKCS#7 adds a second block).
        let key = AesKey::parse("2b7e151628aed2a6abf7158809cf4f3c").unwrap();
        let iv: [u8; 16] = hex::decode("000102030405060708090a0b0c0d0e0f")
            .unwrap()
            .try_into()
            .unwrap();
        let pt = hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap();
        let ct = key.encrypt(&iv, &pt, Padding::Pkcs7);
        assert_eq!(hex::encode(&ct[..16]), "7649abac8119b246cee98e9b12e9197d");
        assert_eq!(key.decrypt(&iv, &ct).unwrap(), pt);
    }

    #[test]
    fn both_key_sizes_round_trip_and_other_sizes_are_refused() {
        let iv = [7u8; 16];
        for k in ["00112233445566778899aabbccddeeff", &"ab".repeat(32)] {
            let key = AesKey::parse(k).unwrap();
            assert_eq!(
                key.decrypt(&iv, &key.encrypt(&iv, b"hello", Padding::Pkcs7))
                    .unwrap(),
                b"hello"
            );
        }
        assert!(AesKey::parse(&"ab".repeat(24)).is_err());
    }

    #[test]
    fn zero_fill_is_a_padding_error_and_ragged_input_is_refused() {
        let key = AesKey::parse("00112233445566778899aabbccddeeff").unwrap();
        let iv = [1u8; 16];
        let ct = key.encrypt(&iv, b"abc", Padding::Zero);
        assert_eq!(ct.len(), 16);
        assert_eq!(key.decrypt(&iv, &ct), Err(DecryptError::BadPadding));
        assert_eq!(key.decrypt(&iv, &[0u8; 15]), Err(DecryptError::NotBlockAligned));
        assert_eq!(key.decrypt(&iv, &[]), Err(DecryptError::NotBlockAligned));
    }
}
