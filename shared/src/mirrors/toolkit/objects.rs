//! Objects: every resource keeps its instances as JSON documents, exactly as the
//! API returns them, in a table of its own in the mirror's SQLite. A retrieve
//! answers with stored text; `id`, `created`, `deleted` and the few fields lists
//! filter on ([`Kind::columns`]) are copied into indexed columns on every save,
//! so lists are index range scans. Deleted objects may stay as rows (Stripe still
//! answers a retrieve of a deleted customer, and it stays a valid list cursor).

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use serde_json::{Map, Value};

/// A JSON document as text, for storing or answering. `serde_json::to_string`
/// writes into one buffer; a `Value`'s `Display` (`to_string()`) goes through
/// the formatting machinery and a string grown from empty: ~2× the
/// instructions, and a Stripe create renders three documents.
pub fn json_text(v: &Value) -> String {
    to_json_string(v).unwrap_or_else(|_| v.to_string())
}

/// `serde_json::to_string` into a buffer sized for a typical object: grown
/// from empty, rendering a 2 KB object reallocated (and copied) eight times.
pub fn to_json_string<T: serde::Serialize + ?Sized>(v: &T) -> serde_json::Result<String> {
    let mut buf = Vec::with_capacity(4096);
    serde_json::to_writer(&mut buf, v)?;
    // serde_json writes only valid UTF-8.
    String::from_utf8(buf).map_err(<serde_json::Error as serde::ser::Error>::custom)
}

/// The map of a JSON object (`json!({...})`), taken rather than copied
/// (`as_object().cloned()` copied a whole new object on every create); empty
/// for anything else.
pub fn into_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// One resource's storage: its table, id format and filter columns.
#[derive(Debug)]
pub struct Kind {
    /// The object's `object` value (`customer`, `payment_intent`).
    pub object: &'static str,
    /// Its table in the mirror's database.
    pub table: &'static str,
    /// Id prefix, underscore included (`cus_`, `pi_`). Ids are made by the
    /// vendor (`Vendor::new_id`), in its format, from these two fields.
    pub prefix: &'static str,
    /// Random characters after the prefix, where the vendor's format varies
    /// them by kind (Stripe: 14 for customers, 24 for most).
    pub id_len: usize,
    /// Top-level fields lists filter on; each becomes an indexed column. An
    /// expanded object in such a field is stored as its id.
    pub columns: &'static [&'static str],
}

/// A stored object as its row holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub seq: i64,
    pub created: i64,
    pub deleted: bool,
    /// The object's JSON text.
    pub data: String,
}

impl Stored {
    pub fn value(&self) -> Result<Value, rusqlite::Error> {
        serde_json::from_str(&self.data).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
    }
}

impl Kind {
    /// The table and its indexes. Single-column primary key (`seq`), as change
    /// capture needs; `seq` also breaks ties between objects created in one second.
    pub fn ddl(&self) -> String {
        let t = self.table;
        let cols: String = self
            .columns
            .iter()
            .map(|c| format!("    \"{c}\",\n"))
            .collect();
        let mut sql = format!(
            "CREATE TABLE \"{t}\" (\n    seq     INTEGER PRIMARY KEY,\n    id      TEXT    NOT NULL UNIQUE,\n    \
             created INTEGER NOT NULL,\n    deleted INTEGER NOT NULL DEFAULT 0,\n{cols}    data    TEXT    NOT NULL\n);\n\
             CREATE INDEX \"{t}_live\" ON \"{t}\" (created) WHERE deleted = 0;\n"
        );
        for c in self.columns {
            sql.push_str(&format!(
                "CREATE INDEX \"{t}_{c}\" ON \"{t}\" (\"{c}\", created) WHERE deleted = 0;\n"
            ));
        }
        sql
    }

    /// Stores a new object (its `id` and `created` are read from it).
    pub fn insert(&self, conn: &Connection, obj: &Value) -> rusqlite::Result<()> {
        let created = obj.get("created").and_then(Value::as_i64).unwrap_or(0);
        self.insert_at(conn, obj, created)
    }

    /// Stores a new object created at `created` (Unix seconds), for vendors
    /// whose objects carry no Unix `created` field of their own (Resend's
    /// `created_at` is a timestamp string); list order and `created` ranges
    /// use it all the same. The `id` is read from the object.
    pub fn insert_at(&self, conn: &Connection, obj: &Value, created: i64) -> rusqlite::Result<()> {
        let columns = self.columns.iter().map(|c| column_value(obj.get(*c)));
        self.insert_text(
            conn,
            &id_of(obj),
            created,
            json_text(obj),
            columns.collect(),
        )
    }

