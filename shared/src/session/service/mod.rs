//! The session service: create, look up, reset, snapshot, restore, end and reap
//! sessions. The control plane is a thin HTTP edge over this.
//!
//! An ended session leaves a tombstone for at least [`TOMBSTONE_RETENTION_MS`],
//! so its id answers "gone" (410, with the reason and when) instead of "no such
//! session"; new sessions avoid ids that still have one.

mod due;
mod ending;
mod lists;
mod plans;
mod seeds;
mod snapshots;
mod types;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

pub use types::*;

pub use lists::page_limit;
use seeds::config_hash;

use super::id::{is_session_id, is_session_name, new_session_id, random_token};
use super::{
    Clock, MirrorDef, MirrorState, Mode, RateLimited, RateLimits, Session, SessionContext,
    SessionError, SessionResult,
};
use crate::state::images::image_key;
use crate::state::{LogEntry, MirrorKey, StateEngine};
use crate::storage::{
    CredentialKey, CredentialOwner, LogKey, ObjectStore, SessionTable, StorageError,
};

/// Dropped working copies worth this much make the reaper hand memory back to
/// the system (a few hundred ended sessions; small enough that RSS follows
/// the sessions down, large enough that the arena walk stays rare).
pub const RELEASE_AFTER_FREED_BYTES: u64 = 8 << 20;

/// How long an ended session's tombstone is kept at least: a day.
pub const TOMBSTONE_RETENTION_MS: i64 = 24 * 60 * 60 * 1000;

/// Why a session ended, as its tombstone and the 410 answers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Its timeout passed.
    Expired,
    /// `mirra down` / `DELETE /v1/sessions/{id}`.
    Ended,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Expired => "expired",
            EndReason::Ended => "ended",
        }
    }
}

