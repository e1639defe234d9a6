//! The session inbox: every email the mirror "sent", as its recipients would
//! get it — rendered HTML and text, headers, attachments (bytes in base64),
//! recipients and the links in its HTML — so a test can read the magic link it
//! just sent. A message is written with its email (`status: scheduled` for a
//! scheduled one) and shows in the inbox once `sent`; a canceled one never
//! does. It is mirror state like any other: reset empties it, snapshots keep it.
//!
//! Read through the control plane: `GET /v1/sessions/{id}/inbox` (newest first,
//! `?to=` a recipient, `?limit=`) and `GET /v1/sessions/{id}/inbox/{email_id}`.

use rusqlite::types::Value as Sql;
use rusqlite::Connection;
use serde_json::Value;

use crate::mirrors::toolkit::list::{self, ListQuery};
use crate::mirrors::toolkit::objects::Kind;
use crate::session::SessionContext;
use crate::state::StateError;

/// Storage: one row per email, `status` indexed.
pub static KIND: Kind = Kind {
    object: "inbox_message",
    table: "inbox",
    prefix: "",
    id_len: 0,
    columns: &["status"],
};

/// Most messages one read returns.
pub const MAX_LIMIT: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("sqlite: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    List(#[from] list::ListError),
}

/// Moves a message to `status` (`sent`, `canceled`), stamping `sent_at`.
pub fn mark(conn: &Connection, id: &str, status: &str, at: &str) -> rusqlite::Result<()> {
    let Some(mut msg) = KIND.load(conn, id)? else {
        return Ok(());
    };
    msg["status"] = Value::String(status.to_string());
    if status == "sent" {
        msg["sent_at"] = Value::String(at.to_string());
    }
    KIND.save(conn, &msg)
}

/// The sent messages, newest first; with `to`, only those one of whose
/// recipients (`to`, `cc` or `bcc`) is that address (case-insensitive).
pub async fn list(
    ctx: &SessionContext,
    to: Option<&str>,
    limit: usize,
) -> Result<Vec<Value>, InboxError> {
    let want = to.map(str::to_ascii_lowercase);
    ctx.read(|conn| {
        let mut out = Vec::new();
        let mut q = ListQuery {
            limit: MAX_LIMIT,
            filters: vec![("status", Sql::Text("sent".into()))],
            ..ListQuery::default()
        };
        loop {
            let page = list::list(conn, &KIND, &q)?;
            let mut last = None;
            for text in &page.data {
                let msg: Value = serde_json::from_str(text).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })?;
                last = msg["id"].as_str().map(str::to_string);
                if want.as_deref().is_none_or(|w| addressed_to(&msg, w)) {
                    out.push(msg);
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
            }
            match (page.has_more, last) {
                (true, Some(id)) => q.cursor = list::Cursor::After(id),
                _ => return Ok(out),
            }
        }
    })
    .await
}

/// One message by its email's id, once sent.
pub async fn get(ctx: &SessionContext, id: &str) -> Result<Option<Value>, InboxError> {
    ctx.read(|conn| {
        Ok(KIND
            .load(conn, id)?
            .filter(|m| m["status"].as_str() == Some("sent")))
    })
    .await
}

fn addressed_to(msg: &Value, want: &str) -> bool {
    msg["recipients"]
        .as_array()
        .is_some_and(|r| r.iter().any(|a| a.as_str() == Some(want)))
}

/// The `href` targets in `html`, in order, each once.
pub fn links(html: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, link) in hrefs(html) {
        if !out.contains(&link) {
            out.push(link);
        }
    }
    out
}

/// `html` with each `href` target replaced by `to(link)` (click tracking).
pub fn map_links(html: &str, to: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(html.len());
    let mut done = 0;
    for (span, link) in hrefs(html) {
        out.push_str(&html[done..span.start]);
        out.push('"');
        out.push_str(&to(&link).replace('&', "&amp;").replace('"', "&quot;"));
        out.push('"');
        done = span.end;
    }
    out.push_str(&html[done..]);
    out
}

/// Each `href` value in `html`: where it is (quotes included) and the link
/// it names (entities undone), in order.
fn hrefs(html: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("href") {
        let mut i = from + at + 4;
        from = i;
        let rest = &html[i..];
        let trimmed = rest.trim_start();
        i += rest.len() - trimmed.len();
        let Some(after_eq) = trimmed.strip_prefix('=') else {
            continue;
        };
        i += 1;
        let value = after_eq.trim_start();
        i += after_eq.len() - value.len();
        let (link, len) = match value.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let inner = value[1..].split(q).next().unwrap_or_default();
                let closed = value[1 + inner.len()..].starts_with(q);
                (inner, 1 + inner.len() + usize::from(closed))
            }
            _ => {
                let bare = value
                    .split(|c: char| c.is_whitespace() || c == '>')
                    .next()
                    .unwrap_or_default();
                (bare, bare.len())
            }
        };
        let link = link.trim().replace("&amp;", "&");
        if !link.is_empty() {
            out.push((i..i + len, link));
        }
        from = i + len.max(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quoted and bare `href`s are found once each, entities undone.
    #[test]
    fn links_are_read_from_html_once_each() {
        let html = r#"<a href="https://app.test/login?t=1&amp;u=2">in</a> <A HREF='https://x.test/'>x</A>
            <a href=https://bare.test/p>b</a> <a href="https://x.test/">again</a> <p>no href here</p>"#;
        assert_eq!(
            links(html),
            vec![
                "https://app.test/login?t=1&u=2",
                "https://x.test/",
                "https://bare.test/p"
            ]
        );
        assert!(links("<p>plain</p>").is_empty());
    }

    /// Every href is rewritten where it stands, the rest left as it was.
    #[test]
    fn links_are_rewritten_in_place() {
        let html = r#"<a href="https://a.test/?x=1&amp;y=2">a</a> <A HREF='https://b.test/'>b</A> <a href=https://c.test>c</a>!"#;
        let out = map_links(html, |l| format!("T[{l}]"));
        assert_eq!(
            out,
            r#"<a href="T[https://a.test/?x=1&amp;y=2]">a</a> <A HREF="T[https://b.test/]">b</A> <a href="T[https://c.test]">c</a>!"#
        );
        assert_eq!(map_links("<p>none</p>", |l| l.to_string()), "<p>none</p>");
    }
}