    /// Stores a new object already rendered as JSON `text`, with its filter
    /// `columns` in [`Kind::columns`]' order: for objects built straight into
    /// text (events embed a whole object, which a `Value` would copy).
    pub fn insert_text(
        &self,
        conn: &Connection,
        id: &str,
        created: i64,
        text: String,
        columns: Vec<Sql>,
    ) -> rusqlite::Result<()> {
        let cols: String = self.columns.iter().map(|c| format!(", \"{c}\"")).collect();
        let marks: String = (0..self.columns.len())
            .map(|i| format!(", ?{}", i + 4))
            .collect();
        let sql = format!(
            "INSERT INTO \"{}\" (id, created, data{cols}) VALUES (?1, ?2, ?3{marks})",
            self.table
        );
        let mut binds = Vec::with_capacity(3 + columns.len());
        binds.extend([
            Sql::Text(id.to_string()),
            Sql::Integer(created),
            Sql::Text(text),
        ]);
        binds.extend(columns);
        conn.prepare_cached(&sql)?
            .execute(params_from_iter(binds))?;
        Ok(())
    }

    /// Replaces a stored object's JSON (and its columns) by id.
    pub fn save(&self, conn: &Connection, obj: &Value) -> rusqlite::Result<()> {
        let sets: String = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!(", \"{c}\" = ?{}", i + 3))
            .collect();
        let sql = format!(
            "UPDATE \"{}\" SET data = ?2{sets} WHERE id = ?1",
            self.table
        );
        let mut binds = vec![Sql::Text(id_of(obj)), Sql::Text(json_text(obj))];
        binds.extend(self.columns.iter().map(|c| column_value(obj.get(*c))));
        let n = conn
            .prepare_cached(&sql)?
            .execute(params_from_iter(binds))?;
        if n == 0 {
            return Err(rusqlite::Error::QueryReturnedNoRows);
        }
        Ok(())
    }

    /// Marks an object deleted, keeping its row (and its place in list order).
    pub fn mark_deleted(&self, conn: &Connection, id: &str) -> rusqlite::Result<()> {
        let sql = format!("UPDATE \"{}\" SET deleted = 1 WHERE id = ?1", self.table);
        conn.prepare_cached(&sql)?.execute([id])?;
        Ok(())
    }

    /// Removes an object's row altogether.
    pub fn remove(&self, conn: &Connection, id: &str) -> rusqlite::Result<()> {
        let sql = format!("DELETE FROM \"{}\" WHERE id = ?1", self.table);
        conn.prepare_cached(&sql)?.execute([id])?;
        Ok(())
    }

    /// The row for `id`, deleted or not.
    pub fn find(&self, conn: &Connection, id: &str) -> rusqlite::Result<Option<Stored>> {
        let sql = format!(
            "SELECT seq, created, deleted, data FROM \"{}\" WHERE id = ?1",
            self.table
        );
        conn.prepare_cached(&sql)?
            .query_row([id], |r| {
                Ok(Stored {
                    seq: r.get(0)?,
                    created: r.get(1)?,
                    deleted: r.get::<_, i64>(2)? != 0,
                    data: r.get(3)?,
                })
            })
            .optional()
    }

    /// The live objects matching `condition` (SQL over the kind's columns and
    /// `data`, with `?1`… bound to `params`), parsed, oldest first: an invoice's
    /// lines, a subscription's items, a customer's pending items.
    pub fn select<P: rusqlite::Params>(
        &self,
        conn: &Connection,
        condition: &str,
        params: P,
    ) -> rusqlite::Result<Vec<Value>> {
        let sql = format!(
            "SELECT seq, created, deleted, data FROM \"{}\" WHERE deleted = 0 AND ({condition}) ORDER BY seq",
            self.table
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params, |r| {
            Ok(Stored {
                seq: r.get(0)?,
                created: r.get(1)?,
                deleted: r.get::<_, i64>(2)? != 0,
                data: r.get(3)?,
            })
        })?;
        rows.map(|r| r.and_then(|s| s.value())).collect()
    }

    /// The live (not deleted) object `id`, parsed.
    pub fn load(&self, conn: &Connection, id: &str) -> rusqlite::Result<Option<Value>> {
        match self.find(conn, id)? {
            Some(s) if !s.deleted => Ok(Some(s.value()?)),
            _ => Ok(None),
        }
    }
}

