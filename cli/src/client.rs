//! A small blocking client for the control plane (`/v1/…`). Responses stay
//! `serde_json::Value`: `--json` must print the server's body exactly, and the
//! human output reads only the few fields it shows.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::blocking::{Client as Http, RequestBuilder};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::error::CliError;
use crate::servers::{url_key, Servers};

pub const DEFAULT_API_URL: &str = "http://127.0.0.1:4400";

/// The global flags, as given (`--token` also reads `MIRRA_TOKEN`, through clap).
#[derive(Debug, Clone, Default)]
pub struct Globals {
    pub api_url: Option<String>,
    pub token: Option<String>,
}

/// Where the token a client sends came from, so a 401 can say which one was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `--token` or `MIRRA_TOKEN`.
    Given,
    /// The record `mirra serve` left for this URL in the state dir.
    Recorded(PathBuf),
    /// `<data dir>/token` (`MIRRA_DATA_DIR`, default `.mirra`, relative to here).
    DataDir(PathBuf),
    None,
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Given => write!(f, "from --token / MIRRA_TOKEN"),
            TokenSource::Recorded(p) => write!(f, "recorded by `mirra serve` in {}", p.display()),
            TokenSource::DataDir(p) => write!(f, "read from {}", p.display()),
            TokenSource::None => write!(f, "none found"),
        }
    }
}

/// Where the server is and how to authenticate.
#[derive(Debug, Clone)]
pub struct Config {
    /// Normalised (no trailing `/`): also the key of the local session memory
    /// and of the server records.
    pub api_url: String,
    pub token: Option<String>,
    pub token_source: TokenSource,
    /// Other servers recorded on this machine, newest first: named in the hint
    /// when nothing answers at `api_url`.
    pub other_servers: Vec<String>,
}

impl Config {
    /// The URL: `--api-url`, else `MIRRA_API_URL`, else [`DEFAULT_API_URL`] —
    /// never a guess among recorded servers, so a command cannot silently act
    /// on another server than the one the user meant.
    ///
    /// The token: `--token`, else `MIRRA_TOKEN`, else the record `mirra serve`
    /// left for that URL, else the token file in the data dir (`MIRRA_DATA_DIR`,
    /// default `.mirra`).
    pub fn resolve(
        globals: &Globals,
        env: &dyn Fn(&str) -> Option<String>,
        servers: Option<&Servers>,
    ) -> Result<Self, CliError> {
        let clean = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let api_url = match (clean(globals.api_url.clone()), clean(env("MIRRA_API_URL"))) {
            (Some(flag), _) => normalise_url(&flag, "--api-url")?,
            (None, Some(var)) => normalise_url(&var, "MIRRA_API_URL")?,
            (None, None) => DEFAULT_API_URL.to_string(),
        };
        let given = clean(globals.token.clone()).or_else(|| clean(env("MIRRA_TOKEN")));
        let (token, token_source) = if let Some(t) = given {
            (Some(t), TokenSource::Given)
        } else if let Some(rec) = servers.and_then(|s| s.get(&api_url)) {
            let path = servers.map(|s| s.path_for(&api_url)).unwrap_or_default();
            (
                Some(rec.token.trim().to_string()),
                TokenSource::Recorded(path),
            )
        } else {
            let dir = clean(env("MIRRA_DATA_DIR")).unwrap_or_else(|| ".mirra".to_string());
            let file = PathBuf::from(dir).join("token");
            match clean(std::fs::read_to_string(&file).ok()) {
                Some(t) => (Some(t), TokenSource::DataDir(file)),
                None => (None, TokenSource::None),
            }
        };
        let other_servers = servers
            .map(Servers::all)
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.url)
            .filter(|u| *u != api_url)
            .collect();
        Ok(Config {
            api_url,
            token,
            token_source,
            other_servers,
        })
    }

    /// [`Config::resolve`] with the process environment and state dir.
    pub fn from_env(globals: &Globals) -> Result<Self, CliError> {
        let env = |k: &str| std::env::var(k).ok();
        Config::resolve(globals, &env, Servers::from_env().as_ref())
    }
}

