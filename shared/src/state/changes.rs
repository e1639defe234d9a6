//! Change capture with triggers, so the default build needs no libclang (SQLite's
//! session extension would). Every mirror table gets AFTER INSERT/UPDATE/DELETE
//! triggers that copy the row (as JSON) into `_changes`; a write drains that table
//! into a [`RowChange`] list, and another instance replays the list with
//! [`apply`].

use std::collections::HashMap;

use rusqlite::{params, Connection};

use super::{RowChange, StateError, StateResult};

const CHANGES_DDL: &str = "CREATE TABLE IF NOT EXISTS _changes (
    n INTEGER PRIMARY KEY,
    tbl TEXT NOT NULL,
    pk ANY,
    row TEXT
) STRICT";

/// Creates `_changes` and capture triggers for every table of the mirror schema.
/// Each table must have a single-column primary key.
pub fn install(conn: &Connection) -> StateResult<()> {
    conn.execute_batch(CHANGES_DDL)?;
    for table in user_tables(conn)? {
        let cols = columns(conn, &table)?;
        let pk = primary_key(conn, &table)?;
        let json_of = |alias: &str| {
            let pairs: Vec<String> = cols
                .iter()
                .map(|c| format!("'{c}', {alias}.\"{c}\""))
                .collect();
            format!("json_object({})", pairs.join(", "))
        };
        let sql = format!(
            "CREATE TRIGGER \"_cap_{t}_ins\" AFTER INSERT ON \"{t}\" BEGIN
               INSERT INTO _changes(tbl, pk, row) VALUES ('{t}', NEW.\"{pk}\", {new});
             END;
             CREATE TRIGGER \"_cap_{t}_upd\" AFTER UPDATE ON \"{t}\" BEGIN
               INSERT INTO _changes(tbl, pk, row) SELECT '{t}', OLD.\"{pk}\", NULL WHERE OLD.\"{pk}\" IS NOT NEW.\"{pk}\";
               INSERT INTO _changes(tbl, pk, row) VALUES ('{t}', NEW.\"{pk}\", {new});
             END;
             CREATE TRIGGER \"_cap_{t}_del\" AFTER DELETE ON \"{t}\" BEGIN
               INSERT INTO _changes(tbl, pk, row) VALUES ('{t}', OLD.\"{pk}\", NULL);
             END;",
            t = table,
            new = json_of("NEW"),
        );
        conn.execute_batch(&sql)?;
    }
    Ok(())
}

/// Takes the rows changed since the last drain out of `_changes`.
#[cfg(test)]
pub fn drain(conn: &Connection) -> StateResult<Vec<RowChange>> {
    let mut out = Vec::new();
    {
        let mut stmt = conn.prepare_cached("SELECT tbl, pk, row FROM _changes ORDER BY n")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let table: String = r.get(0)?;
            let pk = sql_to_json(r.get_ref(1)?)?;
            let row: Option<String> = r.get(2)?;
            let row = match row {
                Some(text) => Some(
                    serde_json::value::RawValue::from_string(text)
                        .map_err(|e| StateError::Corrupt(format!("captured row: {e}")))?,
                ),
                None => None,
            };
            out.push(RowChange { table, pk, row });
        }
    }
    if !out.is_empty() {
        conn.prepare_cached("DELETE FROM _changes")?.execute([])?;
    }
    Ok(out)
}

/// Takes the rows changed since the last drain out of `_changes` as the
/// encoded log entry (`LogEntry::Changes`, byte for byte what encoding
/// [`drain`]'s result gives), or `None` when nothing changed.
///
/// Written straight from the captured text: the rows are JSON that SQLite's
/// `json_object` made, so parsing each into a `RawValue` (which validates it)
/// and serializing it again cost ~5 % of a Stripe create's instructions.
pub fn drain_entry(conn: &Connection) -> StateResult<Option<Vec<u8>>> {
    let mut out = Vec::with_capacity(8192);
    out.extend_from_slice(br#"{"kind":"changes","changes":["#);
    let mut any = false;
    {
        let mut stmt = conn.prepare_cached("SELECT tbl, pk, row FROM _changes ORDER BY n")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            if any {
                out.push(b',');
            }
            any = true;
            out.extend_from_slice(br#"{"t":"#);
            let table = text(r.get_ref(0)?)?;
            serde_json::to_writer(&mut out, table)
                .map_err(|e| StateError::Corrupt(format!("captured table: {e}")))?;
            out.extend_from_slice(br#","pk":"#);
            serde_json::to_writer(&mut out, &sql_to_json(r.get_ref(1)?)?)
                .map_err(|e| StateError::Corrupt(format!("captured key: {e}")))?;
            out.extend_from_slice(br#","row":"#);
            match r.get_ref(2)? {
                rusqlite::types::ValueRef::Null => out.extend_from_slice(b"null"),
                row => out.extend_from_slice(text(row)?.as_bytes()),
            }
            out.push(b'}');
        }
    }
    if !any {
        return Ok(None);
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
            if !valid_ident(name) {
                return Err(StateError::Corrupt(format!("table name {name:?}")));
            }
            let pk = primary_key(self.conn, name)?;
            let columns = columns(self.conn, name)?;
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

    use super::{drain, drain_entry, install};
    use crate::state::LogEntry;

    /// The same writes on two identical databases.
    fn twins() -> [Connection; 2] {
        [0, 1].map(|_| {
            let c = Connection::open_in_memory().expect("open");
            c.execute_batch(
                "CREATE TABLE notes (id TEXT PRIMARY KEY, n INTEGER, text TEXT, data TEXT);
                 CREATE TABLE counts (k INTEGER PRIMARY KEY, v REAL);",
            )
            .expect("schema");
            install(&c).expect("capture");
            c.execute_batch(
                r#"INSERT INTO notes VALUES ('a "quoted" id', 1, 'line
two \ back', '{"x":[1,2]}');
                   INSERT INTO notes VALUES ('b', NULL, 'é ☃', NULL);
                   INSERT INTO counts VALUES (7, 1.5);
                   UPDATE notes SET n = 2 WHERE id = 'b';
                   DELETE FROM notes WHERE id = 'a "quoted" id';"#,
            )
            .expect("writes");
            c
        })
    }

    /// The entry written straight from the captured text is, byte for byte,
    /// the encoding of the drained change set, and reads back as it.
    #[test]
    fn a_drained_entry_is_the_encoded_change_set() {
        let [a, b] = twins();
        let changes = drain(&a).expect("drain");
        assert_eq!(changes.len(), 5);
        let expected = LogEntry::Changes { changes }.encode().expect("encode");
        let entry = drain_entry(&b)
            .expect("drain entry")
            .expect("something changed");
        assert_eq!(
            String::from_utf8_lossy(&entry),
            String::from_utf8_lossy(&expected)
        );
        let LogEntry::Changes { changes } = LogEntry::decode(&entry).expect("decode") else {
            panic!("not a change set")
        };
        assert_eq!(changes.len(), 5);
        assert!(changes[4].row.is_none(), "the delete");
        assert_eq!(drain_entry(&b).expect("again"), None, "drained once");
    }
}
