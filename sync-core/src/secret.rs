//! Hashes of secrets the room keeps: resume tokens, the host token and the
//! room password. The room stores only SHA-256 hashes (the password salted);
//! randomness (tokens, salts) is always an input from the shell.

use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Hash of a bearer token (resume or host token).
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// Base64url (no padding) of random bytes: a URL-safe token.
pub fn token_from_entropy(entropy: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(entropy.len() * 4 / 3 + 2);
    for chunk in entropy.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A salted password hash.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PasswordHash {
    pub salt: String,
    pub hash: String,
}

impl PasswordHash {
    pub fn new(password: &str, salt: &[u8]) -> Self {
        let salt = hex(salt);
        let hash = sha256_hex(format!("{salt}:{password}").as_bytes());
        PasswordHash { salt, hash }
    }

    pub fn verify(&self, password: &str) -> bool {
        constant_time_eq(&sha256_hex(format!("{}:{password}", self.salt).as_bytes()), &self.hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_answer() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn passwords_are_salted_and_verified() {
        let a = PasswordHash::new("hunter2", &[1; 16]);
        let b = PasswordHash::new("hunter2", &[2; 16]);
        assert_ne!(a.hash, b.hash, "same password, different salt, different hash");
        assert!(a.verify("hunter2"));
        assert!(!a.verify("hunter3"));
        assert!(!a.hash.contains("hunter2"));
    }

    #[test]
    fn tokens_are_url_safe() {
        let t = token_from_entropy(&[0xff; 16]);
        assert_eq!(t.len(), 22);
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert!(constant_time_eq(&t, &t.clone()));
        assert!(!constant_time_eq(&t, "short"));
    }
}
