//! The dispatcher function: does due work — webhook and status-callback
//! deliveries, their retries, timed state changes — from the SQS queue the
//! requests that leave it due write to (`shared::lambda::Worker`). A message
//! that arrives early is enqueued again; one whose work fails is reported
//! back (partial batch response), so SQS delivers it again and finally to
//! the dead-letter queue.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::lambda::init_tracing();
    let worker = Arc::new(shared::lambda::Worker::from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let worker = worker.clone();
        async move { Ok::<SqsBatchResponse, Error>(worker.on_sqs(event.payload).await) }
    }))
    .await
}
