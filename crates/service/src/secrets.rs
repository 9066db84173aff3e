//! Secrets Switchboard must be able to read back (webhook signing secrets, network tokens,
//! app passwords) are sealed with AES-256-GCM under a key from configuration. The key id is
//! stored beside each ciphertext so a key rotation can tell old seals from new ones.

use crate::{ServiceError, ServiceResult};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    key_id: String,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

impl SecretBox {
    pub fn new(key: [u8; 32]) -> SecretBox {
        // The id names the key without revealing it.
        let key_id =
            hex::encode(&Sha256::digest([b"switchboard-key-id:".as_slice(), &key].concat())[..8]);
        SecretBox {
            cipher: Aes256Gcm::new(&key.into()),
            key_id,
        }
    }

    /// A fresh random key: for tests and throwaway demos; anything sealed with it is lost
    /// when the process ends.
    pub fn ephemeral() -> SecretBox {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        SecretBox::new(key)
    }

    /// A key written as 64 hex digits or standard base64 of 32 bytes.
    pub fn parse_key(text: &str) -> Result<[u8; 32], String> {
        let t = text.trim();
        let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(t).map_err(|e| e.to_string())?
        } else {
            B64.decode(t)
                .map_err(|_| "the key must be 32 bytes as 64 hex digits or base64".to_string())?
        };
        bytes
            .try_into()
            .map_err(|_| "the key must be exactly 32 bytes".to_string())
    }

    pub fn encode_key(key: &[u8; 32]) -> String {
        hex::encode(key)
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// base64(nonce || ciphertext+tag)
    pub fn seal(&self, plaintext: &str) -> ServiceResult<String> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(ServiceError::internal)?;
        Ok(B64.encode([nonce.as_slice(), &ct].concat()))
    }

    pub fn open(&self, sealed: &str, key_id: &str) -> ServiceResult<String> {
        if key_id != self.key_id {
            return Err(ServiceError::Internal(format!(
                "a secret was sealed with key {key_id}, but the configured key is {}",
                self.key_id
            )));
        }
        let bytes = B64.decode(sealed).map_err(ServiceError::internal)?;
        if bytes.len() < 12 {
            return Err(ServiceError::Internal("sealed secret is truncated".into()));
        }
        let (nonce, ct) = bytes.split_at(12);
        let pt = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| ServiceError::Internal("a sealed secret failed authentication".into()))?;
        String::from_utf8(pt).map_err(ServiceError::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let b = SecretBox::new([7u8; 32]);
        let s = b.seal("app-password-123").unwrap();
        assert!(!s.contains("app-password"));
        assert_eq!(b.open(&s, b.key_id()).unwrap(), "app-password-123");
        assert_ne!(
            b.seal("app-password-123").unwrap(),
            s,
            "fresh nonce per seal"
        );
        let mut raw = B64.decode(&s).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert!(b.open(&B64.encode(raw), b.key_id()).is_err());
        assert!(b.open(&s, "other-key").is_err());
        assert!(SecretBox::new([8u8; 32]).open(&s, b.key_id()).is_err());
    }

    #[test]
    fn keys_parse_from_hex_or_base64() {
        let k = [9u8; 32];
        assert_eq!(SecretBox::parse_key(&SecretBox::encode_key(&k)).unwrap(), k);
        assert_eq!(SecretBox::parse_key(&B64.encode(k)).unwrap(), k);
        assert!(SecretBox::parse_key("abc").is_err());
    }
}
