//! A minimal test mirror — one table of notes, seed `{"notes": ["text", …]}` —
//! embedded storage in a temp dir, and helpers that write and read notes
//! through the session service, so engine tests pin the engine, not a vendor's API.

use std::collections::BTreeMap;
use std::sync::Arc;

use rusqlite::Connection;
use serde_json::json;
use shared::session::{Clock, CreateSession, MirrorDef, Session, SessionContext, Sessions};
use shared::state::StateError;
use shared::storage::fs::FsObjectStore;
use shared::storage::sqlite::SqliteSessionTable;
use shared::storage::{LogKey, ObjectStore, SessionTable};

/// The notes mirror; `default` is its built-in `default` seed (`empty` has none).
pub struct Notes {
    pub default: &'static [&'static str],
}

impl MirrorDef for Notes {
    fn name(&self) -> &'static str {
        "notes"
    }
    fn schema(&self) -> &'static str {
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"
    }
    fn seed_names(&self) -> &'static [&'static str] {
        &["default", "empty"]
    }
    fn builtin_seed(&self, name: &str) -> Option<serde_json::Value> {
        match name {
            "default" => Some(json!({ "notes": self.default })),
            "empty" => Some(json!({"notes": []})),
            _ => None,
        }
    }
    fn load_seed(&self, conn: &Connection, seed: &serde_json::Value) -> Result<(), String> {
        load_notes(conn, seed)
    }
    fn new_credentials(&self) -> BTreeMap<String, String> {
        BTreeMap::from([("key".to_string(), shared::session::id::random_token(8))])
    }
    fn env(&self, base_url: &str, _c: &BTreeMap<String, String>) -> Vec<(String, String)> {
        vec![("NOTES_URL".into(), base_url.into())]
    }
}

/// Inserts a seed's notes.
pub fn load_notes(conn: &Connection, seed: &serde_json::Value) -> Result<(), String> {
    let notes = seed
        .get("notes")
        .and_then(|n| n.as_array())
        .ok_or("seed needs a notes array")?;
    for n in notes {
        let text = n.as_str().ok_or("every note is a string")?;
        conn.execute("INSERT INTO notes (text) VALUES (?1)", [text])
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A session table and object store in a temp dir, dropped with it.
pub struct Storage {
    _dir: tempfile::TempDir,
    pub table: Arc<dyn SessionTable>,
    pub store: Arc<dyn ObjectStore>,
}

pub fn storage() -> Storage {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = SqliteSessionTable::open(&dir.path().join("sessions.db")).expect("table");
    let store = FsObjectStore::open(dir.path().join("objects")).expect("store");
    Storage {
        table: Arc::new(table),
        store: Arc::new(store),
        _dir: dir,
    }
}

/// `POST /v1/sessions` for one notes mirror on its default seed.
pub fn notes_request() -> CreateSession {
    CreateSession {
        mirrors: Some(vec!["notes".into()]),
        ..Default::default()
    }
}

#[derive(Debug)]
pub enum TestError {
    State(#[allow(dead_code)] StateError),
    Refused,
}

impl From<StateError> for TestError {
    fn from(e: StateError) -> Self {
        TestError::State(e)
    }
}

/// One "instance": its own engine and caches over the shared storage.
pub fn instance(s: &Storage, clock: Arc<dyn Clock>) -> Arc<Sessions> {
    compacting_instance(s, clock, shared::state::DEFAULT_COMPACT_EVERY)
}

/// An instance whose session table is `table` (a wrapper around `s.table`,
/// such as the racing one), over `s`'s object store, with no checkpoints.
pub fn instance_over(table: Arc<dyn SessionTable>, s: &Storage) -> Arc<Sessions> {
    let mut sessions = Sessions::new(
        table,
        s.store.clone(),
        Arc::new(shared::session::SystemClock),
        vec![Arc::new(Notes {
            default: &["seeded one", "seeded two"],
        })],
    );
    sessions.set_compact_every(0);
    Arc::new(sessions)
}

/// An instance that checkpoints every `every` commits.
pub fn compacting_instance(s: &Storage, clock: Arc<dyn Clock>, every: u64) -> Arc<Sessions> {
    let mut sessions = Sessions::new(
        s.table.clone(),
        s.store.clone(),
        clock,
        vec![Arc::new(Notes {
            default: &["seeded one", "seeded two"],
        })],
    );
    sessions.set_compact_every(every);
    // Checkpoint on entry count alone, so these tests know where checkpoints fall.
    sessions.set_compact_log_fraction(0.0);
    Arc::new(sessions)
}

pub async fn ctx(sessions: &Arc<Sessions>, s: &Session) -> SessionContext {
    sessions.context(&s.id, "notes").await.expect("context")
}

pub async fn add(sessions: &Arc<Sessions>, s: &Session, text: &str) {
    ctx(sessions, s)
        .await
        .write(|c| {
            c.execute("INSERT INTO notes (text) VALUES (?1)", [text])
                .map_err(|e| TestError::from(StateError::from(e)))
        })
        .await
        .expect("write");
}

pub async fn texts(sessions: &Arc<Sessions>, s: &Session) -> Vec<String> {
    ctx(sessions, s)
        .await
        .read(|c| {
            let mut st = c
                .prepare("SELECT text FROM notes ORDER BY id")
                .map_err(StateError::from)?;
            let rows = st.query_map([], |r| r.get(0)).map_err(StateError::from)?;
            rows.collect::<Result<Vec<String>, _>>()
                .map_err(|e| TestError::from(StateError::from(e)))
        })
        .await
        .expect("read")
}

pub fn log_key(session: &Session) -> LogKey {
    LogKey {
        session: session.id.clone(),
        incarnation: session.incarnation.clone(),
        mirror: "notes".into(),
    }
}

pub async fn log_len(s: &Storage, session: &Session) -> usize {
    s.table
        .read_log(&log_key(session), 0)
        .await
        .expect("log")
        .len()
}
