//! [`DueQueue`] on Amazon SQS: one `SendMessage` per entry, held back with
//! `DelaySeconds` until the work is due (at most 15 minutes).

use async_trait::async_trait;

use super::queue::{delay_seconds, message, DueQueue, QueueError};
use crate::storage::DueWork;

#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url`, with the AWS settings of the environment.
    pub async fn from_env(url: &str) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        SqsQueue {
            client: aws_sdk_sqs::Client::new(&config),
            url: url.to_string(),
        }
    }

    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.client
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl DueQueue for SqsQueue {
    async fn enqueue(&self, work: &DueWork, now_ms: i64) -> Result<(), QueueError> {
        let delay = i32::try_from(delay_seconds(work.due_at_ms, now_ms)).unwrap_or(0);
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(message(work))
            .delay_seconds(delay)
            .send()
            .await
            .map_err(|e| {
                QueueError(format!(
                    "SendMessage to {}: {}",
                    self.url,
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                ))
            })?;
        Ok(())
    }
}
