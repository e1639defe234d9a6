//! Expansion: `expand[]=customer` replaces an object's id in a field with the
//! object itself, read from its kind's table in the same transaction.
//! Dotted paths expand through expanded objects (`latest_charge.balance_transaction`)
//! and plain sub-objects (`invoice_settings.default_payment_method`); `data.` walks
//! into a list's items. What may be expanded is the vendor's table (generated from
//! its OpenAPI), asked through [`Expandable`].

use rusqlite::Connection;
use serde_json::Value;

use super::objects::Kind;

/// Deepest expansion Stripe allows.
pub const MAX_DEPTH: usize = 4;

/// How a field expands.
pub enum Target {
    /// An id naming an object of one of these types becomes that object (read
    /// from its kind's table when the type is emulated; left as is otherwise).
    Objects(Vec<&'static str>),
    /// A field that only appears when asked for (Stripe's includable fields such
    /// as `customer.tax_ids`), computed from the object it belongs to.
    Computed(fn(&Connection, &Value) -> rusqlite::Result<Value>),
    /// A field kept beside the object ([`super::included`]) and returned only
    /// when asked for (a price's `tiers`); left out when the object has none.
    Included,
}

/// The vendor's answer to "may `field` of a `object` object be expanded?";
/// `field` is dotted below the object (`invoice_settings.default_payment_method`).
pub trait Expandable {
    fn target(&self, object: &str, field: &str) -> Option<Target>;
    /// Whether an expandable field lies below `prefix`, a plain sub-hash of
    /// `object` (`invoice_settings` for `invoice_settings.default_payment_method`).
    fn below(&self, object: &str, prefix: &str) -> bool;
    /// Where objects of `object_type` are stored, if this mirror emulates them.
    fn kind(&self, object_type: &str) -> Option<&'static Kind>;
}

/// Checks `paths` against the types alone, before any state is read: an
/// answer of type `root` (for lists, items of type `items` under `data.`).
pub fn check(
    root: &str,
    items: Option<&str>,
    paths: &[String],
    rules: &dyn Expandable,
) -> Result<(), ExpandError> {
    for path in paths {
        let segs: Vec<&str> = path.split('.').collect();
        let (mut object, rest) = match items {
            Some(item) => match segs.split_first() {
                Some((&"data", rest)) => (item.to_string(), rest),
                _ => return Err(ExpandError::NotExpandable(path.clone())),
            },
            None => (root.to_string(), &segs[..]),
        };
        if rest.len() > MAX_DEPTH {
            return Err(ExpandError::TooDeep(path.clone()));
        }
        let mut prefix = String::new();
        for (i, seg) in rest.iter().enumerate() {
            let field = if prefix.is_empty() {
                (*seg).to_string()
            } else {
                format!("{prefix}.{seg}")
            };
            match rules.target(&object, &field) {
                Some(Target::Objects(types)) => {
                    object = types.first().map(|t| t.to_string()).unwrap_or_default();
                    prefix.clear();
                }
                Some(Target::Computed(_) | Target::Included) if i + 1 == rest.len() => {}
                None if i + 1 < rest.len() && rules.below(&object, &field) => prefix = field,
                _ => return Err(ExpandError::NotExpandable(path.clone())),
            }
        }
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ExpandError {
    /// The path names a field that cannot be expanded.
    #[error("cannot expand {0}")]
    NotExpandable(String),
    /// More than [`MAX_DEPTH`] expansions in one path.
    #[error("too deep: {0}")]
    TooDeep(String),
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

/// Expands every path of `paths` in `v`, in order.
pub fn expand(
    conn: &Connection,
    v: &mut Value,
    paths: &[String],
    rules: &dyn Expandable,
) -> Result<(), ExpandError> {
    for path in paths {
        let segs: Vec<&str> = path.split('.').collect();
        let depth = segs.iter().filter(|s| **s != "data").count();
        if depth > MAX_DEPTH {
            return Err(ExpandError::TooDeep(path.clone()));
        }
        let object = object_type(v);
        walk(conn, v, &object, "", &segs, path, rules)?;
    }
    Ok(())
}

fn object_type(v: &Value) -> String {
    v.get("object")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Expands `segs` inside `v`, an object of type `object` reached at `prefix`
/// (dotted, below that object).
fn walk(
    conn: &Connection,
    v: &mut Value,
    object: &str,
    prefix: &str,
    segs: &[&str],
    path: &str,
    rules: &dyn Expandable,
) -> Result<(), ExpandError> {
    let Some((first, rest)) = segs.split_first() else {
        return Ok(());
    };
    // Lists and search results hold their items under `data`.
    if prefix.is_empty() && matches!(object, "list" | "search_result") && *first == "data" {
        if let Some(Value::Array(items)) = v.get_mut("data") {
            for item in items {
                let t = object_type(item);
                walk(conn, item, &t, "", rest, path, rules)?;
            }
        }
        return Ok(());
    }
    let field = if prefix.is_empty() {
        (*first).to_string()
    } else {
        format!("{prefix}.{first}")
    };
    let Some(slot) = v.as_object_mut() else {
        return Ok(());
    };
    match rules.target(object, &field) {
        Some(Target::Computed(compute)) => {
            let computed = compute(conn, &Value::Object(slot.clone()))?;
            slot.insert((*first).to_string(), computed);
            if !rest.is_empty() {
                return Err(ExpandError::NotExpandable(path.to_string()));
            }
            Ok(())
        }
        Some(Target::Included) => {
            let id = slot.get("id").and_then(Value::as_str).unwrap_or_default();
            if let Some(kept) = super::included::get(conn, id, first)? {
                slot.insert((*first).to_string(), kept);
            }
            if !rest.is_empty() {
                return Err(ExpandError::NotExpandable(path.to_string()));
            }
            Ok(())
        }
        Some(Target::Objects(types)) => {
            let Some(current) = slot.get_mut(*first) else {
                return Ok(());
            };
            if let Value::String(id) = current {
                let kind = types
                    .iter()
                    .filter_map(|t| rules.kind(t))
                    .find(|k| id.starts_with(k.prefix));
                if let Some(obj) = match kind {
                    Some(k) => k.find(conn, id)?,
                    None => None,
                } {
                    *current = if obj.deleted {
                        serde_json::json!({"id": id, "object": kind.map(|k| k.object), "deleted": true})
                    } else {
                        obj.value()?
                    };
                }
            }
            if rest.is_empty() || current.is_null() {
                return Ok(());
            }
            let t = object_type(current);
            walk(conn, current, &t, "", rest, path, rules)
        }
        None => {
            // A plain sub-object may hold expandable fields further down.
            match slot.get_mut(*first) {
                Some(sub @ Value::Object(_)) if !rest.is_empty() && rules.below(object, &field) => {
                    walk(conn, sub, object, &field, rest, path, rules)
                }
                Some(Value::Null) if !rest.is_empty() => Ok(()),
                _ => Err(ExpandError::NotExpandable(path.to_string())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static OWNERS: Kind = Kind {
        object: "owner",
        table: "owners",
        prefix: "own_",
        id_len: 6,
        columns: &[],
    };
    static THINGS: Kind = Kind {
        object: "thing",
        table: "things",
        prefix: "th_",
        id_len: 6,
        columns: &[],
    };

    struct Rules;
    impl Expandable for Rules {
        fn target(&self, object: &str, field: &str) -> Option<Target> {
            match (object, field) {
                ("thing", "owner") | ("thing", "settings.backup_owner") => {
                    Some(Target::Objects(vec!["owner"]))
                }
                ("owner", "favourite") => Some(Target::Objects(vec!["thing"])),
                ("owner", "extras") => Some(Target::Computed(|_, o| Ok(json!({"of": o["id"]})))),
                _ => None,
            }
        }
        fn below(&self, object: &str, prefix: &str) -> bool {
            (object, prefix) == ("thing", "settings")
        }
        fn kind(&self, object_type: &str) -> Option<&'static Kind> {
            match object_type {
                "owner" => Some(&OWNERS),
                "thing" => Some(&THINGS),
                _ => None,
            }
        }
    }

    /// The static check agrees with the walk, before any state is read.
    #[test]
    fn paths_are_checked_against_types_alone() {
        let ok = |root, items, p: &str| check(root, items, &[p.to_string()], &Rules).is_ok();
        assert!(ok("thing", None, "owner.favourite"));
        assert!(ok("thing", None, "settings.backup_owner.extras"));
        assert!(ok("list", Some("thing"), "data.owner"));
        assert!(!ok("list", Some("thing"), "owner"));
        assert!(!ok("thing", None, "settings"));
        assert!(!ok("thing", None, "owner.extras.more"));
        assert!(!ok("thing", None, "owner.favourite.owner.favourite.owner"));
    }

    fn db() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(&format!("{}{}", OWNERS.ddl(), THINGS.ddl()))
            .expect("ddl");
        OWNERS
            .insert(
                &conn,
                &json!({"id": "own_1", "object": "owner", "created": 1, "favourite": "th_1"}),
            )
            .expect("owner");
        THINGS
            .insert(
                &conn,
                &json!({"id": "th_1", "object": "thing", "created": 1, "owner": "own_1"}),
            )
            .expect("thing");
        conn
    }

    /// Ids become objects, through expanded objects, sub-objects and list items.
    #[test]
    fn paths_expand_through_objects_sub_objects_and_lists() {
        let conn = db();
        let mut thing = json!({"id": "th_2", "object": "thing", "owner": "own_1", "settings": {"backup_owner": "own_1"}});
        let paths = vec![
            "owner.favourite".to_string(),
            "settings.backup_owner".to_string(),
        ];
        expand(&conn, &mut thing, &paths, &Rules).expect("expand");
        assert_eq!(thing["owner"]["favourite"]["id"], "th_1");
        assert_eq!(thing["settings"]["backup_owner"]["object"], "owner");
        let mut list = json!({"object": "list", "data": [{"id": "th_3", "object": "thing", "owner": "own_1"}]});
        expand(&conn, &mut list, &["data.owner.extras".to_string()], &Rules).expect("list");
        assert_eq!(list["data"][0]["owner"]["extras"], json!({"of": "own_1"}));
    }

    /// Unknown fields, and paths deeper than four levels, are refused.
    #[test]
    fn unexpandable_and_too_deep_paths_are_refused() {
        let conn = db();
        let mut thing = json!({"id": "th_2", "object": "thing", "owner": "own_1", "name": "x"});
        assert!(matches!(
            expand(&conn, &mut thing, &["name".to_string()], &Rules),
            Err(ExpandError::NotExpandable(_))
        ));
        let deep = "owner.favourite.owner.favourite.owner".to_string();
        assert!(matches!(
            expand(&conn, &mut thing, &[deep], &Rules),
            Err(ExpandError::TooDeep(_))
        ));
    }
}
