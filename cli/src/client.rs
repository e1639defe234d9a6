//! A small blocking client for the control plane (`/v1/…`). Responses stay
//! `serde_json::Value`: `--json` must print the server's body exactly, and the
//! human output reads only the few fields it shows.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::blocking::{Client as Http, RequestBuilder};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::error::CliError;

pub const DEFAULT_API_URL: &str = "http://127.0.0.1:4400";

/// Where the server is and how to authenticate, from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Normalised (no trailing `/`): also the key of the local session memory.
    pub api_url: String,
    pub token: Option<String>,
}

impl Config {
    /// `MIRRA_API_URL` (default [`DEFAULT_API_URL`]); `MIRRA_TOKEN`, else the token
    /// file `mirra serve` writes in its data dir (`MIRRA_DATA_DIR`, default `.mirra`).
    pub fn from_env() -> Result<Self, CliError> {
        let var = |k: &str| {
            std::env::var(k)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let api_url =
            normalise_url(&var("MIRRA_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_string()))?;
        let token = var("MIRRA_TOKEN").or_else(|| {
            let dir = var("MIRRA_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(".mirra"));
            std::fs::read_to_string(dir.join("token"))
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        });
        Ok(Config { api_url, token })
    }
}

/// Checks the URL once, up front, and drops a trailing `/` so that
/// `http://h:1/` and `http://h:1` are the same server.
pub fn normalise_url(raw: &str) -> Result<String, CliError> {
    let bad = |why: String| CliError::Usage(format!("MIRRA_API_URL {raw:?} is not usable: {why}"));
    let url = Url::parse(raw).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(bad("expected an http:// or https:// address".into()));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// A successful answer: the parsed body for human output, and the body's own
/// bytes so `--json` prints exactly what the server sent (key order included).
#[derive(Debug, Clone)]
pub struct Reply {
    pub json: Value,
    pub raw: String,
}

/// Lets commands read fields straight off a reply.
impl std::ops::Deref for Reply {
    type Target = Value;
    fn deref(&self) -> &Value {
        &self.json
    }
}

pub struct Client {
    http: Http,
    config: Config,
}

impl Client {
    pub fn new(config: Config) -> Result<Self, CliError> {
        let http = Http::builder()
            .connect_timeout(Duration::from_secs(5))
            // Creating a session from a large seed file builds an image: allow it time.
            .timeout(Duration::from_secs(300))
            .user_agent(concat!("mirra-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::Usage(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client { http, config })
    }

    pub fn api_url(&self) -> &str {
        &self.config.api_url
    }

    /// `segments` are path segments under the API URL; each is percent-encoded,
    /// so a session name can never escape its place in the path.
    fn url(&self, segments: &[&str]) -> Result<Url, CliError> {
        let mut url =
            Url::parse(&self.config.api_url).map_err(|e| CliError::Usage(e.to_string()))?;
        url.path_segments_mut()
            .map_err(|()| {
                CliError::Usage(format!(
                    "MIRRA_API_URL {} cannot take a path",
                    self.config.api_url
                ))
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    pub fn get(&self, segments: &[&str]) -> Result<Reply, CliError> {
        self.send(Method::GET, segments, &[], None)
    }

    /// Every item of a paged list (`{"object":"list","data","has_more"}`),
    /// following `starting_after` page by page, as one list with `has_more: false`.
    pub fn get_all(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Reply, CliError> {
        let mut data = Vec::new();
        let mut after: Option<String> = None;
        let mut first: Option<Value> = None;
        loop {
            let mut q: Vec<(&str, &str)> = query.to_vec();
            q.push(("limit", "1000"));
            if let Some(a) = &after {
                q.push(("starting_after", a));
            }
            let page = self.send(Method::GET, segments, &q, None)?.json;
            let items = page
                .get("data")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let more = page.get("has_more").and_then(Value::as_bool) == Some(true);
            after = items
                .last()
                .and_then(|i| i.get("id"))
                .and_then(Value::as_str)
                .map(str::to_string);
            data.extend(items);
            first.get_or_insert(page);
            if !more || after.is_none() {
                break;
            }
        }
        let mut list = first.unwrap_or_else(|| serde_json::json!({"object": "list"}));
        list["data"] = Value::Array(data);
        list["has_more"] = Value::Bool(false);
        Ok(Reply {
            raw: list.to_string(),
            json: list,
        })
    }

    pub fn post(&self, segments: &[&str], body: &Value) -> Result<Reply, CliError> {
        self.send(Method::POST, segments, &[], Some(body))
    }

    pub fn delete(&self, segments: &[&str]) -> Result<Reply, CliError> {
        self.send(Method::DELETE, segments, &[], None)
    }

    fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply, CliError> {
        let mut url = self.url(segments)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        tracing::debug!(%method, %url, "request");
        let mut req: RequestBuilder = self.http.request(method, url.clone());
        if let Some(token) = &self.config.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().map_err(|e| self.transport_error(&e))?;
        let status = resp.status();
        let text = resp.text().map_err(|e| self.transport_error(&e))?;
        tracing::debug!(%status, bytes = text.len(), "response");
        decode(status, &text, url.as_str())
    }

    fn transport_error(&self, e: &reqwest::Error) -> CliError {
        let reason = if e.is_timeout() {
            "timed out".to_string()
        } else if is_refused(e) {
            "connection refused".to_string()
        } else {
            error_chain(e)
        };
        CliError::Connect {
            url: self.config.api_url.clone(),
            reason,
        }
    }
}

/// Turns a status and body into the API's JSON, or the error the body describes.
pub fn decode(status: StatusCode, text: &str, url: &str) -> Result<Reply, CliError> {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    if status.is_success() {
        return match parsed {
            Some(json @ Value::Object(_)) => Ok(Reply {
                json,
                raw: text.trim().to_string(),
            }),
            _ => Err(CliError::Protocol {
                url: url.to_string(),
                reason: format!(
                    "status {status} with a body that is not a JSON object: {}",
                    snippet(text)
                ),
            }),
        };
    }
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let kind = error.and_then(|e| e.get("type")).and_then(Value::as_str);
    let message = error.and_then(|e| e.get("message")).and_then(Value::as_str);
    let code = error.and_then(|e| e.get("code")).and_then(Value::as_str);
    Err(CliError::Api {
        status: status.as_u16(),
        kind: kind.map_or_else(|| format!("http_{}", status.as_u16()), str::to_string),
        code: code.map(str::to_string),
        message: match message {
            Some(m) => m.to_string(),
            None if text.trim().is_empty() => format!("the server answered {status}"),
            None => format!("the server answered {status}: {}", snippet(text)),
        },
        remembered_session: None,
    })
}

fn snippet(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

fn is_refused(e: &reqwest::Error) -> bool {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        src = s.source();
    }
    false
}

/// reqwest's top-level message is generic ("error sending request"); the cause is below it.
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = vec![];
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        let msg = s.to_string();
        if !parts.iter().any(|p: &String| p.contains(&msg)) {
            parts.push(msg);
        }
        src = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalised_and_checked() {
        assert_eq!(
            normalise_url("http://127.0.0.1:4400/").ok().as_deref(),
            Some("http://127.0.0.1:4400")
        );
        assert_eq!(
            normalise_url("http://h/prefix/").ok().as_deref(),
            Some("http://h/prefix")
        );
        assert!(normalise_url("127.0.0.1:4400").is_err());
        assert!(normalise_url("ftp://h").is_err());
    }

    #[test]
    fn paths_are_built_under_the_base_and_encoded() {
        let c = Client::new(Config {
            api_url: "http://h:1/base".into(),
            token: None,
        })
        .expect("client");
        let u = c.url(&["v1", "sessions", "a/b c"]).expect("url");
        assert_eq!(u.as_str(), "http://h:1/base/v1/sessions/a%2Fb%20c");
        let c = Client::new(Config {
            api_url: "http://h:1".into(),
            token: None,
        })
        .expect("client");
        assert_eq!(
            c.url(&["v1", "usage"]).expect("url").as_str(),
            "http://h:1/v1/usage"
        );
    }

    #[test]
    fn api_errors_carry_type_and_message() {
        let body = r#"{"error":{"type":"not_found","message":"no session ses_zzzz"}}"#;
        match decode(StatusCode::NOT_FOUND, body, "u") {
            Err(CliError::Api {
                status,
                kind,
                message,
                ..
            }) => {
                assert_eq!(
                    (status, kind.as_str(), message.as_str()),
                    (404, "not_found", "no session ses_zzzz")
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        match decode(StatusCode::BAD_GATEWAY, "<html>oops</html>", "u") {
            Err(CliError::Api { kind, message, .. }) => {
                assert_eq!(kind, "http_502");
                assert!(
                    message.contains("502") && message.contains("oops"),
                    "{message}"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            decode(StatusCode::OK, "[]", "u"),
            Err(CliError::Protocol { .. })
        ));
        assert!(decode(StatusCode::CREATED, r#"{"id":"ses_ab12"}"#, "u").is_ok());
    }
}
