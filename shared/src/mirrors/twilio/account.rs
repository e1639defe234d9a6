//! The session's account (`/2010-04-01/Accounts/{Sid}.json`): one per session,
//! its SID and auth token the session's credentials.

use serde_json::{json, Value};

use super::error::TwilioError;
use super::pipeline::Call;
use crate::mirrors::toolkit::time::rfc2822;

/// `FetchAccount`: only the session's own account exists.
pub fn retrieve(call: &Call) -> Result<Value, TwilioError> {
    let sid = call.args.get("Sid");
    if sid != call.account_sid() {
        return Err(TwilioError::not_found(call.path));
    }
    let created = rfc2822(call.ctx.session().created_at_ms);
    let token = call
        .ctx
        .credentials()
        .get("auth_token")
        .cloned()
        .unwrap_or_default();
    let uri = format!("/2010-04-01/Accounts/{sid}");
    let sub = |name: &str| format!("{uri}/{name}.json");
    Ok(json!({
        "auth_token": token,
        "date_created": created,
        "date_updated": created,
        "friendly_name": format!("Mirra session {}", call.ctx.session_id()),
        "owner_account_sid": sid,
        "sid": sid,
        "status": "active",
        "subresource_uris": {
            "incoming_phone_numbers": sub("IncomingPhoneNumbers"),
            "messages": sub("Messages"),
            "available_phone_numbers": sub("AvailablePhoneNumbers"),
        },
        "type": "Full",
        "uri": format!("{uri}.json"),
    }))
}