/// An object's identifier: its `id` (Stripe, Resend), else its `sid` (Twilio).
fn id_of(obj: &Value) -> String {
    obj.get("id")
        .or_else(|| obj.get("sid"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A filter column's value: scalars as they are, an expanded object as its id.
pub fn column_value(v: Option<&Value>) -> Sql {
    match v {
        None | Some(Value::Null) => Sql::Null,
        Some(Value::String(s)) => Sql::Text(s.clone()),
        Some(Value::Bool(b)) => Sql::Integer(i64::from(*b)),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Sql::Integer(i),
            None => Sql::Real(n.as_f64().unwrap_or(0.0)),
        },
        Some(Value::Object(o)) => match o.get("id") {
            Some(Value::String(id)) => Sql::Text(id.clone()),
            _ => Sql::Null,
        },
        Some(Value::Array(_)) => Sql::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const THINGS: Kind = Kind {
        object: "thing",
        table: "things",
        prefix: "th_",
        id_len: 10,
        columns: &["owner", "status"],
    };

    fn db() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(&THINGS.ddl()).expect("ddl");
        conn
    }

    /// Twilio's objects are named by `sid`: stored, found and saved by it.
    #[test]
    fn objects_named_by_sid_are_stored_and_saved_by_it() {
        let conn = db();
        let mut obj = json!({"sid": "SM1", "status": "queued"});
        THINGS.insert_at(&conn, &obj, 5).expect("insert");
        obj["status"] = json!("sent");
        THINGS.save(&conn, &obj).expect("save");
        assert_eq!(THINGS.load(&conn, "SM1").expect("load"), Some(obj));
    }

    /// An object without a Unix `created` field (Resend's) is stored at the
    /// time given, which list order then uses.
    #[test]
    fn objects_without_a_created_field_take_the_time_given() {
        let conn = db();
        let obj = json!({"id": "th_1", "created_at": "2026-01-01 00:00:00+00"});
        THINGS
            .insert_at(&conn, &obj, 1_767_225_600)
            .expect("insert");
        let stored = THINGS.find(&conn, "th_1").expect("find").expect("row");
        assert_eq!(stored.created, 1_767_225_600);
        assert_eq!(stored.value().expect("json"), obj);
    }

    /// What goes in comes back as the same text, and filter columns follow saves.
    #[test]
    fn objects_round_trip_and_columns_follow_saves() {
        let conn = db();
        let id = "th_0123456789".to_string();
        let mut obj = json!({"id": id, "object": "thing", "created": 7, "owner": {"id": "o_1"}, "status": "new"});
        THINGS.insert(&conn, &obj).expect("insert");
        assert_eq!(THINGS.load(&conn, &id).expect("load"), Some(obj.clone()));
        obj["status"] = json!("done");
        THINGS.save(&conn, &obj).expect("save");
        let (owner, status): (String, String) = conn
            .query_row(
                "SELECT owner, status FROM things WHERE id = ?1",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("row");
        assert_eq!((owner.as_str(), status.as_str()), ("o_1", "done"));
        THINGS.mark_deleted(&conn, &id).expect("delete");
        assert_eq!(THINGS.load(&conn, &id).expect("load"), None);
        assert!(THINGS
            .find(&conn, &id)
            .expect("find")
            .is_some_and(|s| s.deleted));
    }

    /// Saving an object that was never inserted is an error, not a silent no-op.
    #[test]
    fn saving_an_unknown_object_fails() {
        let conn = db();
        let err = THINGS.save(&conn, &json!({"id": "th_nope", "created": 1}));
        assert!(matches!(err, Err(rusqlite::Error::QueryReturnedNoRows)));
    }

    /// `select` answers the live rows its condition matches, oldest first.
    #[test]
    fn select_answers_live_matches_oldest_first() {
        let conn = db();
        for (sid, owner) in [("SM1", "a"), ("SM2", "b"), ("SM3", "a"), ("SM4", "a")] {
            let obj = json!({"sid": sid, "owner": owner});
            THINGS.insert_at(&conn, &obj, 9).expect("insert");
        }
        THINGS.mark_deleted(&conn, "SM3").expect("delete");
        let found = THINGS.select(&conn, "owner = ?1", ["a"]).expect("select");
        let sids: Vec<&str> = found.iter().filter_map(|o| o["sid"].as_str()).collect();
        assert_eq!(sids, ["SM1", "SM4"]);
    }
}
