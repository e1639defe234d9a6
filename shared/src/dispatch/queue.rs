//! Due work handed to a queue, for runtimes where nothing runs between
//! requests (AWS Lambda): the request that leaves work due enqueues it before
//! its response returns, and a queue-driven function does it when the
//! message arrives ([`super::Dispatcher::run_due`]). The due-work index stays
//! the record of what is owed; a message only says when to look, so a lost or
//! duplicated message costs a delay or a no-op pass, never a delivery (the
//! reaper's sweep enqueues again whatever is due and not done).

use async_trait::async_trait;

use crate::storage::DueWork;

/// The longest a queue holds a message back (SQS: 15 minutes). Work due later
/// is enqueued with this delay and enqueued again when it arrives early.
pub const MAX_DELAY_SECONDS: i64 = 900;

#[derive(Debug, thiserror::Error)]
#[error("due-work queue: {0}")]
pub struct QueueError(pub String);

/// A queue of due work. Contract: `enqueue` returns `Ok` only once the queue
/// has stored the message; the message is received no earlier than
/// [`delay_seconds`] after the call; messages may arrive more than once and
/// out of order (consumers look the work up in the index and state).
#[async_trait]
pub trait DueQueue: Send + Sync + 'static {
    async fn enqueue(&self, work: &DueWork, now_ms: i64) -> Result<(), QueueError>;
}

/// `work` as a message body: the index entry, as JSON.
pub fn message(work: &DueWork) -> String {
    serde_json::to_string(work).unwrap_or_default()
}

/// A message body back as the work it names.
pub fn parse(body: &str) -> Result<DueWork, QueueError> {
    serde_json::from_str(body)
        .map_err(|e| QueueError(format!("not a due-work message ({e}): {body:.200}")))
}

/// Whole seconds until `due_at_ms` (rounded up, so a message never arrives
/// before its work is due), at most [`MAX_DELAY_SECONDS`].
pub fn delay_seconds(due_at_ms: i64, now_ms: i64) -> i64 {
    let ms = (due_at_ms - now_ms).max(0);
    ((ms + 999) / 1000).min(MAX_DELAY_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_names_its_work_and_waits_until_it_is_due_or_fifteen_minutes() {
        let w = DueWork {
            session_id: "ses_ab12".into(),
            incarnation: "inc".into(),
            mirror: "stripe".into(),
            due_at_ms: 1_000_500,
        };
        assert_eq!(parse(&message(&w)).expect("parses"), w);
        assert!(parse("{}").is_err() && parse("nope").is_err());
        assert_eq!(delay_seconds(1_000_500, 1_000_000), 1);
        assert_eq!(delay_seconds(1_000_000, 1_000_000), 0);
        assert_eq!(delay_seconds(0, 1_000_000), 0);
        assert_eq!(delay_seconds(1_000_000 + 3_600_000, 1_000_000), 900);
    }
}