pub struct Sessions {
    table: Arc<dyn SessionTable>,
    store: Arc<dyn ObjectStore>,
    engine: StateEngine,
    clock: Arc<dyn Clock>,
    mirrors: BTreeMap<&'static str, Arc<dyn MirrorDef>>,
    /// Wakes an in-process dispatcher when work was scheduled earlier than it sleeps.
    due_wake: tokio::sync::Notify,
    /// Per-session request budgets (see `session::rate`).
    rates: RateLimits,
    /// Where lifecycle events are traced, once a trace pipeline is started.
    traces: std::sync::OnceLock<Arc<crate::traces::Traces>>,
    /// Where scheduled work is also enqueued, where a queue-driven function
    /// does it (AWS Lambda) instead of an in-process dispatcher.
    due_queue: std::sync::OnceLock<Arc<dyn crate::dispatch::queue::DueQueue>>,
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
            due_wake: tokio::sync::Notify::new(),
            rates: RateLimits::default(),
            traces: std::sync::OnceLock::new(),
            due_queue: std::sync::OnceLock::new(),
        }
    }

    /// Work scheduled from now on is also enqueued on `queue` (see
    /// [`schedule_due`](Self::schedule_due)).
    pub fn set_due_queue(&self, queue: Arc<dyn crate::dispatch::queue::DueQueue>) {
        let _ = self.due_queue.set(queue);
    }

    /// The due-work queue, when one is set.
    pub fn due_queue(&self) -> Option<&Arc<dyn crate::dispatch::queue::DueQueue>> {
        self.due_queue.get()
    }

    /// Lifecycle events go to `traces` from now on (`Traces::start` calls this).
    pub fn set_traces(&self, traces: Arc<crate::traces::Traces>) {
        let _ = self.traces.set(traces);
    }

    /// The trace pipeline, when one is started (the dispatcher records its
    /// attempts there).
    pub fn traces(&self) -> Option<&Arc<crate::traces::Traces>> {
        self.traces.get()
    }

    /// Traces a lifecycle event of `session`, when traces are on.
    fn observe(&self, session: &Session, kind: &str, detail: serde_json::Value) {
        if let Some(t) = self.traces.get() {
            t.lifecycle(session, kind, detail);
        }
    }

    /// Takes one request from `session`'s rate budget.
    pub fn admit(&self, session: &Session, now_ms: i64) -> Result<(), RateLimited> {
        self.rates.admit(session, now_ms)
    }

    /// [`admit`](Self::admit), answering what is left of the budget.
    pub fn admit_budget(
        &self,
        session: &Session,
        now_ms: i64,
    ) -> Result<super::Budget, RateLimited> {
        self.rates.admit_budget(session, now_ms)
    }

    /// Tells an in-process dispatcher that new work may be due sooner.
    pub fn wake_dispatcher(&self) {
        self.due_wake.notify_one();
    }

    /// Resolves when [`wake_dispatcher`](Self::wake_dispatcher) was called
    /// (a call made while nobody waited is kept for the next waiter).
    pub async fn dispatcher_woken(&self) {
        self.due_wake.notified().await;
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

    /// Keep frozen copies within `bytes`; see `StateEngine::set_frozen_bytes`.
    pub fn set_frozen_bytes(&mut self, bytes: u64) {
        self.engine.set_frozen_bytes(bytes);
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
            (Mode::Ephemeral, Some(t as i64 * 1000))
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
        let now_ms = self.clock.now_ms();
        let expires_at_ms = expires_in.map(|t| now_ms + t);
        let mut session = Session {
            id: String::new(),
            name: req.name.clone(),
            workspace: workspace.to_string(),
            mode,
            config_hash: config_hash(&states),
            cached: all_cached,
            created_at: now_ms.div_euclid(1000),
            // Rounded up, so nothing reading whole seconds ends it early.
            expires_at: expires_at_ms.map(|t| t.div_euclid(1000) + i64::from(t % 1000 != 0)),
            created_at_ms: now_ms,
            expires_at_ms,
            incarnation: random_token(16),
            mirrors: states,
            rate_limit: req.rate_limit,
        };
        for _ in 0..16 {
            session.id = new_session_id();
            // An id whose tombstone is kept still answers 410 to its old users.
            match self.table.get_tombstone(&session.id).await {
                Ok(_) => continue,
                Err(StorageError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
            let mut row = session.to_row()?;
            row.credentials = self.credential_keys(&session);
            match self.table.create_session(&row).await {
                Ok(()) => {
                    let seeds: BTreeMap<&String, &String> =
                        session.mirrors.iter().map(|(m, s)| (m, &s.seed)).collect();
                    self.observe(
                        &session,
                        "session.created",
                        serde_json::json!({"mode": session.mode.as_str(), "seeds": seeds}),
                    );
                    return Ok(session);
                }
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

    /// A live session of the workspace by id or name; 410 once it expired or ended.
    pub async fn get(&self, workspace: &str, id_or_name: &str) -> SessionResult<Session> {
        let s = self.lookup(workspace, id_or_name).await?;
        if s.is_expired(self.clock.now_ms()) {
            return Err(expired(&s));
        }
        Ok(s)
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
        // A reset restores the session's request budget too.
        self.rates.forget(&session.incarnation);
        let seeds: BTreeMap<&String, &String> = report.iter().map(|(m, t)| (m, &t.seed)).collect();
        self.observe(&session, "state.reset", serde_json::json!({"seeds": seeds}));
        Ok(ResetReport {
            session: session.id,
            mirrors: report,
            total_ms: ms(started),
        })
    }

    /// A mirror of a workspace's live session, for control-plane reads of
    /// mirror state (delivery attempts …): the session is looked up by id or
    /// name within `workspace`, as every control-plane call is.
    pub async fn workspace_context(
        self: &Arc<Self>,
        workspace: &str,
        id_or_name: &str,
        mirror: &str,
    ) -> SessionResult<SessionContext> {
        let session = self.lookup(workspace, id_or_name).await?;
        let Some(def) = self.mirrors.get(mirror) else {
            return Err(SessionError::Invalid(format!(
                "unknown mirror {mirror:?} (known: {})",
                self.mirrors.keys().copied().collect::<Vec<_>>().join(", ")
            )));
        };
        self.context(&session.id, def.name()).await
    }

    /// The door a mirror request goes through: the live session and one of its mirrors.
    /// The live session `id`, if there is one (any workspace): for work
    /// done off a request that only knows the id (naming a trace record).
    pub async fn find(&self, id: &str) -> Option<Session> {
        let row = self.table.get_session(id).await.ok()?;
        Session::from_row(&row).ok()
    }

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
            Err(StorageError::NotFound(_)) => return Err(self.missing(session_id, None).await),
            Err(e) => return Err(e.into()),
        };
        self.open(Session::from_row(&row)?, mirror)
    }

    /// The door for a request routed by the credential it carries instead of
    /// a session id (found by its vendor's `Vendor::credential_in`): the live session that
    /// credential names. An ended or expired session's credential answers
    /// `Gone`, as its id does; one that names no session, `NotFound`.
    pub async fn context_by_credential(
        self: &Arc<Self>,
        mirror: &'static str,
        credential: &str,
    ) -> SessionResult<SessionContext> {
        match self
            .table
            .find_credential(&CredentialKey::new(mirror, credential))
            .await
        {
            Ok(CredentialOwner::Live(row)) => self.open(Session::from_row(&row)?, mirror),
            Ok(CredentialOwner::Ended(t)) => Err(SessionError::Gone {
                id: t.id,
                reason: t.reason,
                ended_at_ms: t.ended_at_ms,
            }),
            Err(StorageError::NotFound(_)) => Err(SessionError::NotFound(format!(
                "no session has this {mirror} credential"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// A found session's context for one mirror, unless it expired.
    fn open(
        self: &Arc<Self>,
        session: Session,
        mirror: &'static str,
    ) -> SessionResult<SessionContext> {
        let now_ms = self.clock.now_ms();
        if session.is_expired(now_ms) {
            return Err(expired(&session));
        }
        let Some(state) = session.mirrors.get(mirror) else {
            return Err(SessionError::NotFound(format!(
                "session {} has no {mirror} mirror",
                session.id
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

    /// Digests of the session's credentials that name it, per its mirrors'
    /// [`MirrorDef::routing_credentials`].
    fn credential_keys(&self, session: &Session) -> Vec<CredentialKey> {
        let mut keys = Vec::new();
        for (name, state) in &session.mirrors {
            let Some(def) = self.mirrors.get(name.as_str()) else {
                continue;
            };
            for field in def.routing_credentials() {
                if let Some(value) = state.credentials.get(*field) {
                    keys.push(CredentialKey::new(def.name(), value));
                }
            }
        }
        keys.sort();
        keys.dedup();
        keys
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
                return Err(self.missing(id_or_name, Some(workspace)).await)
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Session::from_row(&row)?)
    }

    /// Why a session id has no live row: gone (410) when its tombstone is kept
    /// (and, when `workspace` is given, belongs to it), else not found (404).
    async fn missing(&self, id_or_name: &str, workspace: Option<&str>) -> SessionError {
        let not_found = || SessionError::NotFound(format!("no such session: {id_or_name}"));
        if !is_session_id(id_or_name) {
            return not_found();
        }
        match self.table.get_tombstone(id_or_name).await {
            Ok(t) if workspace.is_none_or(|ws| ws == t.workspace) => SessionError::Gone {
                id: t.id,
                reason: t.reason,
                ended_at_ms: t.ended_at_ms,
            },
            Ok(_) | Err(StorageError::NotFound(_)) => not_found(),
            Err(e) => e.into(),
        }
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
        ephemeral: session.mode == Mode::Ephemeral,
    }
}

/// A session past its expiry that the reaper has not ended yet.
fn expired(s: &Session) -> SessionError {
    SessionError::Gone {
        id: s.id.clone(),
        reason: EndReason::Expired.as_str().to_string(),
        ended_at_ms: s.expiry_ms().unwrap_or_default(),
    }
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e6).round() / 1e3
}
