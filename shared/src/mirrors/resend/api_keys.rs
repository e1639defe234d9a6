//! API keys (`/api-keys`): more keys for the session, each shown once when it
//! is made and kept only as a SHA-256 digest. A `full_access` key does what
//! the session's own key does; a `sending_access` key may only send emails
//! (anything else is Resend's 401 `restricted_api_key`), and only from its
//! `domain_id`'s domain when it names one. A deleted key is invalid at once.
//!
//! Keys made here work at the session's base URL (`RESEND_BASE_URL`); routing
//! by key at the server's root knows the session's own key only.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::domains;
use super::emails::time::timestamp;
use super::error::ResendError;
use super::lists;
use super::pipeline::Call;
use super::Resend;
use crate::mirrors::toolkit::list::ListQuery;
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::Vendor;
use crate::session::id::random_token;
use rusqlite::types::Value as Sql;

/// Storage: one row per key, found by its token's digest.
pub static KIND: Kind = Kind {
    object: "api_key",
    table: "api_keys",
    prefix: "",
    id_len: 0,
    columns: &["token_sha256"],
};

/// What the key a request came with may do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Access {
    /// The session's own key, or a `full_access` one.
    #[default]
    Full,
    /// Only `POST /emails` and `/emails/batch`; from `domain` only, if set.
    Sending { domain: Option<String> },
}

/// The operations a `sending_access` key may call.
const SENDING: &[&str] = &["emails/send", "emails/send-batch"];

/// Longest key name.
const MAX_NAME: usize = 50;

/// What a key made through the API may do, or `None` for a token that
/// names no key of this session.
pub fn access_of(conn: &rusqlite::Connection, token: &str) -> Result<Option<Access>, ResendError> {
    let q = ListQuery {
        limit: 1,
        filters: vec![("token_sha256", Sql::Text(digest(token)))],
        ..ListQuery::default()
    };
    let Some(text) = crate::mirrors::toolkit::list::list(conn, &KIND, &q)?
        .data
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let key: Value = serde_json::from_str(&text).map_err(ResendError::internal)?;
    Ok(Some(match key["permission"].as_str() {
        Some("sending_access") => Access::Sending {
            domain: key["domain"].as_str().map(str::to_string),
        },
        _ => Access::Full,
    }))
}

impl Access {
    /// Resend's 401 when this key may not call `operation`.
    pub fn allows(&self, operation: &str) -> Result<(), ResendError> {
        match self {
            Access::Sending { .. } if !SENDING.contains(&operation) => Err(ResendError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "restricted_api_key",
                "This API key is restricted to only send emails.",
            )),
            _ => Ok(()),
        }
    }

    /// Resend's 403 when this key may not send from `domain`.
    pub fn may_send_from(&self, domain: &str) -> Result<(), ResendError> {
        match self {
            Access::Sending { domain: Some(only) } if !only.eq_ignore_ascii_case(domain) => {
                Err(ResendError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "validation_error",
                    format!("This API key is restricted to sending from the {only} domain."),
                ))
            }
            _ => Ok(()),
        }
    }
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `POST /api-keys`: `{id, token}`, the token shown this once.
pub fn create(call: &Call) -> Result<Value, ResendError> {
    let name = call.params["name"].as_str().unwrap_or_default().trim();
    if name.is_empty() {
        return Err(ResendError::missing_field("name"));
    }
    if name.chars().count() > MAX_NAME {
        return Err(ResendError::validation(format!(
            "The `name` field must be at most {MAX_NAME} characters."
        )));
    }
    let permission = call.params["permission"].as_str().unwrap_or("full_access");
    let domain = match call.params["domain_id"].as_str() {
        None => None,
        Some(_) if permission != "sending_access" => {
            return Err(ResendError::validation(
                "The `domain_id` field can only be used with `sending_access` permission.",
            ))
        }
        Some(id) => {
            let d = domains::KIND
                .load(call.conn, id)?
                .ok_or_else(|| ResendError::not_found("Domain"))?;
            d["name"].as_str().map(str::to_string)
        }
    };
    let id = Resend.new_id(&KIND);
    let token = format!("re_{}_{}", random_token(8), random_token(24));
    let key = json!({
        "id": id,
        "name": name,
        "created_at": timestamp(call.now_ms),
        "last_used_at": null,
        "permission": permission,
        "domain_id": call.params["domain_id"],
        "domain": domain,
        "token_sha256": digest(&token),
    });
    KIND.insert_at(call.conn, &key, call.now_ms.div_euclid(1000))?;
    Ok(json!({"id": id, "token": token}))
}

/// `GET /api-keys`: the keys made through the API, newest first.
pub fn list(call: &Call) -> Result<Value, ResendError> {
    lists::page(
        call,
        &KIND,
        ListQuery::default(),
        lists::only(&["id", "name", "created_at", "last_used_at"]),
    )
}

/// `PATCH /api-keys/{api_key_id}`: a new name.
pub fn update(call: &Call) -> Result<Value, ResendError> {
    let mut key = load(call)?;
    let name = call.params["name"].as_str().unwrap_or_default().trim();
    if name.is_empty() {
        return Err(ResendError::missing_field("name"));
    }
    key["name"] = json!(name);
    KIND.save(call.conn, &key)?;
    Ok(json!({"object": "api_key", "id": key["id"]}))
}

/// `DELETE /api-keys/{api_key_id}`: the key stops working at once.
pub fn remove(call: &Call) -> Result<Value, ResendError> {
    let key = load(call)?;
    let id = key["id"].as_str().unwrap_or_default();
    KIND.remove(call.conn, id)?;
    Ok(json!({"object": "api_key", "id": id, "deleted": true}))
}

fn load(call: &Call) -> Result<Value, ResendError> {
    KIND.load(call.conn, call.args.get("api_key_id"))?
        .ok_or_else(|| ResendError::not_found("API key"))
}
