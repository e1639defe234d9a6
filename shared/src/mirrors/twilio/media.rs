//! A message's media (`…/Messages/{MessageSid}/Media`): one per `MediaUrl`
//! the message was created with. Listed, fetched and deleted; the mirror
//! never downloads them, so `content_type` is read off the URL's extension.

use rusqlite::types::Value as Sql;
use serde_json::{json, Value};

use super::error::TwilioError;
use super::paging;
use super::pipeline::Call;
use super::Twilio;
use crate::mirrors::toolkit::list::{self, ListQuery};
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::toolkit::time::rfc2822;
use crate::mirrors::Vendor;

pub static KIND: Kind = Kind {
    object: "media",
    table: "media",
    prefix: "ME",
    id_len: 32,
    columns: &["parent_sid"],
};

/// Stores one media object per URL for message `parent`.
pub fn create_for(call: &Call, parent: &str, urls: &[&str]) -> Result<(), TwilioError> {
    let account = call.account_sid();
    let now = rfc2822(call.now_ms);
    for url in urls {
        let sid = Twilio.new_id(&KIND);
        let media = json!({
            "account_sid": account,
            "content_type": content_type(url),
            "date_created": now,
            "date_updated": now,
            "parent_sid": parent,
            "sid": sid,
            "uri": format!("/2010-04-01/Accounts/{account}/Messages/{parent}/Media/{sid}.json"),
        });
        KIND.insert_at(call.conn, &media, call.now_ms.div_euclid(1000))?;
    }
    Ok(())
}

fn load(call: &Call) -> Result<Value, TwilioError> {
    let (parent, sid) = (call.args.get("MessageSid"), call.args.get("Sid"));
    KIND.load(call.conn, sid)?
        .filter(|m| m["parent_sid"] == parent)
        .ok_or_else(|| TwilioError::not_found(call.path))
}

/// `ListMedia`.
pub fn list(call: &Call) -> Result<Value, TwilioError> {
    let parent = call.args.get("MessageSid");
    super::messages::load(call, parent)?;
    let q = ListQuery {
        filters: vec![("parent_sid", Sql::Text(parent.to_string()))],
        ..ListQuery::default()
    };
    paging::v2010(call, &KIND, "media_list", q)
}

/// `FetchMedia`.
pub fn retrieve(call: &Call) -> Result<Value, TwilioError> {
    load(call)
}

/// `DeleteMedia`.
pub fn remove(call: &Call) -> Result<Value, TwilioError> {
    let media = load(call)?;
    KIND.remove(call.conn, media["sid"].as_str().unwrap_or_default())?;
    Ok(Value::Null)
}

/// Deletes every media object of message `parent`.
pub fn remove_all(call: &Call, parent: &str) -> Result<(), TwilioError> {
    let q = ListQuery {
        limit: 1000,
        filters: vec![("parent_sid", Sql::Text(parent.to_string()))],
        ..ListQuery::default()
    };
    for text in list::list(call.conn, &KIND, &q)?.data {
        let media: Value = serde_json::from_str(&text).map_err(TwilioError::internal)?;
        KIND.remove(call.conn, media["sid"].as_str().unwrap_or_default())?;
    }
    Ok(())
}

/// The MIME type a URL's extension names.
pub fn content_type(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("mp4") => "video/mp4",
        Some("mp3") => "audio/mpeg",
        Some("pdf") => "application/pdf",
        Some("vcf") => "text/vcard",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}
