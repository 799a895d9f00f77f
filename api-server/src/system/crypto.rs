//! Secrets at rest: AES-256-GCM with the master key, a fresh random nonce per value.
//! Stored form: `enc:v1:` + base64(nonce ‖ ciphertext‖tag). Plaintext never leaves this module
//! except to the code that needs it (a connector's password).

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const PREFIX: &str = "enc:v1:";
const NONCE_LEN: usize = 12;

/// The key that encrypts secrets in the system store.
#[derive(Clone)]
pub struct MasterKey(Key<Aes256Gcm>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(*****)")
    }
}

/// Why a secret could not be decrypted or a key not read.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the master key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("a stored secret could not be decrypted (was the master key changed?)")]
    Decrypt,
}

impl MasterKey {
    /// A new random key.
    #[must_use]
    pub fn generate() -> Self {
        Self(Aes256Gcm::generate_key(OsRng))
    }

    /// Reads the base64 form.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| CryptoError::BadKey)?;
        let array: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(Self(Key::<Aes256Gcm>::from(array)))
    }

    /// The base64 form (to write the generated key file).
    #[must_use]
    pub fn to_base64(&self) -> String {
        STANDARD.encode(AsRef::<[u8]>::as_ref(&self.0))
    }

    /// A key of its own for `purpose` (HMAC-SHA256 of the purpose under the master key): the
    /// same on every node holding this master key, and telling nothing of it.
    #[must_use]
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        // HMAC pads a key shorter than SHA-256's 64-byte block with zeros: the same key.
        let mut block = [0_u8; 64];
        block[..32].copy_from_slice(AsRef::<[u8]>::as_ref(&self.0));
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new(&block.into());
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Encrypts a secret for storage.
    #[must_use]
    pub fn encrypt(&self, plaintext: &str) -> String {
        let cipher = Aes256Gcm::new(&self.0);
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // Encryption with a valid key and nonce cannot fail for inputs of this size.
        let sealed = cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    /// Decrypts a stored secret.
    pub fn decrypt(&self, stored: &str) -> Result<String, CryptoError> {
        let body = stored.strip_prefix(PREFIX).ok_or(CryptoError::Decrypt)?;
        let bytes = STANDARD.decode(body).map_err(|_| CryptoError::Decrypt)?;
        if bytes.len() < NONCE_LEN {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Decrypt)?;
        let cipher = Aes256Gcm::new(&self.0);
        let plain = cipher
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Decrypt)
    }
}

/// The SHA-256 digest of `bytes`, as lowercase hex.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

/// `bytes` as lowercase hex.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.extend_from_slice(&[DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]]);
    }
    // Hex digits are ASCII.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_round_trips_and_is_not_stored_in_clear() {
        let key = MasterKey::generate();
        let stored = key.encrypt("hunter2-password");
        assert!(stored.starts_with(PREFIX));
        assert!(!stored.contains("hunter2"));
        assert_eq!(key.decrypt(&stored).unwrap(), "hunter2-password");
    }

    #[test]
    fn the_same_secret_encrypts_differently_each_time() {
        let key = MasterKey::generate();
        assert_ne!(key.encrypt("x"), key.encrypt("x"));
    }

    #[test]
    fn another_key_or_a_tampered_value_cannot_decrypt() {
        let key = MasterKey::generate();
        let stored = key.encrypt("secret");
        assert!(MasterKey::generate().decrypt(&stored).is_err());
        let mut tampered = stored.clone();
        tampered.pop();
        tampered.push(if stored.ends_with('A') { 'B' } else { 'A' });
        assert!(key.decrypt(&tampered).is_err());
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        let key = MasterKey::generate();
        assert!(MasterKey::from_base64(&key.to_base64()).is_ok());
    }
}
