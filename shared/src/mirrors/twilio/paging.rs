//! Twilio's paging, over the toolkit's lists: `PageSize` (default 50, at most
//! 1,000), `Page` (a counter the client echoes) and `PageToken` (where the
//! page starts: `PA` + the last SID of the page before, `PB` + the first SID
//! of the page after). The 2010 API answers with relative `…_page_uri`
//! fields beside the items; the v1/v2 APIs with a `meta` block of absolute
//! `…_page_url`s. The SDKs follow `next_page_uri` / `meta.next_page_url`.

use serde_json::{json, Map, Value};

use super::error::{codes, TwilioError};
use super::pipeline::Call;
use crate::mirrors::toolkit::list::{self, Cursor, ListQuery};
use crate::mirrors::toolkit::objects::Kind;

/// The paging parameters, which are not filters.
const PAGING: &[&str] = &["PageSize", "Page", "PageToken"];

pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 1000;

/// One page of `kind` matching `q`'s filters, under `key`, in the 2010
/// API's envelope.
pub fn v2010(call: &Call, kind: &Kind, key: &str, q: ListQuery) -> Result<Value, TwilioError> {
    let (items, p) = page(call, kind, q)?;
    let uri = |page: usize, token: Option<&str>| uri_of(call, call.path, p.size, page, token);
    let mut out = Map::new();
    let n = items.len();
    out.insert("end".into(), json!(p.start + n.saturating_sub(1)));
    out.insert("first_page_uri".into(), json!(uri(0, None)));
    out.insert(key.into(), Value::Array(items));
    out.insert(
        "next_page_uri".into(),
        json!(p.next.as_deref().map(|t| uri(p.number + 1, Some(t)))),
    );
    out.insert("page".into(), json!(p.number));
    out.insert("page_size".into(), json!(p.size));
    out.insert(
        "previous_page_uri".into(),
        json!(p
            .previous
            .as_deref()
            .map(|t| uri(p.number.saturating_sub(1), Some(t)))),
    );
    out.insert("start".into(), json!(p.start));
    out.insert("uri".into(), json!(uri(p.number, p.token.as_deref())));
    Ok(Value::Object(out))
}

/// The request's `PageSize`, or Twilio's default.
pub fn page_size(call: &Call) -> Result<usize, TwilioError> {
    match call.params.get("PageSize").and_then(Value::as_i64) {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=MAX_PAGE_SIZE as i64).contains(&n) => Ok(n as usize),
        Some(n) => Err(TwilioError::bad(
            codes::INVALID_PARAMETER,
            format!("Invalid PageSize {n}: it must be between 1 and {MAX_PAGE_SIZE}"),
        )),
    }
}

/// `items`, the whole answer of a search that has no further pages (the
/// catalogue of numbers for sale), in the 2010 API's envelope.
pub fn single(call: &Call, key: &str, items: Vec<Value>, size: usize) -> Value {
    let uri = uri_of(call, call.path, size, 0, None);
    let n = items.len();
    json!({
        "end": n.saturating_sub(1),
        "first_page_uri": uri,
        key: items,
        "next_page_uri": null,
        "page": 0,
        "page_size": size,
        "previous_page_uri": null,
        "start": 0,
        "uri": uri,
    })
}

/// One page of `kind` matching `q`'s filters, under `key`, in the v1/v2
/// APIs' envelope (`meta`, absolute URLs back to the mirror), each item
/// through `item` (which writes its own absolute URLs).
pub fn v1(
    call: &Call,
    kind: &Kind,
    key: &str,
    q: ListQuery,
    item: impl Fn(Value) -> Value,
) -> Result<Value, TwilioError> {
    let (items, p) = page(call, kind, q)?;
    let items: Vec<Value> = items.into_iter().map(item).collect();
    let path = call.path;
    let url = |page: usize, token: Option<&str>| {
        format!(
            "{}{}",
            call.base_url,
            uri_of(call, path, p.size, page, token)
        )
    };
    Ok(json!({
        key: items,
        "meta": {
            "first_page_url": url(0, None),
            "key": key,
            "next_page_url": p.next.as_deref().map(|t| url(p.number + 1, Some(t))),
            "page": p.number,
            "page_size": p.size,
            "previous_page_url": p.previous.as_deref().map(|t| url(p.number.saturating_sub(1), Some(t))),
            "url": url(p.number, p.token.as_deref()),
        }
    }))
}

struct PageInfo {
    size: usize,
    number: usize,
    start: usize,
    token: Option<String>,
    next: Option<String>,
    previous: Option<String>,
}

fn page(call: &Call, kind: &Kind, mut q: ListQuery) -> Result<(Vec<Value>, PageInfo), TwilioError> {
    let p = call.params;
    let size = page_size(call)?;
    let number = p
        .get("Page")
        .and_then(Value::as_i64)
        .map_or(0, |n| n.max(0) as usize);
    let token = p
        .get("PageToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());
    q.limit = size;
    q.cursor = match token {
        None => Cursor::None,
        Some(t) => match (t.get(..2), t.get(2..)) {
            (Some("PA"), Some(sid)) => Cursor::After(sid.to_string()),
            (Some("PB"), Some(sid)) => Cursor::Before(sid.to_string()),
            _ => {
                return Err(TwilioError::bad(
                    codes::INVALID_PARAMETER,
                    format!("Invalid PageToken {t}"),
                ))
            }
        },
    };
    let listed = list::list(call.conn, kind, &q)?;
    let items = listed
        .data
        .iter()
        .map(|t| serde_json::from_str::<Value>(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(TwilioError::internal)?;
    let sid = |v: Option<&Value>| v.and_then(|v| v["sid"].as_str()).map(str::to_string);
    // Going back (`PB`) the list answers the page before the cursor: there is
    // a next page by construction, and a previous one if it says more.
    let backwards = matches!(q.cursor, Cursor::Before(_));
    let more_after = if backwards { true } else { listed.has_more };
    let more_before = if backwards {
        listed.has_more
    } else {
        token.is_some()
    };
    let info = PageInfo {
        size,
        number,
        start: number * size,
        token: token.map(str::to_string),
        next: more_after
            .then(|| sid(items.last()).map(|s| format!("PA{s}")))
            .flatten(),
        previous: more_before
            .then(|| sid(items.first()).map(|s| format!("PB{s}")))
            .flatten(),
    };
    Ok((items, info))
}

/// `path?<filters>&PageSize=…&Page=…[&PageToken=…]`, the filters as the
/// request gave them.
fn uri_of(call: &Call, path: &str, size: usize, page: usize, token: Option<&str>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(params) = call.params.as_object() {
        for (k, v) in params {
            if PAGING.contains(&k.as_str()) {
                continue;
            }
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            q.append_pair(k, &text);
        }
    }
    q.append_pair("PageSize", &size.to_string());
    q.append_pair("Page", &page.to_string());
    if let Some(t) = token {
        q.append_pair("PageToken", t);
    }
    format!("{path}?{}", q.finish())
}
