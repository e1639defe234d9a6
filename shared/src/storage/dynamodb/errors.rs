//! DynamoDB errors as storage errors, and retries of conflicting calls.

use super::*;

// ------------------------------------------------------------------ errors

pub(super) fn failed(reasons: &[CancellationReason], i: usize) -> bool {
    reasons
        .get(i)
        .is_some_and(|r| r.code() == Some("ConditionalCheckFailed"))
}

pub(super) fn describe_reasons(reasons: &[CancellationReason]) -> String {
    reasons
        .iter()
        .map(|r| match r.message() {
            Some(m) => format!("{} ({m})", r.code().unwrap_or("?")),
            None => r.code().unwrap_or("?").to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn cancelled(what: &str, reasons: &[CancellationReason]) -> StorageError {
    StorageError::Backend(format!(
        "dynamodb {what}: transaction cancelled: {}",
        describe_reasons(reasons)
    ))
}

pub(super) fn ddb_err<E>(op: &str, table: &str, e: SdkError<E, HttpResponse>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    StorageError::Backend(format!("dynamodb {op} ({table}): {}", sdk_error_text(&e)))
}

pub(super) fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StorageError {
    StorageError::Backend(format!("dynamodb request: {e}"))
}

/// Retries a single-item write DynamoDB refused because a transaction held the item.
pub(super) async fn retry_conflicts<T, E, F, Fut>(
    mut call: F,
) -> Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e) if e.code() == Some("TransactionConflictException") && attempt < RETRIES => {
                attempt += 1;
                tokio::time::sleep(backoff(attempt)).await;
            }
            other => return other,
        }
    }
}
