//! Passwords: argon2id with the `argon2` crate's default parameters (19 MiB, 2 passes, one
//! lane: OWASP's recommendation), stored as PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`),
//! so the parameters travel with each hash and can be raised later without invalidating old
//! ones. Hashing is slow on purpose: callers run it off the async executor
//! (`tokio::task::spawn_blocking`).
//!
//! [`dummy_hash`] is what a login for an unknown username is checked against, so that it costs
//! the same time as a wrong password for a real one and the answer's timing does not reveal
//! which usernames exist.

use crate::account::ConsoleError;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use std::sync::OnceLock;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted when setting one, in characters (a bound on what is hashed).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Hashes a password into a PHC string, with a fresh random salt. Refuses passwords shorter
/// than [`MIN_PASSWORD_CHARS`] or longer than [`MAX_PASSWORD_CHARS`].
pub fn hash_password(password: &str) -> Result<String, ConsoleError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(ConsoleError::WeakPassword);
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(ConsoleError::Hash(format!("a password may be at most {MAX_PASSWORD_CHARS} characters")));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ConsoleError::Hash(e.to_string()))
}

/// Whether `password` is the one `phc` was made from. The parameters are the hash's own. A
/// stored hash that does not parse never matches (and is logged: the account needs a new
/// password).
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default().verify_password(password.as_bytes(), &hash).is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "a stored organizer password hash does not parse; set a new password with baton organizer add");
            false
        }
    }
}

/// A hash of a random password nobody knows, made once per process with the same parameters
/// as [`hash_password`]: logins for unknown usernames are verified against it.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let secret: [u8; 24] = rand::random();
        let password: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        hash_password(&password).expect("a 48-character password hashes")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("", &h));
        // A fresh salt each time: the same password never gives the same string.
        assert_ne!(hash_password("correct horse battery").unwrap(), h);
    }

    #[test]
    fn short_passwords_are_refused_by_characters_not_bytes() {
        assert!(matches!(hash_password("123456789"), Err(ConsoleError::WeakPassword)));
        assert!(matches!(hash_password(""), Err(ConsoleError::WeakPassword)));
        // Nine Chinese characters are 27 bytes but still too short; ten are enough.
        assert!(matches!(hash_password("禁毒禁毒禁毒禁毒禁"), Err(ConsoleError::WeakPassword)));
        assert!(verify_password("禁毒禁毒禁毒禁毒禁毒", &hash_password("禁毒禁毒禁毒禁毒禁毒").unwrap()));
        assert!(hash_password(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
    }

    #[test]
    fn garbage_hashes_never_match() {
        assert!(!verify_password("anything at all", "not a phc string"));
        assert!(!verify_password("anything at all", ""));
    }

    /// The dummy costs what a real check costs: same algorithm, version and parameters.
    #[test]
    fn the_dummy_hash_has_the_parameters_of_real_ones() {
        let params = |phc: &str| phc.split('$').take(4).collect::<Vec<_>>().join("$");
        let real = hash_password("some real password").unwrap();
        assert_eq!(params(dummy_hash()), params(&real));
        assert!(params(&real).starts_with("$argon2id$v=19$m=19456,t=2,p=1"), "{real}");
        assert_eq!(dummy_hash(), dummy_hash(), "made once");
    }
}
