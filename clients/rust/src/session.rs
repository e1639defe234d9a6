//! The session guard: `up` on creation, `down` on drop.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::{Error, Server};

/// What session to start (see [`MirraSession::builder`]).
#[derive(Debug, Clone, Default)]
pub struct Builder {
    mirrors: Vec<String>,
    seeds: BTreeMap<String, String>,
    seed_files: BTreeMap<String, Value>,
    timeout: Option<Duration>,
    persistent: Option<String>,
    server: Option<Server>,
}

impl Builder {
    /// The session's mirrors (default: `stripe`).
    pub fn mirrors<I: IntoIterator<Item = S>, S: Into<String>>(mut self, mirrors: I) -> Self {
        self.mirrors = mirrors.into_iter().map(Into::into).collect();
        self
    }

    /// Starts `mirror` from the named seed (`stripe`, `default`).
    pub fn seed(mut self, mirror: &str, seed: &str) -> Self {
        self.seeds.insert(mirror.into(), seed.into());
        self
    }

    /// Starts `mirror` from a seed given as JSON (a seed file's contents).
    pub fn seed_file(mut self, mirror: &str, seed: Value) -> Self {
        self.seed_files.insert(mirror.into(), seed);
        self
    }

    /// Ends the session after `timeout` even if it is never dropped (a killed
    /// test run): the backstop. Default: the server's (60 minutes).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A persistent session named `name`: reused when it exists, and kept
    /// (not ended) when the guard drops.
    pub fn persistent(mut self, name: &str) -> Self {
        self.persistent = Some(name.into());
        self
    }

    /// Uses this server instead of finding one.
    pub fn server(mut self, server: Server) -> Self {
        self.server = Some(server);
        self
    }

    /// Starts (or, when persistent, finds) the session.
    pub async fn up(self) -> Result<MirraSession, Error> {
        let server = match self.server {
            Some(s) => s,
            None => Server::find().await?,
        };
        if let Some(name) = &self.persistent {
            match server
                .request(Method::GET, &format!("/v1/sessions/{name}"), None)
                .await
            {
                Ok(data) => {
                    return Ok(MirraSession::new(server, data, self.seeds, self.seed_files))
                }
                Err(e) if matches!(e.status(), Some(404 | 410)) => {}
                Err(e) => return Err(e),
            }
        }
        let mirrors = if self.mirrors.is_empty() {
            vec!["stripe".to_string()]
        } else {
            self.mirrors
        };
        let mut body = json!({
            "mirrors": mirrors,
            "seeds": self.seeds,
            "seed_files": self.seed_files,
            "persistent": self.persistent.is_some(),
            "name": self.persistent,
        });
        if let (Some(t), false) = (self.timeout, body["persistent"] == true) {
            body["timeout_seconds"] = json!(t.as_secs().max(1));
        }
        let data = server
            .request(Method::POST, "/v1/sessions", Some(&body))
            .await?;
        Ok(MirraSession::new(server, data, self.seeds, self.seed_files))
    }
}

/// A live session, ended when dropped (unless persistent).
#[derive(Debug)]
pub struct MirraSession {
    server: Server,
    data: Value,
    start_seeds: BTreeMap<String, String>,
    start_files: BTreeMap<String, Value>,
    /// Mirrors a [`MirraSession::reset_to`] moved off their starting seed.
    changed: Mutex<BTreeSet<String>>,
    ended: bool,
}

impl MirraSession {
    /// A session with the Stripe mirror on its default seed.
    pub async fn up() -> Result<MirraSession, Error> {
        Builder::default().up().await
    }

    pub fn builder() -> Builder {
        Builder::default()
    }

    fn new(
        server: Server,
        data: Value,
        start_seeds: BTreeMap<String, String>,
        start_files: BTreeMap<String, Value>,
    ) -> MirraSession {
        MirraSession {
            server,
            data,
            start_seeds,
            start_files,
            changed: Mutex::new(BTreeSet::new()),
            ended: false,
        }
    }

    pub fn id(&self) -> &str {
        self.data["id"].as_str().unwrap_or_default()
    }

    /// The session as the control plane answered it.
    pub fn json(&self) -> &Value {
        &self.data
    }

    /// The mirror's base URL (path routing), if the session has it.
    pub fn url(&self, mirror: &str) -> Option<&str> {
        self.data["mirrors"][mirror]["url"].as_str()
    }

