//! Plans: what a workspace may do (longest ephemeral timeout, persistent
//! sessions) and how much (concurrent sessions, minutes per month). The
//! session service enforces them on create; the embedded default's single
//! workspace has none.

use serde::{Deserialize, Deserializer, Serialize};

/// A workspace's limits; `None` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Longest `timeout_seconds` of an ephemeral session (the server's own
    /// maximum, 7 days, applies on top).
    pub max_timeout_seconds: Option<u64>,
    /// Whether persistent sessions are allowed.
    pub persistent_sessions: bool,
    /// Live sessions at once.
    pub concurrent_sessions: Option<u64>,
    /// Session-minutes per calendar month (UTC), ephemeral and persistent together.
    pub minutes_per_month: Option<u64>,
}

impl Limits {
    /// No limits: the local workspace, the `unlimited` plan.
    pub const NONE: Limits = Limits {
        max_timeout_seconds: None,
        persistent_sessions: true,
        concurrent_sessions: None,
        minutes_per_month: None,
    };
}

/// The built-in plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    /// 1 h sessions, no persistent ones, 5 at once, 2,000 minutes a month.
    Free,
    /// 24 h sessions, persistent ones, 50 at once, 100,000 minutes a month.
    Team,
    /// No limits.
    Unlimited,
}

impl Plan {
    pub const ALL: [Plan; 3] = [Plan::Free, Plan::Team, Plan::Unlimited];

    pub fn limits(self) -> Limits {
        match self {
            Plan::Free => Limits {
                max_timeout_seconds: Some(3600),
                persistent_sessions: false,
                concurrent_sessions: Some(5),
                minutes_per_month: Some(2_000),
            },
            Plan::Team => Limits {
                max_timeout_seconds: Some(86_400),
                persistent_sessions: true,
                concurrent_sessions: Some(50),
                minutes_per_month: Some(100_000),
            },
            Plan::Unlimited => Limits::NONE,
        }
    }
}

/// Changes to a plan's limits, field by field: an absent field keeps the
/// plan's value, `null` lifts the limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    #[serde(default, deserialize_with = "some")]
    pub max_timeout_seconds: Option<Option<u64>>,
    #[serde(default)]
    pub persistent_sessions: Option<bool>,
    #[serde(default, deserialize_with = "some")]
    pub concurrent_sessions: Option<Option<u64>>,
    #[serde(default, deserialize_with = "some")]
    pub minutes_per_month: Option<Option<u64>>,
}

/// A present field (even `null`) is `Some`; `#[serde(default)]` makes an
/// absent one `None`.
fn some<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

impl LimitOverrides {
    pub fn apply(&self, mut limits: Limits) -> Limits {
        if let Some(v) = self.max_timeout_seconds {
            limits.max_timeout_seconds = v;
        }
        if let Some(v) = self.persistent_sessions {
            limits.persistent_sessions = v;
        }
        if let Some(v) = self.concurrent_sessions {
            limits.concurrent_sessions = v;
        }
        if let Some(v) = self.minutes_per_month {
            limits.minutes_per_month = v;
        }
        limits
    }
}

/// What a plan refused: a feature outside it (403, `quota: false`) or a quota
/// used up (402, `quota: true`), with a code a client can branch on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PlanError {
    pub quota: bool,
    /// `timeout_not_in_plan`, `persistent_not_in_plan`,
    /// `concurrent_sessions_reached`, `monthly_minutes_used`.
    pub code: &'static str,
    pub message: String,
}

impl PlanError {
    fn forbids(code: &'static str, message: String) -> Self {
        PlanError {
            quota: false,
            code,
            message,
        }
    }

    fn exhausted(code: &'static str, message: String) -> Self {
        PlanError {
            quota: true,
            code,
            message,
        }
    }

    /// `live` sessions run and the plan allows `max`.
    pub fn concurrent_reached(max: u64, live: u64) -> Self {
        PlanError::exhausted(
            "concurrent_sessions_reached",
            format!(
                "this workspace's plan allows {max} live sessions at once and {live} are running; \
                 end one (mirra down) or wait for one to expire"
            ),
        )
    }
}

impl Limits {
    /// What a new session may ask for: `persistent`, and an ephemeral
    /// timeout (`None`: the server's default, which the plan's maximum caps).
    pub fn check_request(
        &self,
        persistent: bool,
        timeout_seconds: Option<u64>,
    ) -> Result<(), PlanError> {
        if persistent && !self.persistent_sessions {
            return Err(PlanError::forbids(
                "persistent_not_in_plan",
                "this workspace's plan does not include persistent sessions".into(),
            ));
        }
        if let (Some(asked), Some(max)) = (timeout_seconds, self.max_timeout_seconds) {
            if asked > max {
                return Err(PlanError::forbids(
                    "timeout_not_in_plan",
                    format!(
                        "timeout_seconds {asked} is above this workspace's plan's maximum of {max}"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether one more session fits beside `live` running ones.
    pub fn check_concurrent(&self, live: u64) -> Result<(), PlanError> {
        match self.concurrent_sessions {
            Some(max) if live >= max => Err(PlanError::concurrent_reached(max, live)),
            _ => Ok(()),
        }
    }

    /// Whether minutes are left this month after `used`.
    pub fn check_minutes(&self, used: u64, period: &str) -> Result<(), PlanError> {
        match self.minutes_per_month {
            Some(max) if used >= max => Err(PlanError::exhausted(
                "monthly_minutes_used",
                format!(
                    "this workspace has used {used} of its plan's {max} session-minutes for {period}; \
                     new sessions can start next month or on a larger plan"
                ),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_keep_absent_fields_and_lift_null_ones() {
        let o: LimitOverrides =
            serde_json::from_str(r#"{"concurrent_sessions": 2, "minutes_per_month": null}"#)
                .expect("parse");
        let l = o.apply(Plan::Free.limits());
        assert_eq!(l.concurrent_sessions, Some(2));
        assert_eq!(l.minutes_per_month, None);
        assert_eq!(l.max_timeout_seconds, Some(3600));
        assert!(!l.persistent_sessions);
        assert!(serde_json::from_str::<LimitOverrides>(r#"{"seats": 3}"#).is_err());
    }

    #[test]
    fn limits_refuse_features_with_403_and_quotas_with_402() {
        let free = Plan::Free.limits();
        let e = free.check_request(true, None).expect_err("persistent");
        assert!(!e.quota);
        assert_eq!(e.code, "persistent_not_in_plan");
        assert_eq!(
            free.check_request(false, Some(7200))
                .expect_err("long")
                .code,
            "timeout_not_in_plan"
        );
        assert!(free.check_request(false, Some(3600)).is_ok());
        assert!(free.check_request(false, None).is_ok());
        assert!(free.check_concurrent(4).is_ok());
        let e = free.check_concurrent(5).expect_err("full");
        assert!(e.quota);
        assert!(free.check_minutes(1_999, "2026-12").is_ok());
        assert_eq!(
            free.check_minutes(2_000, "2026-12").expect_err("used").code,
            "monthly_minutes_used"
        );
        let none = Plan::Unlimited.limits();
        assert!(none.check_request(true, Some(604_800)).is_ok());
        assert!(none.check_concurrent(1_000_000).is_ok());
        assert!(none.check_minutes(u64::MAX, "2026-12").is_ok());
    }
}
