//! Session, snapshot and credential identifiers.

use rand::Rng;

const ALNUM_LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` random characters from `alphabet`.
pub fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// `len` random lowercase alphanumerics.
pub fn random_lower(len: usize) -> String {
    random_from(ALNUM_LOWER, len)
}

/// `len` random mixed-case alphanumerics (secrets, object ids).
pub fn random_token(len: usize) -> String {
    random_from(ALNUM, len)
}

/// A fresh session id: `ses_` + 4 lowercase alphanumerics.
pub fn new_session_id() -> String {
    format!("ses_{}", random_lower(4))
}

/// True for a well-formed session id.
pub fn is_session_id(s: &str) -> bool {
    s.strip_prefix("ses_")
        .is_some_and(|rest| rest.len() == 4 && rest.bytes().all(|b| ALNUM_LOWER.contains(&b)))
}

/// A fresh snapshot id: `snap_` + 14 lowercase alphanumerics.
pub fn new_snapshot_id() -> String {
    format!("snap_{}", random_lower(14))
}

/// True for a well-formed snapshot id.
pub fn is_snapshot_id(s: &str) -> bool {
    s.strip_prefix("snap_")
        .is_some_and(|rest| rest.len() == 14 && rest.bytes().all(|b| ALNUM_LOWER.contains(&b)))
}

/// True for a session name: 1–63 of `[a-z0-9-_]`, starting with a letter or
/// digit, and never shaped like a session id (so `{id or name}` is unambiguous).
pub fn is_session_name(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !is_session_id(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_well_formed() {
        for _ in 0..1000 {
            assert!(is_session_id(&new_session_id()));
            assert!(is_snapshot_id(&new_snapshot_id()));
        }
    }

    #[test]
    fn malformed_ids_and_names_are_rejected() {
        for bad in ["ses_", "ses_ABCD", "ses_abcde", "ses_ab-d", "abcd", ""] {
            assert!(!is_session_id(bad), "{bad}");
        }
        for bad in ["", "Name", "-x", "ses_abcd", "a b", &"x".repeat(64)] {
            assert!(!is_session_name(bad), "{bad}");
        }
        assert!(is_session_name("staging-eu_1"));
    }
}
