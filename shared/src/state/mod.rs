//! Per-mirror SQLite state: images ([`images`]), the commit log ([`LogEntry`]),
//! change capture ([`changes`]) and the working copies that serve requests
//! ([`StateEngine`]), held within a byte budget (`copies`), the least recently used compressed ([`frozen`]). Knows nothing of HTTP or vendors.

mod byte_lru;
pub mod changes;
mod compact;
mod copies;
mod engine;
mod error;
mod frozen;
pub mod images;
mod log;

pub use copies::{DEFAULT_CACHE_BYTES, DEFAULT_FROZEN_BYTES};

/// Where the objects only an ephemeral session needs go (its checkpoints, its
/// snapshots taken without `keep`): the session deletes them when it ends,
/// and on S3 a lifecycle rule on this prefix (`template.yaml`) expires what
/// an ending never got to (a crash, a row DynamoDB's TTL removed) once no
/// ephemeral session can still need it.
pub const EPHEMERAL_PREFIX: &str = "ephemeral/";
pub use engine::{MirrorKey, StateEngine, DEFAULT_COMPACT_EVERY, DEFAULT_COMPACT_LOG_FRACTION};
pub use error::{StateError, StateResult};
pub use images::{ImageRecipe, Images, DEFAULT_IMAGE_CACHE_BYTES};
pub use log::{LogEntry, RowChange};

#[cfg(test)]
mod tests {
    /// The bucket's rule (template.yaml) expires this prefix, and only after
    /// the longest an ephemeral session can live.
    #[test]
    fn the_templates_lifecycle_rule_expires_the_ephemeral_prefix_after_the_longest_session() {
        let template = include_str!("../../../template.yaml");
        let rule = template
            .split("- Id: expire-ephemeral-state")
            .nth(1)
            .expect("template.yaml has the expire-ephemeral-state rule");
        let field = |name: &str| {
            rule.lines()
                .find_map(|l| l.trim().strip_prefix(name))
                .map(str::trim)
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(field("Prefix:"), super::EPHEMERAL_PREFIX);
        let days: u64 = field("ExpirationInDays:").parse().expect("days");
        assert!(
            days * 86_400 > crate::session::MAX_TIMEOUT_SECS,
            "{days} days would expire state a live ephemeral session needs"
        );
    }
}
