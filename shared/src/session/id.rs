//! Session, snapshot and credential identifiers.

use rand::Rng;

const ALNUM_LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` random characters from `alphabet`.
pub fn random_from(alphabet: &[u8], len: usize) -> String {
    let pick = |rng: &mut dyn rand::RngCore| {
        (0..len)
            .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
            .collect()
    };
    SEEDED.with(|s| match s.borrow_mut().as_mut() {
        Some(rng) => pick(rng),
        None => pick(&mut rand::rng()),
    })
}

thread_local! {
    /// Set while a seed image is built ([`seeded`]): ids and secrets drawn on
    /// this thread come from it, so one seed document always builds the same image.
    static SEEDED: std::cell::RefCell<Option<rand::rngs::StdRng>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with every id drawn on this thread taken from a generator seeded
/// with `seed` (building a seed image runs the mirror's own handlers, which
/// draw ids; the image must not depend on chance).
pub fn seeded<R>(seed: u64, f: impl FnOnce() -> R) -> R {
    use rand::SeedableRng;
    let previous = SEEDED.with(|s| s.replace(Some(rand::rngs::StdRng::seed_from_u64(seed))));
    let out = f();
    SEEDED.with(|s| *s.borrow_mut() = previous);
    out
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

/// A fresh snapshot id: `snap_` + 14 lowercase alphanumerics — the creation
/// time in milliseconds as 9 base-36 digits, then 5 random ones — so ids sort
/// by creation time and "newest first" is a plain descending key order.
pub fn new_snapshot_id(now_ms: i64) -> String {
    let mut time = [b'0'; 9];
    let mut t = now_ms.max(0) as u64;
    for digit in time.iter_mut().rev() {
        *digit = ALNUM_LOWER_SORTED[(t % 36) as usize];
        t /= 36;
    }
    let time = String::from_utf8_lossy(&time).into_owned();
    format!("snap_{time}{}", random_from(ALNUM_LOWER_SORTED, 5))
}

/// Base-36 digits in ASCII order, so fixed-width numbers sort as strings.
const ALNUM_LOWER_SORTED: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

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
            assert!(is_snapshot_id(&new_snapshot_id(1_764_654_270_123)));
        }
    }

    /// Listing newest first relies on snapshot ids sorting by creation time.
    #[test]
    fn snapshot_ids_sort_by_creation_time() {
        let mut last = new_snapshot_id(0);
        for ms in [
            1,
            35,
            36,
            999,
            1_000_000,
            1_764_654_270_123,
            1_764_654_270_124,
        ] {
            let next = new_snapshot_id(ms);
            assert!(next > last, "{next} must sort after {last}");
            last = next;
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

#[cfg(test)]
mod seeded_tests {
    use super::*;

    /// The same seed draws the same ids; outside, ids are random again.
    #[test]
    fn seeded_draws_repeat_and_end_with_the_closure() {
        let a = seeded(7, || (random_token(24), random_lower(4)));
        let b = seeded(7, || (random_token(24), random_lower(4)));
        assert_eq!(a, b);
        assert_ne!(seeded(8, || random_token(24)), a.0);
        assert_ne!(random_token(24), random_token(24));
    }
}
