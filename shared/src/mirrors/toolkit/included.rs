//! Fields an API returns only when asked for (`expand[]=tiers` on a Stripe
//! price, `expand[]=applies_to` on a coupon), kept beside their object rather
//! than in it: the stored document stays exactly what a retrieve, a list, a
//! search or an event's `data.object` answers, and expansion adds the field
//! back ([`super::expand::Target::Included`]). One row per (object, field);
//! being mirror state, the rows follow reset, snapshot and restore.

use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;

use super::objects::json_text;

/// One table for every vendor and kind; the key is `{field}:{id}` (field names
/// hold no `:`), a single-column key as change capture needs.
pub const DDL: &str = "CREATE TABLE included (
    key  TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
";

fn key(id: &str, field: &str) -> String {
    format!("{field}:{id}")
}

/// Sets `field` of object `id` to `value` (replacing what was there).
pub fn put(conn: &Connection, id: &str, field: &str, value: &Value) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR REPLACE INTO included (key, data) VALUES (?1, ?2)")?
        .execute([key(id, field), json_text(value)])?;
    Ok(())
}

/// `field` of object `id`, if it was ever set.
pub fn get(conn: &Connection, id: &str, field: &str) -> rusqlite::Result<Option<Value>> {
    let text: Option<String> = conn
        .prepare_cached("SELECT data FROM included WHERE key = ?1")?
        .query_row([key(id, field)], |r| r.get(0))
        .optional()?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A field is kept per object and per name, replaced by a second put.
    #[test]
    fn fields_are_kept_per_object_and_replaced() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(DDL).expect("ddl");
        put(&conn, "price_1", "tiers", &json!([{"up_to": 5}])).expect("put");
        put(&conn, "price_2", "tiers", &json!([])).expect("put");
        put(&conn, "price_1", "tiers", &json!([{"up_to": null}])).expect("replace");
        assert_eq!(
            get(&conn, "price_1", "tiers").expect("get"),
            Some(json!([{"up_to": null}]))
        );
        assert_eq!(
            get(&conn, "price_2", "tiers").expect("get"),
            Some(json!([]))
        );
        assert_eq!(
            get(&conn, "price_1", "currency_options").expect("get"),
            None
        );
    }
}
