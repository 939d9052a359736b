//! Session-key exchange (MS-PSRP §3.1.5.4.2 / §3.2.5.4.2) and SecureString (§2.2.5.1.24).
//!
//! The client sends its RSA public key as a base64 CAPI PUBLICKEYBLOB; the server answers with a
//! 256-bit AES key encrypted (PKCS#1 v1.5) in a base64 CAPI SIMPLEBLOB. SecureStrings are the
//! UTF-16LE text, AES-256-CBC with a zero IV and PKCS#7 padding, base64. With protocol 2.4 on both
//! sides there is no exchange and a SecureString is base64 of the UTF-16LE text (ERRATA PSRP-5).

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine;
use rand_chacha::ChaCha20Rng;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const CALG_RSA_KEYX: u32 = 0xA400;
const CALG_AES_256: u32 = 0x6610;

/// The client's key pair.
pub fn generate(rng: &mut ChaCha20Rng, bits: usize) -> Result<RsaPrivateKey, String> {
    RsaPrivateKey::new(rng, bits).map_err(|e| e.to_string())
}

/// PUBLICKEYBLOB: BLOBHEADER (6, 2, 0, CALG_RSA_KEYX), "RSA1", bit length, exponent, modulus LE.
pub fn public_key_blob(key: &RsaPrivateKey) -> String {
    let n = key.n().to_bytes_le();
    let bits = u32::try_from(key.size() * 8).unwrap_or(0);
    let e = key.e().to_bytes_le();
    let mut exp = [0u8; 4];
    for (d, s) in exp.iter_mut().zip(e.iter()) {
        *d = *s;
    }
    let mut out = vec![6u8, 2, 0, 0];
    out.extend_from_slice(&CALG_RSA_KEYX.to_le_bytes());
    out.extend_from_slice(b"RSA1");
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(&exp);
    out.extend_from_slice(&n);
    out.resize(20 + key.size(), 0);
    B64.encode(out)
}

fn parse_public_key(blob_b64: &str) -> Result<RsaPublicKey, String> {
    let b = B64
        .decode(blob_b64.trim())
        .map_err(|e| format!("PublicKey is not base64: {e}"))?;
    if b.get(0..2) != Some(&[6, 2]) || b.get(8..12) != Some(b"RSA1") {
        return Err("PublicKey is not a CAPI PUBLICKEYBLOB".into());
    }
    let word = |at: usize| -> Result<u32, String> {
        let s = b.get(at..at + 4).ok_or("PublicKey blob is short")?;
        Ok(u32::from_le_bytes(
            s.try_into().map_err(|_| "PublicKey blob is short")?,
        ))
    };
    let bits = word(12)? as usize;
    let exp = word(16)?;
    let n = b.get(20..20 + bits / 8).ok_or("PublicKey modulus is short")?;
    RsaPublicKey::new(BigUint::from_bytes_le(n), BigUint::from(exp)).map_err(|e| e.to_string())
}

/// Server side: a SIMPLEBLOB of `session_key` for the client's PUBLICKEYBLOB.
pub fn encrypt_session_key(
    rng: &mut ChaCha20Rng,
    public_key_b64: &str,
    session_key: &[u8; 32],
) -> Result<String, String> {
    let pk = parse_public_key(public_key_b64)?;
    let mut ct = pk
        .encrypt(rng, Pkcs1v15Encrypt, session_key)
        .map_err(|e| e.to_string())?;
    ct.reverse(); // CAPI stores the ciphertext little-endian
    let mut out = vec![1u8, 2, 0, 0];
    out.extend_from_slice(&CALG_AES_256.to_le_bytes());
    out.extend_from_slice(&CALG_RSA_KEYX.to_le_bytes());
    out.extend_from_slice(&ct);
    Ok(B64.encode(out))
}

/// Client side: the AES key inside the server's SIMPLEBLOB.
pub fn decrypt_session_key(key: &RsaPrivateKey, blob_b64: &str) -> Result<[u8; 32], String> {
    let b = B64
        .decode(blob_b64.trim())
        .map_err(|e| format!("EncryptedSessionKey is not base64: {e}"))?;
    let mut ct = b.get(12..).ok_or("EncryptedSessionKey blob is short")?.to_vec();
    ct.reverse();
    let k = key.decrypt(Pkcs1v15Encrypt, &ct).map_err(|e| e.to_string())?;
    k.try_into()
        .map_err(|_| "the session key is not 32 bytes".to_owned())
}

fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn from_utf16le(b: &[u8]) -> Result<String, String> {
    if !b.len().is_multiple_of(2) {
        return Err("odd UTF-16 length".into());
    }
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes(c.try_into().unwrap_or([0, 0])))
        .collect();
    String::from_utf16(&units).map_err(|e| e.to_string())
}

/// The SS element text: encrypted with the session key, or plain with protocol 2.4 (`key` None).
pub fn seal(key: Option<&[u8; 32]>, text: &str) -> String {
    match key {
        Some(k) => {
            let enc = cbc::Encryptor::<aes::Aes256>::new(k.into(), &[0u8; 16].into());
            B64.encode(enc.encrypt_padded_vec_mut::<Pkcs7>(&utf16le(text)))
        }
        None => B64.encode(utf16le(text)),
    }
}

pub fn open(key: Option<&[u8; 32]>, ss: &str) -> Result<String, String> {
    let raw = B64
        .decode(ss.trim())
        .map_err(|e| format!("SecureString is not base64: {e}"))?;
    match key {
        Some(k) => {
            let dec = cbc::Decryptor::<aes::Aes256>::new(k.into(), &[0u8; 16].into());
            let pt = dec
                .decrypt_padded_vec_mut::<Pkcs7>(&raw)
                .map_err(|_| "bad SecureString padding".to_owned())?;
            from_utf16le(&pt)
        }
        None => from_utf16le(&raw),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn exchange_and_secure_strings_round_trip() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let key = generate(&mut rng, 1024).unwrap();
        let blob = public_key_blob(&key);
        assert!(blob.starts_with("BgIAAACkAABSU0Ex"), "{blob}");
        let session = [7u8; 32];
        let enc = encrypt_session_key(&mut rng, &blob, &session).unwrap();
        assert!(enc.starts_with("AQIAABBmAAAApAAA"), "{enc}");
        assert_eq!(decrypt_session_key(&key, &enc).unwrap(), session);
        let ss = seal(Some(&session), "pa55 wörd");
        assert_eq!(open(Some(&session), &ss).unwrap(), "pa55 wörd");
        assert_eq!(seal(None, "ab"), "YQBiAA==");
        assert_eq!(open(None, "YQBiAA==").unwrap(), "ab");
        assert!(open(Some(&[0u8; 32]), &ss).is_err() || open(Some(&[0u8; 32]), &ss).unwrap() != "pa55 wörd");
    }
}
