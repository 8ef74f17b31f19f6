//! Hashes of secrets the room keeps: resume tokens, the host token and the
//! room password. The room stores only SHA-256 hashes of tokens (128 random
//! bits each) and a PBKDF2-HMAC-SHA256 hash of the password with a random
//! salt of its own. Randomness is always an input from the shell: a seed the
//! room draws from ([`draw`]).

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

/// 16 bytes drawn from a 256-bit secret `seed`: SHA-256 of the seed and a
/// counter (a hash in counter mode; the seed comes from the platform's CSPRNG).
pub fn draw(seed: &[u8; 32], counter: u64) -> [u8; 16] {
    let digest = Sha256::new().chain_update(seed).chain_update(counter.to_le_bytes()).finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// PBKDF2-HMAC-SHA256 rounds for room passwords. Sized for the Workers CPU
/// budget: a check costs a few milliseconds (`cargo xtask bench room`
/// prints it); guessing online is held back by the rate limits, and this
/// makes a leaked hash slow to guess offline.
pub const PASSWORD_ROUNDS: u32 = 10_000;

/// A salted password hash. `rounds == 0` is the old salted SHA-256, still
/// verified so stored rooms keep working, and replaced on the next success.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PasswordHash {
    pub salt: String,
    pub hash: String,
    #[serde(default)]
    pub rounds: u32,
}

impl PasswordHash {
    pub fn new(password: &str, salt: &[u8]) -> Self {
        let salt = hex(salt);
        let hash = pbkdf2_hex(password, &salt, PASSWORD_ROUNDS);
        PasswordHash { salt, hash, rounds: PASSWORD_ROUNDS }
    }

    pub fn verify(&self, password: &str) -> bool {
        let hash = if self.rounds == 0 { sha256_hex(format!("{}:{password}", self.salt).as_bytes()) } else { pbkdf2_hex(password, &self.salt, self.rounds) };
        constant_time_eq(&hash, &self.hash)
    }

    /// Made with fewer rounds than rooms use now (rehash after a success).
    pub fn is_outdated(&self) -> bool {
        self.rounds < PASSWORD_ROUNDS
    }
}

fn pbkdf2_hex(password: &str, salt: &str, rounds: u32) -> String {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt.as_bytes(), rounds, &mut out);
    hex(&out)
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
        assert_eq!(a.rounds, PASSWORD_ROUNDS);
    }

    #[test]
    fn old_sha256_hashes_still_verify_and_are_outdated() {
        let salt = "0101";
        let old = PasswordHash { salt: salt.into(), hash: sha256_hex(format!("{salt}:pw").as_bytes()), rounds: 0 };
        assert!(old.verify("pw"));
        assert!(!old.verify("pw2"));
        assert!(old.is_outdated());
    }

    #[test]
    fn pbkdf2_known_answer() {
        // RFC 7914 §11 (PBKDF2-HMAC-SHA256, "passwd"/"salt", 1 round).
        assert_eq!(&pbkdf2_hex("passwd", "salt", 1)[..32], "55ac046e56e3089fec1691c22544b605");
    }

    #[test]
    fn draws_differ_by_counter_and_seed() {
        assert_ne!(draw(&[1; 32], 1), draw(&[1; 32], 2));
        assert_ne!(draw(&[1; 32], 1), draw(&[2; 32], 1));
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
