//! Per-session request rate limits, as Stripe's test mode has them (there:
//! 25 requests per second): a token bucket per session incarnation, refilled at
//! the session's `rate_limit` per second with a burst of one second's worth.
//! Kept in memory per process — on AWS Lambda each warm instance counts on its
//! own — and forgotten on reset, so a reset restores the quota.

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

struct Bucket {
    tokens: f64,
    at_ms: i64,
}

#[derive(Default)]
pub struct RateLimits {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimits {
    /// Takes one request from `session`'s bucket at `now_ms`.
    pub fn admit(&self, session: &Session, now_ms: i64) -> Result<(), RateLimited> {
        let rate = session.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT);
        if rate == 0 {
            return Ok(());
        }
        let rate = f64::from(rate);
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let b = buckets
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
            Ok(())
        } else {
            Err(RateLimited {
                retry_after_ms: ((1.0 - b.tokens) / rate * 1000.0).ceil() as i64,
            })
        }
    }

    /// Drops a session's bucket (reset, end): its next request starts full.
    pub fn forget(&self, incarnation: &str) {
        if let Ok(mut b) = self.buckets.lock() {
            b.remove(incarnation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

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
}