/// Checks the URL once, up front (a bad one is a usage error, exit 2), in the
/// spelling server records use. `from` names the flag or variable it came from.
pub fn normalise_url(raw: &str, from: &str) -> Result<String, CliError> {
    url_key(raw).map_err(|why| CliError::Usage(format!("{from} {raw:?} is not usable: {why}")))
}

/// A successful answer: the parsed body for human output, and the body's own
/// bytes so `--json` prints exactly what the server sent (key order included).
#[derive(Debug, Clone)]
pub struct Reply {
    pub json: Value,
    pub raw: String,
}

impl Reply {
    /// A reply a command put together itself (from several requests).
    pub fn from_json(json: Value) -> Self {
        Reply {
            raw: json.to_string(),
            json,
        }
    }
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
        shared::tls::install_provider();
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
                    "the API URL {} cannot take a path",
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

    /// `GET` with a query string.
    pub fn get_query(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Reply, CliError> {
        self.send(Method::GET, segments, query, None)
    }

    /// A Server-Sent Events stream (`GET`, no overall timeout), resuming
    /// after the event `last_event_id`: the response to read lines from.
    pub fn stream(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        last_event_id: &str,
    ) -> Result<reqwest::blocking::Response, CliError> {
        let mut url = self.url(segments)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let http = Http::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(None)
            .user_agent(concat!("mirra-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::Usage(format!("cannot set up the HTTP client: {e}")))?;
        let mut req = http
            .get(url.clone())
            .header("accept", "text/event-stream")
            .header("last-event-id", last_event_id);
        if let Some(token) = &self.config.token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().map_err(|e| self.transport_error(&e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let text = resp.text().map_err(|e| self.transport_error(&e))?;
        match decode(status, &text, url.as_str()) {
            Err(e) => Err(self.explained(e)),
            Ok(_) => Err(CliError::Usage(format!("{url} answered {status}"))),
        }
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
        decode(status, &text, url.as_str()).map_err(|e| self.explained(e))
    }

    /// A 401 says which token was tried and where it came from.
    fn explained(&self, e: CliError) -> CliError {
        match e {
            CliError::Api {
                status: 401,
                message,
                ..
            } => CliError::Unauthorized {
                message,
                url: self.config.api_url.clone(),
                token: self.config.token_source.clone(),
            },
            other => other,
        }
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
            others: self.config.other_servers.clone(),
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
            normalise_url("http://127.0.0.1:4400/", "--api-url")
                .ok()
                .as_deref(),
            Some("http://127.0.0.1:4400")
        );
        assert_eq!(
            normalise_url("http://h/prefix/", "--api-url")
                .ok()
                .as_deref(),
            Some("http://h/prefix")
        );
        let e = normalise_url("127.0.0.1:4400", "MIRRA_API_URL").expect_err("no scheme");
        assert!(e.to_string().starts_with("MIRRA_API_URL"), "{e}");
        assert_eq!(e.exit_code(), 2);
        assert!(normalise_url("ftp://h", "--api-url").is_err());
    }

    fn config(api_url: &str) -> Config {
        Config {
            api_url: api_url.into(),
            token: None,
            token_source: TokenSource::None,
            other_servers: vec![],
        }
    }

    /// URL: flag > MIRRA_API_URL > the default (never a recorded guess).
    /// Token: flag > MIRRA_TOKEN > the server's record for that URL > the data dir.
    #[test]
    fn flags_beat_env_beats_the_servers_record_beats_the_data_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("mkdir");
        std::fs::write(data.join("token"), "tok_datadir\n").expect("write");
        let servers = Servers::in_state_dir(&dir.path().join("state"));
        let record = |url: &str, token: &str| {
            servers
                .record(&crate::servers::ServerRecord {
                    url: url.into(),
                    token: token.into(),
                    data_dir: data.clone(),
                    pid: 1,
                    started_at: 0,
                })
                .expect("record")
        };
        let data_dir = data.display().to_string();
        let resolve = |flags: Globals, vars: &[(&str, &str)], servers: Option<&Servers>| {
            let mut vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            vars.push(("MIRRA_DATA_DIR".into(), data_dir.clone()));
            let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            Config::resolve(&flags, &env, servers).expect("resolves")
        };
        let flags = |url: Option<&str>, token: Option<&str>| Globals {
            api_url: url.map(str::to_string),
            token: token.map(str::to_string),
        };
        let env_all = [
            ("MIRRA_API_URL", "http://127.0.0.1:5000/"),
            ("MIRRA_TOKEN", "tok_env"),
        ];

        // Nothing recorded: the default URL and the data dir's token.
        let c = resolve(flags(None, None), &[], Some(&servers));
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert_eq!(c.token.as_deref(), Some("tok_datadir"));
        assert!(matches!(c.token_source, TokenSource::DataDir(_)));

        let at_default = record(DEFAULT_API_URL, "tok_recorded_4400");
        record("http://127.0.0.1:5000", "tok_recorded_5000");
        let c = resolve(flags(None, None), &[], Some(&servers));
        assert_eq!(c.token.as_deref(), Some("tok_recorded_4400"));
        assert_eq!(c.token_source, TokenSource::Recorded(at_default));
        assert_eq!(c.other_servers, ["http://127.0.0.1:5000"]);

        // The record follows the URL, whichever way the URL was given.
        let c = resolve(
            flags(None, None),
            &[("MIRRA_API_URL", "http://127.0.0.1:5000/")],
            Some(&servers),
        );
        assert_eq!(
            (c.api_url.as_str(), c.token.as_deref()),
            ("http://127.0.0.1:5000", Some("tok_recorded_5000"))
        );
        let c = resolve(
            flags(Some("http://127.0.0.1:4400"), None),
            &env_all[..1],
            Some(&servers),
        );
        assert_eq!(c.token.as_deref(), Some("tok_recorded_4400"));

        // MIRRA_TOKEN beats the record; the flags beat the environment.
        let c = resolve(flags(None, None), &env_all, Some(&servers));
        assert_eq!(
            (c.api_url.as_str(), c.token.as_deref()),
            ("http://127.0.0.1:5000", Some("tok_env"))
        );
        assert_eq!(c.token_source, TokenSource::Given);
        let c = resolve(
            flags(Some("http://127.0.0.1:6000"), Some("tok_flag")),
            &env_all,
            Some(&servers),
        );
        assert_eq!(
            (c.api_url.as_str(), c.token.as_deref()),
            ("http://127.0.0.1:6000", Some("tok_flag"))
        );

        // No record for the URL (or no state dir): the data dir's token.
        let c = resolve(
            flags(Some("http://127.0.0.1:6000"), None),
            &[],
            Some(&servers),
        );
        assert_eq!(c.token.as_deref(), Some("tok_datadir"));
        let c = resolve(flags(None, None), &[], None);
        assert_eq!(c.token.as_deref(), Some("tok_datadir"));

        let bad = Config::resolve(&flags(Some("localhost:4400"), None), &|_| None, None);
        assert!(matches!(bad, Err(CliError::Usage(m)) if m.starts_with("--api-url")));
    }

    #[test]
    fn paths_are_built_under_the_base_and_encoded() {
        let c = Client::new(config("http://h:1/base")).expect("client");
        let u = c.url(&["v1", "sessions", "a/b c"]).expect("url");
        assert_eq!(u.as_str(), "http://h:1/base/v1/sessions/a%2Fb%20c");
        let c = Client::new(config("http://h:1")).expect("client");
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
