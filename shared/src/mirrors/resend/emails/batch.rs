//! `POST /emails/batch`: up to 100 emails in one request. Resend's default
//! (`x-batch-validation: strict`) is all or nothing: one bad email refuses the
//! batch and nothing is sent. `permissive` sends the good ones and lists the
//! others' errors by index.

use serde_json::{json, Map, Value};

use super::send::{build, store};
use crate::mirrors::resend::account;
use crate::mirrors::resend::error::ResendError;
use crate::mirrors::resend::pipeline::Call;

/// Most emails one batch may hold.
pub const MAX_BATCH: usize = 100;

/// `POST /emails/batch`.
pub fn batch(call: &Call) -> Result<Value, ResendError> {
    let permissive = match call
        .headers
        .get("x-batch-validation")
        .map(|v| v.to_str().unwrap_or_default())
    {
        None | Some("strict") => false,
        Some("permissive") => true,
        Some(other) => {
            return Err(ResendError::validation(format!(
                "Invalid `x-batch-validation` header {other:?}: must be `strict` or `permissive`."
            )))
        }
    };
    account::check_quota(call.conn)?;
    let items = call.params.as_array().map(Vec::as_slice).unwrap_or(&[]);
    if items.is_empty() {
        return Err(ResendError::validation(
            "The batch must contain at least 1 email.",
        ));
    }
    if items.len() > MAX_BATCH {
        return Err(ResendError::validation(format!(
            "Too many emails in the batch: {} given, the maximum is {MAX_BATCH}.",
            items.len()
        )));
    }
    let empty = Map::new();
    let mut built = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match build(call, item.as_object().unwrap_or(&empty), true) {
            Ok(out) => built.push(out),
            Err(e) if permissive => errors.push(json!({"index": i, "message": e.message})),
            Err(e) => {
                return Err(ResendError {
                    message: format!("emails[{i}]: {}", e.message),
                    ..e
                })
            }
        }
    }
    let mut data = Vec::with_capacity(built.len());
    for out in built {
        data.push(json!({"id": store(call, out)?}));
    }
    Ok(if permissive {
        json!({"data": data, "errors": errors})
    } else {
        json!({"data": data})
    })
}
