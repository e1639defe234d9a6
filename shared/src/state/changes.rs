//! Change capture with triggers, so the default build needs no libclang (SQLite's
//! session extension would). Every mirror table gets AFTER INSERT/UPDATE/DELETE
//! triggers that note the changed row's table and key in `_changes`; a write
//! drains that table into a change set holding each changed row once, as the
//! transaction left it (its columns as JSON, or `null` once deleted), and
//! another instance replays the set with [`apply`].
//!
//! The triggers note keys only, not rows: a connection parses every trigger
//! of its schema, and Stripe's 96 triggers each building its table's row as
//! `json_object` cost ~130 KB per working copy. The row is read once, when the
//! write drains, which also logs a row updated several times in one write once.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::{RowChange, StateError, StateResult};

const CHANGES_DDL: &str = "CREATE TABLE IF NOT EXISTS _changes (
    n INTEGER PRIMARY KEY,
    tbl TEXT NOT NULL,
    pk ANY
) STRICT";

/// Creates `_changes` and capture triggers for every table of the mirror schema.
/// Each table must have a single-column primary key.
pub fn install(conn: &Connection) -> StateResult<()> {
    conn.execute_batch(CHANGES_DDL)?;
    for table in user_tables(conn)? {
        let pk = primary_key(conn, &table)?;
        let sql = format!(
            "CREATE TRIGGER \"_cap_{t}_ins\" AFTER INSERT ON \"{t}\" BEGIN
               INSERT INTO _changes(tbl, pk) VALUES ('{t}', NEW.\"{pk}\");
             END;
             CREATE TRIGGER \"_cap_{t}_upd\" AFTER UPDATE ON \"{t}\" BEGIN
               INSERT INTO _changes(tbl, pk) SELECT '{t}', OLD.\"{pk}\" WHERE OLD.\"{pk}\" IS NOT NEW.\"{pk}\";
               INSERT INTO _changes(tbl, pk) VALUES ('{t}', NEW.\"{pk}\");
             END;
             CREATE TRIGGER \"_cap_{t}_del\" AFTER DELETE ON \"{t}\" BEGIN
               INSERT INTO _changes(tbl, pk) VALUES ('{t}', OLD.\"{pk}\");
             END;",
            t = table,
        );
        conn.execute_batch(&sql)?;
    }
    Ok(())
}

/// The changed keys since the last drain, newest first; [`drain_entry`] keeps
/// each key's last change, in the order of those last changes. Replayed with
/// `INSERT OR REPLACE` in that order, the rows as they ended give the state the
/// write left: a row that conflicts with one on a unique column was itself
/// changed by the write, so it is in the set too, and comes back after.
const CHANGED_KEYS: &str = "SELECT tbl, pk FROM _changes ORDER BY n DESC";

/// A captured primary key, hashable (SQLite's GROUP BY would sort instead).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Null,
    Integer(i64),
    Real(u64),
    Text(String),
}

impl Key {
    fn of(v: rusqlite::types::ValueRef<'_>) -> StateResult<Self> {
        use rusqlite::types::ValueRef;
        Ok(match v {
            ValueRef::Null => Key::Null,
            ValueRef::Integer(i) => Key::Integer(i),
            ValueRef::Real(f) => Key::Real(f.to_bits()),
            ValueRef::Text(_) => Key::Text(text(v)?.to_owned()),
            ValueRef::Blob(_) => {
                return Err(StateError::Corrupt(
                    "blob primary keys are not supported".into(),
                ))
            }
        })
    }

    fn sql(&self) -> rusqlite::types::ValueRef<'_> {
        use rusqlite::types::ValueRef;
        match self {
            Key::Null => ValueRef::Null,
            Key::Integer(i) => ValueRef::Integer(*i),
            Key::Real(bits) => ValueRef::Real(f64::from_bits(*bits)),
            Key::Text(t) => ValueRef::Text(t.as_bytes()),
        }
    }
}

/// Per table, the statement that reads a changed row back as JSON (built from
/// the table's columns once per working copy, not once per write).
#[derive(Debug, Default)]
pub struct RowReaders {
    sql: HashMap<String, String>,
}

impl RowReaders {
    fn sql(&mut self, conn: &Connection, table: &str) -> StateResult<&str> {
        if !self.sql.contains_key(table) {
            let (pk, columns) = key_and_columns(conn, table)?;
            let pairs: Vec<String> = columns.iter().map(|c| format!("'{c}', \"{c}\"")).collect();
            let sql = format!(
                "SELECT json_object({}) FROM \"{table}\" WHERE \"{pk}\" = ?1",
                pairs.join(", ")
            );
            self.sql.insert(table.to_string(), sql);
        }
        self.sql
            .get(table)
            .map(String::as_str)
            .ok_or_else(|| StateError::Corrupt(format!("no such table {table}")))
    }
}

/// Takes the rows changed since the last drain out of `_changes`.
#[cfg(test)]
pub fn drain(conn: &Connection) -> StateResult<Vec<RowChange>> {
    match drain_entry(conn, &mut RowReaders::default())? {
        None => Ok(Vec::new()),
        Some(entry) => match super::LogEntry::decode(&entry)? {
            super::LogEntry::Changes { changes } => Ok(changes),
            _ => Err(StateError::Corrupt("not a change set".into())),
        },
    }
}

/// Takes the rows changed since the last drain out of `_changes` as the
/// encoded log entry (`LogEntry::Changes`), or `None` when nothing changed.
///
/// Written straight from the text SQLite's `json_object` makes: parsing each
/// row into a `RawValue` (which validates it) and serializing it again cost
/// ~5 % of a Stripe create's instructions.
pub fn drain_entry(conn: &Connection, readers: &mut RowReaders) -> StateResult<Option<Vec<u8>>> {
    let mut keys: Vec<(String, Key)> = Vec::new();
    {
        let mut seen = std::collections::HashSet::new();
        let mut stmt = conn.prepare_cached(CHANGED_KEYS)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let key = (text(r.get_ref(0)?)?.to_owned(), Key::of(r.get_ref(1)?)?);
            if seen.insert(key.clone()) {
                keys.push(key);
            }
        }
    }
    if keys.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(8192);
    out.extend_from_slice(br#"{"kind":"changes","changes":["#);
    for (i, (table, key)) in keys.iter().rev().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"t":"#);
        serde_json::to_writer(&mut out, table)
            .map_err(|e| StateError::Corrupt(format!("captured table: {e}")))?;
        out.extend_from_slice(br#","pk":"#);
        serde_json::to_writer(&mut out, &sql_to_json(key.sql())?)
            .map_err(|e| StateError::Corrupt(format!("captured key: {e}")))?;
        out.extend_from_slice(br#","row":"#);
        let row: Option<String> = conn
            .prepare_cached(readers.sql(conn, table)?)?
            .query_row([rusqlite::types::ToSqlOutput::Borrowed(key.sql())], |r| {
                r.get(0)
            })
            .optional()?;
        match row {
            None => out.extend_from_slice(b"null"),
            Some(row) => out.extend_from_slice(row.as_bytes()),
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    conn.prepare_cached("DELETE FROM _changes")?.execute([])?;
    Ok(Some(out))
}

/// Replays a change set captured on another instance. Runs inside the caller's
/// transaction; clears what the triggers record while replaying.
pub fn apply(conn: &Connection, changes: &[RowChange]) -> StateResult<()> {
    Replayer::new(conn).apply(changes)
}

/// Replays change sets one after another on one connection, looking up each
/// table's key and columns once (a replay of thousands of entries otherwise
/// asks `pragma_table_info` twice per row).
pub struct Replayer<'c> {
    conn: &'c Connection,
    tables: HashMap<String, Table>,
}

/// What replaying a row of one table needs.
struct Table {
    delete: String,
    upsert: String,
    columns: Vec<String>,
}

impl<'c> Replayer<'c> {
    pub fn new(conn: &'c Connection) -> Self {
        Replayer {
            conn,
            tables: HashMap::new(),
        }
    }

    /// Applies one change set (see [`apply`]).
    pub fn apply(&mut self, changes: &[RowChange]) -> StateResult<()> {
        let conn = self.conn;
        for change in changes {
            let table = self.table(&change.table)?;
            match &change.row {
                None => {
                    conn.prepare_cached(&table.delete)?
                        .execute(params![json_to_sql(&change.pk)])?;
                }
                Some(row) => {
                    let row: serde_json::Map<String, serde_json::Value> =
                        serde_json::from_str(row.get())
                            .map_err(|e| StateError::Corrupt(format!("logged row: {e}")))?;
                    let values: Vec<rusqlite::types::Value> = table
                        .columns
                        .iter()
                        .map(|c| json_to_sql(row.get(c).unwrap_or(&serde_json::Value::Null)))
                        .collect();
                    conn.prepare_cached(&table.upsert)?
                        .execute(rusqlite::params_from_iter(values))?;
                }
            }
        }
        conn.prepare_cached("DELETE FROM _changes")?.execute([])?;
        Ok(())
    }

    fn table(&mut self, name: &str) -> StateResult<&Table> {
        if !self.tables.contains_key(name) {
            let (pk, columns) = key_and_columns(self.conn, name)?;
            let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
            let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
            let table = Table {
                delete: format!("DELETE FROM \"{name}\" WHERE \"{pk}\" = ?1"),
                upsert: format!(
                    "INSERT OR REPLACE INTO \"{name}\" ({}) VALUES ({})",
                    quoted.join(", "),
                    placeholders.join(", ")
                ),
                columns,
            };
            self.tables.insert(name.to_string(), table);
        }
        self.tables
            .get(name)
            .ok_or_else(|| StateError::Corrupt(format!("no such table {name}")))
    }
}

/// A logged table's primary key and columns, for the statements that read
/// its changed rows back and replay them; its name comes from the data, so
/// it must be a plain identifier before it goes into SQL.
fn key_and_columns(conn: &Connection, table: &str) -> StateResult<(String, Vec<String>)> {
    if !valid_ident(table) {
        return Err(StateError::Corrupt(format!("table name {table:?}")));
    }
    Ok((primary_key(conn, table)?, columns(conn, table)?))
}

fn user_tables(conn: &Connection) -> StateResult<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table'
         AND name NOT LIKE 'sqlite_%' AND name != '_changes' ORDER BY name",
    )?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    for n in &names {
        if !valid_ident(n) {
            return Err(StateError::InvalidSeed(format!(
                "table name {n:?} is not a plain identifier"
            )));
        }
    }
    Ok(names)
}

fn columns(conn: &Connection, table: &str) -> StateResult<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?;
    let cols = stmt
        .query_map([table], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    if cols.is_empty() {
        return Err(StateError::Corrupt(format!("no such table {table}")));
    }
    if let Some(bad) = cols.iter().find(|c| !valid_ident(c)) {
        return Err(StateError::Corrupt(format!("column name {bad:?}")));
    }
    Ok(cols)
}

fn primary_key(conn: &Connection, table: &str) -> StateResult<String> {
    let mut stmt =
        conn.prepare_cached("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")?;
    let pks = stmt
        .query_map([table], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    match pks.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(StateError::Corrupt(format!(
            "table {table} needs exactly one primary key column for change capture"
        ))),
    }
}

fn valid_ident(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A captured text column (table name, row JSON).
fn text(v: rusqlite::types::ValueRef<'_>) -> StateResult<&str> {
    v.as_str()
        .map_err(|e| StateError::Corrupt(format!("captured text: {e}")))
}

fn sql_to_json(v: rusqlite::types::ValueRef<'_>) -> StateResult<serde_json::Value> {
    use rusqlite::types::ValueRef;
    Ok(match v {
        ValueRef::Null => serde_json::Value::Null,
        ValueRef::Integer(i) => i.into(),
        ValueRef::Real(f) => f.into(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
        ValueRef::Blob(_) => {
            return Err(StateError::Corrupt(
                "blob primary keys are not supported".into(),
            ))
        }
    })
}

fn json_to_sql(v: &serde_json::Value) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Integer(i64::from(*b)),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Real(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::Text(s.clone()),
        other => Value::Text(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::{apply, drain, install};

    const SCHEMA: &str =
        "CREATE TABLE notes (id TEXT PRIMARY KEY, n INTEGER, text TEXT, data TEXT);
         CREATE UNIQUE INDEX notes_text ON notes(text);
         CREATE TABLE counts (k INTEGER PRIMARY KEY, v REAL);";

    fn db() -> Connection {
        let c = Connection::open_in_memory().expect("open");
        c.execute_batch(SCHEMA).expect("schema");
        install(&c).expect("capture");
        c
    }

    /// Every row of both tables, in key order, as text.
    fn dump(c: &Connection) -> Vec<String> {
        let mut out = Vec::new();
        for sql in [
            "SELECT json_array(id, n, text, data) FROM notes ORDER BY id",
            "SELECT json_array(k, v) FROM counts ORDER BY k",
        ] {
            let mut stmt = c.prepare(sql).expect("prepare");
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .expect("query");
            out.extend(rows.map(|r| r.expect("row")));
        }
        out
    }

    /// Runs `writes` on a copy of `before`, drains them and replays the change
    /// set on another copy: both must hold the same rows.
    fn replayed(before: &str, writes: &str) -> (Vec<super::RowChange>, Vec<String>, Vec<String>) {
        let [a, b] = [db(), db()];
        for c in [&a, &b] {
            c.execute_batch(before).expect("before");
            drain(c).expect("drain the setup");
        }
        a.execute_batch(writes).expect("writes");
        let changes = drain(&a).expect("drain");
        apply(&b, &changes).expect("apply");
        assert!(
            drain(&b).expect("drain the replica").is_empty(),
            "replay leaves nothing captured"
        );
        (changes, dump(&a), dump(&b))
    }

    #[test]
    fn a_drained_change_set_replayed_elsewhere_gives_the_same_rows() {
        let (changes, a, b) = replayed(
            "",
            r#"INSERT INTO notes VALUES ('a "quoted" id', 1, 'line
two \ back', '{"x":[1,2]}');
               INSERT INTO notes VALUES ('b', NULL, 'é ☃', NULL);
               INSERT INTO counts VALUES (7, 1.5);
               UPDATE notes SET n = 2 WHERE id = 'b';
               DELETE FROM notes WHERE id = 'a "quoted" id';"#,
        );
        assert_eq!(a, b);
        assert_eq!(a, [r#"["b",2,"é ☃",null]"#, "[7,1.5]"]);
        assert_eq!(changes.len(), 3, "each changed row once: {changes:?}");
        assert!(changes[2].row.is_none(), "the deleted row, changed last");
        assert!(drain(&db()).expect("nothing").is_empty());
    }

    #[test]
    fn a_row_changed_several_times_in_one_write_is_logged_once_as_it_ended() {
        let (changes, a, b) = replayed(
            "INSERT INTO notes VALUES ('x', 1, 'one', NULL);",
            "UPDATE notes SET n = 2 WHERE id = 'x';
             UPDATE notes SET n = 3, text = 'three' WHERE id = 'x';
             INSERT INTO notes VALUES ('gone', 0, 'tmp', NULL);
             DELETE FROM notes WHERE id = 'gone';",
        );
        assert_eq!(a, b);
        assert_eq!(changes.len(), 2, "{changes:?}");
        let row = changes[0].row.as_ref().expect("x kept").get();
        assert!(row.contains(r#""n":3"#) && row.contains("three"), "{row}");
        assert_eq!(changes[1].pk, "gone");
        assert!(
            changes[1].row.is_none(),
            "inserted then deleted: logged as gone"
        );
    }

    #[test]
    fn a_changed_key_logs_the_old_key_gone_and_the_new_one() {
        let (changes, a, b) = replayed(
            "INSERT INTO notes VALUES ('old', 1, 'one', NULL);",
            "UPDATE notes SET id = 'new' WHERE id = 'old';",
        );
        assert_eq!(a, b);
        assert_eq!(a, [r#"["new",1,"one",null]"#]);
        assert_eq!(changes.len(), 2);
    }

    /// Checkpoints and snapshots taken before keys-only capture hold
    /// `_changes` with a `row` column and triggers that fill it: their writes
    /// still drain, from the rows as they ended.
    #[test]
    fn a_database_with_the_earlier_row_building_triggers_still_drains() {
        let old = Connection::open_in_memory().expect("open");
        old.execute_batch(SCHEMA).expect("schema");
        old.execute_batch(
            "CREATE TABLE _changes (n INTEGER PRIMARY KEY, tbl TEXT NOT NULL, pk ANY, row TEXT) STRICT;
             CREATE TRIGGER _cap_notes_ins AFTER INSERT ON notes BEGIN
               INSERT INTO _changes(tbl, pk, row) VALUES ('notes', NEW.id,
                 json_object('id', NEW.id, 'n', NEW.n, 'text', NEW.text, 'data', NEW.data));
             END;
             CREATE TRIGGER _cap_notes_upd AFTER UPDATE ON notes BEGIN
               INSERT INTO _changes(tbl, pk, row) SELECT 'notes', OLD.id, NULL WHERE OLD.id IS NOT NEW.id;
               INSERT INTO _changes(tbl, pk, row) VALUES ('notes', NEW.id,
                 json_object('id', NEW.id, 'n', NEW.n, 'text', NEW.text, 'data', NEW.data));
             END;",
        )
        .expect("the earlier capture");
        old.execute_batch(
            "INSERT INTO notes VALUES ('a', 1, 'one', NULL);
             UPDATE notes SET n = 2 WHERE id = 'a';",
        )
        .expect("writes");
        let changes = drain(&old).expect("drain");
        assert_eq!(changes.len(), 1, "{changes:?}");
        let row = changes[0].row.as_ref().expect("the row").get();
        assert!(row.contains(r#""n":2"#), "{row}");
        let replica = db();
        apply(&replica, &changes).expect("apply");
        assert_eq!(dump(&replica), dump(&old));
        assert!(drain(&old).expect("again").is_empty(), "drained once");
    }

    /// Values swapped through a temporary one on a unique column: replaying
    /// the rows as they ended, in the order of their last change, must not
    /// leave a row behind that `INSERT OR REPLACE` removed for a conflict.
    #[test]
    fn values_swapped_on_a_unique_column_replay_to_the_same_rows() {
        let (_, a, b) = replayed(
            "INSERT INTO notes VALUES ('p', 1, 'x', NULL);
             INSERT INTO notes VALUES ('q', 2, 'y', NULL);",
            "UPDATE notes SET text = 'tmp' WHERE id = 'p';
             UPDATE notes SET text = 'x' WHERE id = 'q';
             UPDATE notes SET text = 'y' WHERE id = 'p';",
        );
        assert_eq!(a, b);
        assert_eq!(a, [r#"["p",1,"y",null]"#, r#"["q",2,"x",null]"#]);
    }
}
