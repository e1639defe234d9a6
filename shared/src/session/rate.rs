//! Per-session request rate limits, as Stripe's test mode has them (there:
//! 25 requests per second): a token bucket per session incarnation, refilled at
//! the session's `rate_limit` per second with a burst of one second's worth.
//! Kept in memory per process — on AWS Lambda each warm instance counts on its
//! own — and forgotten on reset, so a reset restores the quota. A bucket left
//! alone for a second is full again, as good as none, so idle buckets are
//! pruned: a bucket per session ever seen would pin a page of freed working
//! copies each (the allocator cannot return a page that holds one live
//! object), which was 4 MB more RSS per 1,000 ended sessions, for good.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Session;

/// Requests per second a session gets unless `mirra up --rate-limit` says
/// otherwise: generous, so only a test that asks for limits meets them.
pub const DEFAULT_RATE_LIMIT: u32 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    /// When a request would be admitted again.
    pub retry_after_ms: i64,
}

/// What is left of a session's budget after an admitted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Requests per second; 0: unlimited (then the rest says nothing).
    pub limit: u32,
    /// Requests that would still be admitted at once.
    pub remaining: u32,
    /// Until the bucket is full again.
    pub reset_ms: i64,
}

struct Bucket {
    tokens: f64,
    at_ms: i64,
}

/// A bucket idle this long has refilled (the burst is one second's worth).
const REFILLED_AFTER_MS: i64 = 1_000;

/// The map is pruned whenever it grows past this many buckets, or twice its
/// size after the last prune: amortized O(1) per request.
const PRUNE_AT_LEAST: usize = 1_024;

#[derive(Default)]
pub struct RateLimits {
    buckets: Mutex<Buckets>,
}

#[derive(Default)]
struct Buckets {
    by_incarnation: HashMap<String, Bucket>,
    prune_at: usize,
}

impl Buckets {
    /// Drops the buckets idle long enough to be full again.
    fn prune(&mut self, now_ms: i64) {
        self.by_incarnation
            .retain(|_, b| now_ms - b.at_ms < REFILLED_AFTER_MS);
        self.by_incarnation.shrink_to_fit();
        self.prune_at = PRUNE_AT_LEAST.max(2 * self.by_incarnation.len());
    }
}

impl RateLimits {
    /// Takes one request from `session`'s bucket at `now_ms`.
    pub fn admit(&self, session: &Session, now_ms: i64) -> Result<(), RateLimited> {
        self.admit_budget(session, now_ms).map(|_| ())
    }

    /// [`admit`](Self::admit), answering what is left of the budget after this
    /// request, for vendors that tell clients (Resend's `ratelimit-*` headers).
    pub fn admit_budget(&self, session: &Session, now_ms: i64) -> Result<Budget, RateLimited> {
        let limit = session.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT);
        if limit == 0 {
            return Ok(Budget {
                limit,
                remaining: 0,
                reset_ms: 0,
            });
        }
        let rate = f64::from(limit);
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        if buckets.by_incarnation.len() >= buckets.prune_at.max(PRUNE_AT_LEAST) {
            buckets.prune(now_ms);
        }
        let b = buckets
            .by_incarnation
            .entry(session.incarnation.clone())
            .or_insert(Bucket {
                tokens: rate,
                at_ms: now_ms,
            });
        let elapsed = (now_ms - b.at_ms).max(0) as f64 / 1000.0;
        b.tokens = (b.tokens + elapsed * rate).min(rate);
        b.at_ms = now_ms;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(Budget {
                limit,
                remaining: b.tokens.floor() as u32,
                reset_ms: ((rate - b.tokens) / rate * 1000.0).ceil() as i64,
            })
        } else {
            Err(RateLimited {
                retry_after_ms: ((1.0 - b.tokens) / rate * 1000.0).ceil() as i64,
            })
        }
    }

    /// Drops a session's bucket (reset, end): its next request starts full.
    pub fn forget(&self, incarnation: &str) {
        if let Ok(mut b) = self.buckets.lock() {
            b.by_incarnation.remove(incarnation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// An admitted request says what is left: the whole second's worth less
    /// what was taken, and how long until the bucket is full again.
    #[test]
    fn an_admitted_request_says_what_is_left_of_the_budget() {
        let limits = RateLimits::default();
        let s = session(Some(4));
        let b = limits.admit_budget(&s, 1_000).expect("admitted");
        assert_eq!((b.limit, b.remaining, b.reset_ms), (4, 3, 250));
        limits.admit_budget(&s, 1_000).expect("admitted");
        let b = limits.admit_budget(&s, 1_000).expect("admitted");
        assert_eq!((b.remaining, b.reset_ms), (1, 750));
        let unlimited = limits.admit_budget(&session(Some(0)), 0).expect("admitted");
        assert_eq!(unlimited.limit, 0);
    }

    fn session(rate: Option<u32>) -> Session {
        Session {
            id: "ses_abcd".into(),
            name: None,
            workspace: "w".into(),
            mode: super::super::Mode::Ephemeral,
            config_hash: String::new(),
            cached: true,
            created_at: 0,
            expires_at: None,
            created_at_ms: 0,
            expires_at_ms: None,
            incarnation: "inc".into(),
            mirrors: BTreeMap::new(),
            rate_limit: rate,
        }
    }

    /// A burst of one second's worth passes, the next is refused with when to
    /// retry, time refills the bucket, and forgetting restores it at once.
    #[test]
    fn buckets_admit_a_burst_refill_over_time_and_reset() {
        let limits = RateLimits::default();
        let s = session(Some(5));
        for _ in 0..5 {
            assert_eq!(limits.admit(&s, 1_000), Ok(()));
        }
        assert_eq!(
            limits.admit(&s, 1_000),
            Err(RateLimited {
                retry_after_ms: 200
            })
        );
        assert_eq!(limits.admit(&s, 1_200), Ok(()));
        assert!(limits.admit(&s, 1_200).is_err());
        limits.forget("inc");
        assert_eq!(limits.admit(&s, 1_200), Ok(()));
        let unlimited = session(Some(0));
        assert!((0..10_000).all(|_| limits.admit(&unlimited, 0).is_ok()));
    }

    /// Sessions come and go; the buckets of those no longer sending are
    /// dropped once they are full again, so the map does not grow with every
    /// session ever seen.
    #[test]
    fn idle_buckets_are_pruned_once_refilled() {
        let limits = RateLimits::default();
        for i in 0..10_000 {
            let mut s = session(Some(5));
            s.incarnation = format!("inc{i}");
            assert_eq!(limits.admit(&s, i64::from(i)), Ok(()));
        }
        let held = limits
            .buckets
            .lock()
            .map(|b| b.by_incarnation.len())
            .unwrap_or(0);
        assert!(held <= 2 * 1_024, "{held} buckets held for 10,000 sessions");
        // A bucket still refilling survives a prune: its limit holds.
        let busy = session(Some(1));
        assert_eq!(limits.admit(&busy, 20_000), Ok(()));
        for i in 0..3_000 {
            let mut s = session(Some(5));
            s.incarnation = format!("later{i}");
            let _ = limits.admit(&s, 20_500);
        }
        assert!(limits.admit(&busy, 20_500).is_err());
    }
}
