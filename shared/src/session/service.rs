//! The session service: create, look up, reset, snapshot, restore, end and reap
//! sessions. The control plane is a thin HTTP edge over this.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::id::{
    is_session_id, is_session_name, is_snapshot_id, new_session_id, new_snapshot_id, random_token,
};
use super::{
    Clock, MirrorDef, MirrorState, Mode, Session, SessionContext, SessionError, SessionResult,
};
use crate::state::images::image_key;
use crate::state::{ImageRecipe, LogEntry, MirrorKey, StateEngine};
use crate::storage::{LogKey, ObjectStore, SessionTable, StorageError};

/// Default ephemeral timeout: 60 minutes.
pub const DEFAULT_TIMEOUT_SECS: u64 = 3600;
/// Longest ephemeral timeout: 7 days (longer-lived sessions should be persistent).
pub const MAX_TIMEOUT_SECS: u64 = 7 * 86400;

/// `POST /v1/sessions`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    #[serde(default)]
    pub mirrors: Option<Vec<String>>,
    #[serde(default)]
    pub seeds: BTreeMap<String, String>,
    #[serde(default)]
    pub seed_files: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub persistent: bool,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

/// `POST /v1/sessions/{id}/reset`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetSession {
    #[serde(default)]
    pub mirrors: Option<Vec<String>>,
    #[serde(default)]
    pub seeds: BTreeMap<String, String>,
    #[serde(default)]
    pub seed_files: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MirrorTiming {
    pub seed: String,
    pub config_hash: String,
    pub cached: bool,
    pub ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResetReport {
    pub session: String,
    pub mirrors: BTreeMap<String, MirrorTiming>,
    pub total_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotMirror {
    pub seed: String,
    pub object: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: String,
    pub workspace: String,
    pub session: String,
    pub session_name: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    pub created_at_ms: i64,
    pub mirrors: BTreeMap<String, SnapshotMirror>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub session: String,
    pub snapshot: String,
    pub mirrors: BTreeMap<String, f64>,
    pub total_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ended {
    pub id: String,
    pub name: Option<String>,
    pub mode: Mode,
    pub status: &'static str,
    pub billed_minutes: u64,
    pub final_snapshot: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    pub workspace: String,
    pub ephemeral_minutes: u64,
    pub persistent_minutes: u64,
    /// Sessions still running; their minutes so far are included above.
    pub live_sessions: usize,
}

pub struct Sessions {
    table: Arc<dyn SessionTable>,
    store: Arc<dyn ObjectStore>,
    engine: StateEngine,
    clock: Arc<dyn Clock>,
    mirrors: BTreeMap<&'static str, Arc<dyn MirrorDef>>,
}

impl Sessions {
    pub fn new(
        table: Arc<dyn SessionTable>,
        store: Arc<dyn ObjectStore>,
        clock: Arc<dyn Clock>,
        mirrors: Vec<Arc<dyn MirrorDef>>,
    ) -> Self {
        Sessions {
            engine: StateEngine::new(table.clone(), store.clone()),
            table,
            store,
            clock,
            mirrors: mirrors.into_iter().map(|m| (m.name(), m)).collect(),
        }
    }

    /// Checkpoint after `n` commits per mirror (0: never); see `StateEngine`.
    pub fn set_compact_every(&mut self, n: u64) {
        self.engine.set_compact_every(n);
    }

    /// … once the log is also `fraction` of the state's size; see `StateEngine`.
    pub fn set_compact_log_fraction(&mut self, fraction: f64) {
        self.engine.set_compact_log_fraction(fraction);
    }

    /// Keep working copies within `bytes`; see `StateEngine::set_cache_bytes`.
    pub fn set_cache_bytes(&mut self, bytes: u64) {
        self.engine.set_cache_bytes(bytes);
    }

    /// Keep cached images within `bytes`; see `Images::set_budget`.
    pub fn set_image_cache_bytes(&mut self, bytes: u64) {
        self.engine.images().set_budget(bytes);
    }

    pub fn engine(&self) -> &StateEngine {
        &self.engine
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn mirror_def(&self, name: &str) -> Option<&Arc<dyn MirrorDef>> {
        self.mirrors.get(name)
    }

    pub async fn create(&self, workspace: &str, req: CreateSession) -> SessionResult<Session> {
        let mirrors =
            self.requested_mirrors(req.mirrors.as_deref(), &req.seeds, &req.seed_files, true)?;
        let (mode, expires_in) = if req.persistent {
            if req.name.is_none() {
                return Err(SessionError::Invalid(
                    "a persistent session needs a name".into(),
                ));
            }
            if req.timeout_seconds.is_some() {
                return Err(SessionError::Invalid(
                    "persistent sessions never expire; drop timeout_seconds".into(),
                ));
            }
            (Mode::Persistent, None)
        } else {
            let t = req.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECS);
            if !(1..=MAX_TIMEOUT_SECS).contains(&t) {
                return Err(SessionError::Invalid(format!(
                    "timeout_seconds must be between 1 and {MAX_TIMEOUT_SECS}"
                )));
            }
            (Mode::Ephemeral, Some(t as i64))
        };
        if let Some(name) = &req.name {
            if !is_session_name(name) {
                return Err(SessionError::Invalid(format!(
                    "invalid name {name:?}: use 1-63 of a-z, 0-9, '-' and '_', not shaped like a session id"
                )));
            }
        }

        let mut states = BTreeMap::new();
        let mut all_cached = true;
        for m in &mirrors {
            let def = self.def(m)?;
            let (label, seed) = self.resolve_seed(
                def,
                req.seeds.get(m.as_str()),
                req.seed_files.get(m.as_str()),
            )?;
            let (hash, cached) = self.build_image(def, &seed).await?;
            all_cached &= cached;
            states.insert(
                m.clone(),
                MirrorState {
                    seed: label,
                    image: hash,
                    credentials: def.new_credentials(),
                },
            );
        }
        let now = self.clock.now();
        let mut session = Session {
            id: String::new(),
            name: req.name.clone(),
            workspace: workspace.to_string(),
            mode,
            config_hash: config_hash(&states),
            cached: all_cached,
            created_at: now,
            expires_at: expires_in.map(|t| now + t),
            incarnation: random_token(16),
            mirrors: states,
        };
        for _ in 0..16 {
            session.id = new_session_id();
            match self.table.create_session(&session.to_row()?).await {
                Ok(()) => return Ok(session),
                Err(StorageError::AlreadyExists(_)) => {
                    if let Some(name) = &session.name {
                        if self.table.find_session(workspace, name).await.is_ok() {
                            return Err(SessionError::Conflict(format!(
                                "a session named {name:?} already exists in this workspace"
                            )));
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(SessionError::Busy(
            "could not find a free session id; retry".into(),
        ))
    }

    /// A live session of the workspace by id or name.
    pub async fn get(&self, workspace: &str, id_or_name: &str) -> SessionResult<Session> {
        let s = self.lookup(workspace, id_or_name).await?;
        if s.is_expired(self.clock.now()) {
            return Err(SessionError::Expired(s.id));
        }
        Ok(s)
    }

    /// Every stored session of the workspace (expired ones until the reaper ends them).
    pub async fn list(&self, workspace: &str) -> SessionResult<Vec<Session>> {
        let rows = self.table.list_sessions(workspace).await?;
        let mut out = rows
            .iter()
            .map(Session::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }

    pub async fn reset(
        &self,
        workspace: &str,
        id_or_name: &str,
        req: ResetSession,
    ) -> SessionResult<ResetReport> {
        let started = Instant::now();
        let mut session = self.get(workspace, id_or_name).await?;
        let targets = match &req.mirrors {
            Some(list) => self.requested_mirrors(Some(list), &req.seeds, &req.seed_files, false)?,
            None => {
                self.check_seed_keys(
                    &session.mirrors.keys().cloned().collect::<Vec<_>>(),
                    &req.seeds,
                    &req.seed_files,
                )?;
                session.mirrors.keys().cloned().collect()
            }
        };
        for m in &targets {
            if !session.mirrors.contains_key(m) {
                return Err(SessionError::Invalid(format!(
                    "session {} has no {m} mirror",
                    session.id
                )));
            }
        }
        let mut report = BTreeMap::new();
        let mut seeds_changed = false;
        for m in &targets {
            let t0 = Instant::now();
            let def = self.def(m)?.clone();
            let current = session
                .mirrors
                .get(m)
                .cloned()
                .ok_or_else(|| SessionError::Internal("mirror vanished".into()))?;
            let (label, hash, cached) =
                if req.seeds.contains_key(m.as_str()) || req.seed_files.contains_key(m.as_str()) {
                    let (label, seed) = self.resolve_seed(
                        &def,
                        req.seeds.get(m.as_str()),
                        req.seed_files.get(m.as_str()),
                    )?;
                    let (hash, cached) = self.build_image(&def, &seed).await?;
                    (label, hash, cached)
                } else {
                    (current.seed.clone(), current.image.clone(), true)
                };
            let key = mirror_key(&session, m, &current.image);
            self.engine
                .replace(
                    &key,
                    LogEntry::Reset {
                        object: image_key(&hash),
                    },
                )
                .await?;
            if hash != current.image || label != current.seed {
                seeds_changed = true;
                if let Some(st) = session.mirrors.get_mut(m) {
                    st.image = hash.clone();
                    st.seed = label.clone();
                }
            }
            report.insert(
                m.clone(),
                MirrorTiming {
                    seed: label,
                    config_hash: hash,
                    cached,
                    ms: ms(t0),
                },
            );
        }
        if seeds_changed {
            session.config_hash = config_hash(&session.mirrors);
            self.table.put_session(&session.to_row()?).await?;
        }
        Ok(ResetReport {
            session: session.id,
            mirrors: report,
            total_ms: ms(started),
        })
    }

    pub async fn snapshot(&self, workspace: &str, id_or_name: &str) -> SessionResult<Snapshot> {
        let session = self.get(workspace, id_or_name).await?;
        self.take_snapshot(&session).await
    }

    pub async fn snapshots(
        &self,
        workspace: &str,
        id_or_name: &str,
    ) -> SessionResult<Vec<Snapshot>> {
        let session = self.get(workspace, id_or_name).await?;
        let mut out = Vec::new();
        for key in self.store.list(&format!("snapshots/{workspace}/")).await? {
            if !key.ends_with("/meta.json") {
                continue;
            }
            let meta: Snapshot = match self.store.get(&key).await {
                Ok(b) => serde_json::from_slice(&b)?,
                Err(StorageError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            if meta.session == session.id {
                out.push(meta);
            }
        }
        out.sort_by_key(|s| s.created_at_ms);
        Ok(out)
    }

    pub async fn restore(
        &self,
        workspace: &str,
        id_or_name: &str,
        snapshot: &str,
    ) -> SessionResult<RestoreReport> {
        let started = Instant::now();
        if !is_snapshot_id(snapshot) {
            return Err(SessionError::Invalid(format!(
                "malformed snapshot id {snapshot:?}"
            )));
        }
        let session = self.get(workspace, id_or_name).await?;
        let meta: Snapshot = match self
            .store
            .get(&format!("snapshots/{workspace}/{snapshot}/meta.json"))
            .await
        {
            Ok(b) => serde_json::from_slice(&b)?,
            Err(StorageError::NotFound(_)) => {
                return Err(SessionError::NotFound(format!(
                    "no such snapshot: {snapshot}"
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let mut report = BTreeMap::new();
        for (m, snap) in &meta.mirrors {
            let Some(state) = session.mirrors.get(m) else {
                continue;
            };
            let t0 = Instant::now();
            let key = mirror_key(&session, m, &state.image);
            self.engine
                .replace(
                    &key,
                    LogEntry::Restore {
                        object: snap.object.clone(),
                    },
                )
                .await?;
            report.insert(m.clone(), ms(t0));
        }
        if report.is_empty() {
            return Err(SessionError::Invalid(format!(
                "snapshot {snapshot} holds none of the mirrors of session {}",
                session.id
            )));
        }
        Ok(RestoreReport {
            session: session.id,
            snapshot: meta.id,
            mirrors: report,
            total_ms: ms(started),
        })
    }

    /// Ends a session: a persistent one keeps a final snapshot, an ephemeral one's
    /// state is deleted. Expired sessions can be ended too.
    pub async fn down(&self, workspace: &str, id_or_name: &str) -> SessionResult<Ended> {
        let session = self.lookup(workspace, id_or_name).await?;
        self.end(session).await
    }

    pub async fn usage(&self, workspace: &str) -> SessionResult<Usage> {
        let now = self.clock.now();
        let mut ephemeral = 0;
        let mut persistent = 0;
        for (mode, minutes) in self.table.usage(workspace).await? {
            match mode.as_str() {
                "ephemeral" => ephemeral += minutes,
                "persistent" => persistent += minutes,
                _ => {}
            }
        }
        let live = self.list(workspace).await?;
        for s in &live {
            match s.mode {
                Mode::Ephemeral => {
                    ephemeral += s.billed_minutes(now.min(s.expires_at.unwrap_or(now)))
                }
                Mode::Persistent => persistent += s.billed_minutes(now),
            }
        }
        Ok(Usage {
            workspace: workspace.to_string(),
            ephemeral_minutes: ephemeral,
            persistent_minutes: persistent,
            live_sessions: live.len(),
        })
    }

    /// Ends every expired session (any workspace); returns how many.
    pub async fn reap(&self) -> SessionResult<usize> {
        let rows = self.table.expired_sessions(self.clock.now()).await?;
        let mut n = 0;
        for row in rows {
            let session = Session::from_row(&row)?;
            self.end(session).await?;
            n += 1;
        }
        Ok(n)
    }

    /// Ends expired sessions every `every`, and drops working copies idle for ten
    /// minutes; runs until the task is dropped.
    pub async fn run_reaper(self: Arc<Self>, every: std::time::Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.reap().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "reaped expired sessions"),
                Err(e) => tracing::warn!(error = %e, "reaper failed; retrying next tick"),
            }
            self.engine.evict_idle(std::time::Duration::from_secs(600));
        }
    }

    /// The door a mirror request goes through: the live session and one of its mirrors.
    pub async fn context(
        self: &Arc<Self>,
        session_id: &str,
        mirror: &'static str,
    ) -> SessionResult<SessionContext> {
        if !is_session_id(session_id) {
            return Err(SessionError::NotFound(format!(
                "malformed session id {session_id:?}"
            )));
        }
        let row = match self.table.get_session(session_id).await {
            Ok(r) => r,
            Err(StorageError::NotFound(_)) => {
                return Err(SessionError::NotFound(format!(
                    "no such session: {session_id}"
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let session = Session::from_row(&row)?;
        let now_ms = self.clock.now_ms();
        if session.is_expired(now_ms.div_euclid(1000)) {
            return Err(SessionError::Expired(session.id));
        }
        let Some(state) = session.mirrors.get(mirror) else {
            return Err(SessionError::NotFound(format!(
                "session {session_id} has no {mirror} mirror"
            )));
        };
        let key = mirror_key(&session, mirror, &state.image);
        Ok(SessionContext {
            sessions: self.clone(),
            session,
            mirror,
            key,
            now_ms,
        })
    }

    async fn end(&self, session: Session) -> SessionResult<Ended> {
        let final_snapshot = match session.mode {
            Mode::Persistent => Some(self.take_snapshot(&session).await?.id),
            Mode::Ephemeral => None,
        };
        let now = self.clock.now();
        let end_at = session.expires_at.map_or(now, |e| now.min(e));
        let minutes = session.billed_minutes(end_at);
        if !self
            .table
            .delete_session(&session.id, &session.incarnation)
            .await?
        {
            return Err(SessionError::NotFound(format!(
                "session {} has already ended",
                session.id
            )));
        }
        for m in session.mirrors.keys() {
            let key = mirror_key(&session, m, "");
            self.engine.evict(&key);
            if let Err(e) = self.engine.delete_checkpoints(&key.log).await {
                tracing::warn!(error = %e, session = %session.id, "could not delete checkpoints");
            }
        }
        self.table
            .add_usage(&session.workspace, session.mode.as_str(), minutes)
            .await?;
        Ok(Ended {
            id: session.id,
            name: session.name,
            mode: session.mode,
            status: "ended",
            billed_minutes: minutes,
            final_snapshot,
        })
    }

    async fn take_snapshot(&self, session: &Session) -> SessionResult<Snapshot> {
        let id = new_snapshot_id();
        let mut mirrors = BTreeMap::new();
        for (m, state) in &session.mirrors {
            let key = mirror_key(session, m, &state.image);
            let bytes: Bytes = self.engine.serialize(&key).await?;
            let object = format!("snapshots/{}/{id}/{m}.sqlite", session.workspace);
            let size = bytes.len() as u64;
            self.store.create(&object, bytes).await?;
            mirrors.insert(
                m.clone(),
                SnapshotMirror {
                    seed: state.seed.clone(),
                    object,
                    bytes: size,
                },
            );
        }
        let now_ms = self.clock.now_ms();
        let meta = Snapshot {
            id: id.clone(),
            workspace: session.workspace.clone(),
            session: session.id.clone(),
            session_name: session.name.clone(),
            created_at: now_ms.div_euclid(1000),
            created_at_ms: now_ms,
            mirrors,
        };
        let body = serde_json::to_vec(&meta)?;
        self.store
            .create(
                &format!("snapshots/{}/{id}/meta.json", session.workspace),
                Bytes::from(body),
            )
            .await?;
        Ok(meta)
    }

    async fn lookup(&self, workspace: &str, id_or_name: &str) -> SessionResult<Session> {
        let row = if is_session_id(id_or_name) {
            self.table.get_session(id_or_name).await
        } else if is_session_name(id_or_name) {
            self.table.find_session(workspace, id_or_name).await
        } else {
            return Err(SessionError::Invalid(format!(
                "malformed session id or name {id_or_name:?}"
            )));
        };
        let row = match row {
            Ok(r) if r.workspace == workspace => r,
            Ok(_) | Err(StorageError::NotFound(_)) => {
                return Err(SessionError::NotFound(format!(
                    "no such session: {id_or_name}"
                )))
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Session::from_row(&row)?)
    }

    fn def(&self, mirror: &str) -> SessionResult<&Arc<dyn MirrorDef>> {
        self.mirrors.get(mirror).ok_or_else(|| {
            SessionError::Invalid(format!(
                "unknown mirror {mirror:?} (known: {})",
                self.mirrors.keys().copied().collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// The mirrors a request names: its list, else the ones its seeds name, else
    /// (on create) every known mirror's first, `stripe`.
    fn requested_mirrors(
        &self,
        list: Option<&[String]>,
        seeds: &BTreeMap<String, String>,
        seed_files: &BTreeMap<String, serde_json::Value>,
        creating: bool,
    ) -> SessionResult<Vec<String>> {
        let mirrors: Vec<String> = match list {
            Some(l) => l.to_vec(),
            None => {
                let named: BTreeSet<&String> = seeds.keys().chain(seed_files.keys()).collect();
                if named.is_empty() && creating {
                    vec!["stripe".to_string()]
                } else {
                    named.into_iter().cloned().collect()
                }
            }
        };
        if mirrors.is_empty() {
            return Err(SessionError::Invalid(
                "mirrors must name at least one mirror".into(),
            ));
        }
        let mut seen = BTreeSet::new();
        for m in &mirrors {
            self.def(m)?;
            if !seen.insert(m) {
                return Err(SessionError::Invalid(format!(
                    "mirror {m:?} is listed twice"
                )));
            }
        }
        self.check_seed_keys(&mirrors, seeds, seed_files)?;
        Ok(mirrors)
    }

    fn check_seed_keys(
        &self,
        mirrors: &[String],
        seeds: &BTreeMap<String, String>,
        seed_files: &BTreeMap<String, serde_json::Value>,
    ) -> SessionResult<()> {
        for m in seeds.keys().chain(seed_files.keys()) {
            self.def(m)?;
            if !mirrors.contains(m) {
                return Err(SessionError::Invalid(format!(
                    "a seed is given for {m:?}, which is not among the mirrors"
                )));
            }
            if seeds.contains_key(m) && seed_files.contains_key(m) {
                return Err(SessionError::Invalid(format!(
                    "give {m:?} either a seed or a seed file, not both"
                )));
            }
        }
        Ok(())
    }

    /// (label, seed document) for one mirror.
    fn resolve_seed(
        &self,
        def: &Arc<dyn MirrorDef>,
        name: Option<&String>,
        file: Option<&serde_json::Value>,
    ) -> SessionResult<(String, serde_json::Value)> {
        if let Some(doc) = file {
            return Ok(("custom".to_string(), doc.clone()));
        }
        let raw = name.map(String::as_str).unwrap_or("default");
        // Accept both `default` and `stripe:default`.
        let seed_name = raw
            .strip_prefix(def.name())
            .and_then(|r| r.strip_prefix(':'))
            .unwrap_or(raw);
        match def.builtin_seed(seed_name) {
            Some(doc) => Ok((seed_name.to_string(), doc)),
            None => Err(SessionError::Invalid(format!(
                "unknown seed {}:{seed_name} (known: {})",
                def.name(),
                def.seed_names().join(", ")
            ))),
        }
    }

    async fn build_image(
        &self,
        def: &Arc<dyn MirrorDef>,
        seed: &serde_json::Value,
    ) -> SessionResult<(String, bool)> {
        let load =
            |conn: &rusqlite::Connection, seed: &serde_json::Value| def.load_seed(conn, seed);
        let recipe = ImageRecipe {
            mirror: def.name(),
            schema: def.schema(),
            seed,
            load: &load,
        };
        Ok(self.engine.images().ensure(&recipe).await?)
    }
}

fn mirror_key(session: &Session, mirror: &str, image: &str) -> MirrorKey {
    MirrorKey {
        log: LogKey {
            session: session.id.clone(),
            incarnation: session.incarnation.clone(),
            mirror: mirror.to_string(),
        },
        base: image_key(image),
    }
}

fn config_hash(mirrors: &BTreeMap<String, MirrorState>) -> String {
    let mut h = Sha256::new();
    for (m, st) in mirrors {
        h.update(m.as_bytes());
        h.update(b"=");
        h.update(st.image.as_bytes());
        h.update(b";");
    }
    hex::encode(&h.finalize()[..8])
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e6).round() / 1e3
}