    /// The mirror's credentials (`secret_key`, `api_key`, `account_sid`, …).
    pub fn credentials(&self, mirror: &str) -> &Value {
        &self.data["mirrors"][mirror]["credentials"]
    }

    /// The variables `mirra env` prints, plus `MIRRA_SESSION` and `MIRRA_API_URL`.
    pub fn env(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::from([
            ("MIRRA_SESSION".to_string(), self.id().to_string()),
            ("MIRRA_API_URL".to_string(), self.server.url.clone()),
        ]);
        if let Some(mirrors) = self.data["mirrors"].as_object() {
            for m in mirrors.values() {
                if let Some(env) = m["env"].as_object() {
                    for (k, v) in env {
                        out.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
                    }
                }
            }
        }
        out
    }

    /// Every mirror back to the seed the session started with (one request).
    pub async fn reset(&self) -> Result<Value, Error> {
        self.reset_to(BTreeMap::new()).await
    }

    /// Every mirror back to its seed, those in `seeds` to the one named there;
    /// a later [`MirraSession::reset`] brings the starting seeds back.
    pub async fn reset_to(&self, seeds: BTreeMap<String, String>) -> Result<Value, Error> {
        let back: Vec<String> = self
            .changed
            .lock()
            .map(|c| {
                c.iter()
                    .filter(|m| !seeds.contains_key(*m))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut body_seeds: Map<String, Value> =
            seeds.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let mut body_files = Map::new();
        for m in &back {
            match self.start_files.get(m) {
                Some(f) => {
                    body_files.insert(m.clone(), f.clone());
                }
                None => {
                    let s = self.start_seeds.get(m).map_or("default", String::as_str);
                    body_seeds.insert(m.clone(), json!(s));
                }
            }
        }
        let body = json!({"seeds": body_seeds, "seed_files": body_files});
        let report = self
            .server
            .request(
                Method::POST,
                &format!("/v1/sessions/{}/reset", self.id()),
                Some(&body),
            )
            .await?;
        if let Ok(mut changed) = self.changed.lock() {
            for m in &back {
                changed.remove(m);
            }
            for (m, s) in &seeds {
                if self.start_seeds.get(m) != Some(s) || self.start_files.contains_key(m) {
                    changed.insert(m.clone());
                } else {
                    changed.remove(m);
                }
            }
        }
        Ok(report)
    }

    /// Saves the session's state; the snapshot's `snap_…` id.
    pub async fn snapshot(&self) -> Result<String, Error> {
        let snap = self
            .server
            .request(
                Method::POST,
                &format!("/v1/sessions/{}/snapshots", self.id()),
                Some(&json!({})),
            )
            .await?;
        Ok(snap["id"].as_str().unwrap_or_default().to_string())
    }

    /// Puts the session back to a snapshot.
    pub async fn restore(&self, snapshot: &str) -> Result<Value, Error> {
        self.server
            .request(
                Method::POST,
                &format!("/v1/sessions/{}/restore", self.id()),
                Some(&json!({"snapshot": snapshot})),
            )
            .await
    }

    /// Ends the session now (what drop does, with the answer). A session that
    /// already ended or expired is fine.
    pub async fn down(mut self) -> Result<(), Error> {
        self.ended = true;
        let path = format!("/v1/sessions/{}", self.id());
        match self.server.request(Method::DELETE, &path, None).await {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.status(), Some(404 | 410)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn persistent(&self) -> bool {
        self.data["mode"] == "persistent"
    }
}

impl Drop for MirraSession {
    /// Ends the session. Drop cannot await, and may run on a runtime thread
    /// where blocking I/O is not allowed, so a short-lived thread sends the
    /// DELETE and is joined; the session's timeout covers a process killed
    /// before this runs.
    fn drop(&mut self) {
        if self.ended || self.persistent() {
            return;
        }
        let url = format!("{}/v1/sessions/{}", self.server.url, self.id());
        let token = self.server.token.clone();
        let ended = std::thread::spawn(move || {
            let client = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .ok()?;
            client.delete(url).bearer_auth(token).send().ok()
        })
        .join();
        if !matches!(ended, Ok(Some(_))) {
            eprintln!(
                "mirra: could not end session {} (its timeout will)",
                self.id()
            );
        }
    }
}
