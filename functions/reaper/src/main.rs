//! The reaper function, on a schedule (EventBridge): ends expired sessions —
//! recording their usage, deleting an ephemeral session's state — and
//! enqueues again all due work not done, so a lost message costs a delay,
//! never a delivery (`shared::lambda::Worker::reap`).

use std::sync::Arc;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::lambda::init_tracing();
    let worker = Arc::new(shared::lambda::Worker::from_env().await?);
    lambda_runtime::run(service_fn(
        move |_: LambdaEvent<EventBridgeEvent<serde_json::Value>>| {
            let worker = worker.clone();
            async move { Ok::<_, Error>(serde_json::json!(worker.reap().await?)) }
        },
    ))
    .await
}
