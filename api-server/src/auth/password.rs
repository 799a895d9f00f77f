//! Passwords: the policy a new one must meet, and hashing with argon2id at one of the
//! parameter sets OWASP's Password Storage Cheat Sheet recommends as equally strong
//! (m=7 MiB, t=5, p=1): the one with the least memory, since every sign-in in flight holds
//! its hash's memory and the allocator keeps what it was given. Hashes made with other
//! parameters still verify (they carry their own). Verification of an unknown account still
//! spends one hash, so timing does not reveal which e-mails exist.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// The longest password accepted (hashing cost stays bounded).
pub const MAX_LENGTH: usize = 1024;

/// Common passwords (lower-cased), one per line after a comment header.
const COMMON: &str = include_str!("common-passwords.txt");

fn is_common(lowered: &str) -> bool {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect()
    })
    .contains(lowered)
}

/// Whether a new password may be used: at least `min_length` characters (and at most
/// [`MAX_LENGTH`]), not a well-known password, not one character repeated, and not the
/// account's own e-mail, username or name (`personal`). The reason when it may not.
pub fn check_policy(password: &str, min_length: usize, personal: &[&str]) -> Result<(), String> {
    let length = password.chars().count();
    if length < min_length {
        return Err(format!(
            "The password must be at least {min_length} characters long."
        ));
    }
    if length > MAX_LENGTH {
        return Err(format!(
            "The password must be at most {MAX_LENGTH} characters long."
        ));
    }
    let lowered = password.to_lowercase();
    let mut chars = lowered.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) || is_common(&lowered) {
        return Err(
            "This password is too common: it appears in lists attackers try first. Choose another."
                .into(),
        );
    }
    for p in personal {
        let p = p.trim().to_lowercase();
        let local = p.split('@').next().unwrap_or_default();
        let contains = |part: &str| part.chars().count() >= 4 && lowered.contains(part);
        if !p.is_empty() && (lowered == p || contains(&p) || contains(local)) {
            return Err("The password must not contain your e-mail, username or name.".into());
        }
    }
    Ok(())
}

/// Memory (KiB), passes and lanes of new hashes.
pub const PARAMS: (u32, u32, u32) = (7 * 1024, 5, 1);

fn hasher() -> Argon2<'static> {
    let (m, t, p) = PARAMS;
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(m, t, p, None).unwrap_or_default(),
    )
}

/// Hashes a password into its PHC string.
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(hasher().hash_password(password.as_bytes())?.to_string())
}

/// Whether `password` matches `stored`. `None` (no such user) burns one verification on a
/// fixed hash and answers false.
#[must_use]
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("rampart-timing-equaliser").unwrap_or_default());
    let (candidate, real) = match stored {
        Some(s) => (s, true),
        None => (dummy.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(candidate) else {
        return false;
    };
    let ok = hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let h = hash("correct horse battery staple").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{h}");
        assert!(verify("correct horse battery staple", Some(&h)));
        assert!(!verify("Correct horse battery staple", Some(&h)));
    }

    #[test]
    fn a_hash_made_with_other_parameters_still_verifies() {
        // Argon2's defaults (m=19 MiB, t=2), which earlier versions used.
        let old = Argon2::default()
            .hash_password(b"correct horse battery staple")
            .unwrap()
            .to_string();
        assert!(old.contains("m=19456,t=2,p=1"), "{old}");
        assert!(verify("correct horse battery staple", Some(&old)));
        assert!(!verify("correct horse battery stable", Some(&old)));
    }

    #[test]
    fn the_policy_refuses_short_common_repeated_and_personal_passwords() {
        let ok = |p: &str| check_policy(p, 12, &["jane.doe@example.com", "jdoe"]);
        assert!(ok("violet-otter-harbour").is_ok());
        assert!(ok("short-pass").unwrap_err().contains("at least 12"));
        for common in ["1q2w3e4r5t6y", "QWERTY123456", "qazwsxedcrfv"] {
            assert!(ok(common).unwrap_err().contains("too common"), "{common}");
        }
        assert!(ok("aaaaaaaaaaaaaaa").unwrap_err().contains("too common"));
        assert!(
            ok("jane.doe-is-my-password")
                .unwrap_err()
                .contains("e-mail")
        );
        assert!(ok("jane.doe@example.com").unwrap_err().contains("e-mail"));
        assert!(ok(&"x1".repeat(600)).unwrap_err().contains("at most"));
        assert!(check_policy("password", 8, &[]).is_err());
        assert!(check_policy("unusual-8", 8, &[]).is_ok());
    }

    #[test]
    fn an_unknown_user_never_verifies() {
        assert!(!verify("rampart-timing-equaliser", None));
    }
}
