//! Lists: one page of a resource's live objects, newest first (`created` DESC,
//! then insertion order; or oldest first, [`ListQuery::oldest_first`]), with cursor pagination (`starting_after` /
//! `ending_before` an object id), a `created` range and equality filters on the
//! kind's indexed columns. Vendors render the page in their own envelope.

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection};

use super::objects::Kind;

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cursor {
    #[default]
    None,
    /// The objects after this one in list order (older ones).
    After(String),
    /// The objects before this one in list order (newer ones).
    Before(String),
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Objects per page (the vendor enforces its bounds).
    pub limit: usize,
    pub cursor: Cursor,
    /// Inclusive `created` bounds.
    pub created: (i64, i64),
    /// `column = value` filters; columns must be among the kind's [`Kind::columns`].
    pub filters: Vec<(&'static str, Sql)>,
    /// Other conditions on the kind's columns.
    pub conditions: Vec<Filter>,
    /// List order is oldest first (an invoice's lines) instead of newest first;
    /// `starting_after` then walks toward newer objects.
    pub oldest_first: bool,
}

/// A condition on one of a kind's columns.
#[derive(Debug, Clone)]
pub enum Filter {
    /// The column is one of these values.
    In(&'static str, Vec<Sql>),
    /// The column starts with this text (`customer.` for `customer.*`).
    Prefix(&'static str, String),
    /// The column matches this SQLite `GLOB` pattern (`*555?1*`).
    Glob(&'static str, String),
    /// A field of the stored object (a JSON path) lies in an inclusive range.
    Range(&'static str, i64, i64),
    /// The column is NULL (`true`) or is not (`false`).
    Null(&'static str, bool),
    /// The column equals this text, case folded (ASCII): codes a user types.
    Folded(&'static str, String),
    /// A field of the stored object (a JSON path, `$.friendly_name`) equals
    /// this value: for the rare filter not worth a column of its own.
    Field(&'static str, Sql),
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            limit: 10,
            cursor: Cursor::None,
            created: (i64::MIN, i64::MAX),
            filters: Vec::new(),
            conditions: Vec::new(),
            oldest_first: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// The objects' JSON texts, in list order.
    pub data: Vec<String>,
    pub has_more: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The cursor names no object of this kind.
    #[error("no such object {id} ({param})")]
    NoSuchCursor { id: String, param: &'static str },
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

/// One page of `kind`'s live objects matching `q`.
pub fn list(conn: &Connection, kind: &Kind, q: &ListQuery) -> Result<ListPage, ListError> {
    let (mut lo, mut hi) = q.created;
    let mut at = None;
    let (id, param, after) = match &q.cursor {
        Cursor::None => (None, "", true),
        Cursor::After(id) => (Some(id), "starting_after", true),
        Cursor::Before(id) => (Some(id), "ending_before", false),
    };
    if let Some(id) = id {
        let Some(c) = kind.find(conn, id)? else {
            return Err(ListError::NoSuchCursor {
                id: id.clone(),
                param,
            });
        };
        // Bounding `created` by the cursor's keeps the query an index range scan.
        if after != q.oldest_first {
            hi = hi.min(c.created);
        } else {
            lo = lo.max(c.created);
        }
        at = Some((c.created, c.seq));
    }
    let mut sql = format!(
        "SELECT data FROM \"{}\" WHERE deleted = 0 AND created BETWEEN ?1 AND ?2",
        kind.table
    );
    let mut binds: Vec<Sql> = vec![Sql::Integer(lo), Sql::Integer(hi)];
    for (col, v) in &q.filters {
        debug_assert!(
            kind.columns.contains(col),
            "{col} is not a column of {}",
            kind.table
        );
        binds.push(v.clone());
        sql.push_str(&format!(" AND \"{col}\" = ?{}", binds.len()));
    }
    for c in &q.conditions {
        match c {
            Filter::In(col, values) => {
                let mut marks = Vec::with_capacity(values.len());
                for v in values {
                    binds.push(v.clone());
                    marks.push(format!("?{}", binds.len()));
                }
                if marks.is_empty() {
                    sql.push_str(" AND 0");
                } else {
                    sql.push_str(&format!(" AND \"{col}\" IN ({})", marks.join(", ")));
                }
            }
            Filter::Prefix(col, prefix) => {
                binds.push(Sql::Text(prefix.clone()));
                let n = binds.len();
                sql.push_str(&format!(" AND substr(\"{col}\", 1, length(?{n})) = ?{n}"));
            }
            Filter::Glob(col, pattern) => {
                binds.push(Sql::Text(pattern.clone()));
                sql.push_str(&format!(" AND \"{col}\" GLOB ?{}", binds.len()));
            }
            Filter::Range(path, lo, hi) => {
                binds.push(Sql::Integer(*lo));
                binds.push(Sql::Integer(*hi));
                let n = binds.len();
                sql.push_str(&format!(
                    " AND json_extract(data, '{path}') BETWEEN ?{} AND ?{n}",
                    n - 1
                ));
            }
            Filter::Null(col, null) => {
                let not = if *null { "" } else { "NOT " };
                sql.push_str(&format!(" AND \"{col}\" IS {not}NULL"));
            }
            Filter::Folded(col, text) => {
                binds.push(Sql::Text(text.clone()));
                sql.push_str(&format!(" AND lower(\"{col}\") = lower(?{})", binds.len()));
            }
            Filter::Field(path, v) => {
                binds.push(v.clone());
                sql.push_str(&format!(
                    " AND json_extract(data, '{path}') = ?{}",
                    binds.len()
                ));
            }
        }
    }
    if let Some((created, seq)) = at {
        binds.push(Sql::Integer(created));
        binds.push(Sql::Integer(seq));
        let (c, s) = (binds.len() - 1, binds.len());
        // With `created` already bounded by the cursor's, "strictly past the
        // cursor in list order" reduces to this.
        sql.push_str(&if after != q.oldest_first {
            format!(" AND (created < ?{c} OR seq < ?{s})")
        } else {
            format!(" AND (created > ?{c} OR seq > ?{s})")
        });
    }
    // Fetched walking away from the cursor, toward older objects (`down`) or newer.
    let down = after != q.oldest_first;
    sql.push_str(if down {
        " ORDER BY created DESC, seq DESC LIMIT "
    } else {
        " ORDER BY created ASC, seq ASC LIMIT "
    });
    sql.push_str(&(q.limit + 1).to_string());
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut data: Vec<String> = stmt
        .query_map(params_from_iter(binds), |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let has_more = data.len() > q.limit;
    data.truncate(q.limit);
    if down == q.oldest_first {
        data.reverse();
    }
    Ok(ListPage { data, has_more })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const THINGS: Kind = Kind {
        object: "thing",
        table: "things",
        prefix: "th_",
        id_len: 10,
        columns: &["owner"],
    };

    /// 7 objects: ids th_0..th_6, created 100,100,101,101,102,102,103, owner a/b alternating.
    fn db() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(&THINGS.ddl()).expect("ddl");
        for i in 0..7 {
            let owner = if i % 2 == 0 { "a" } else { "b" };
            THINGS
                .insert(
                    &conn,
                    &json!({"id": format!("th_{i}"), "created": 100 + i / 2, "owner": owner}),
                )
                .expect("insert");
        }
        conn
    }

    fn ids(p: &ListPage) -> Vec<String> {
        p.data
            .iter()
            .map(|d| {
                let v: Value = serde_json::from_str(d).expect("json");
                v["id"].as_str().unwrap_or_default().to_string()
            })
            .collect()
    }

    /// Paging forward then back walks the same order, ties broken by insertion.
    #[test]
    fn pages_walk_newest_first_in_both_directions() {
        let conn = db();
        let q = |cursor| ListQuery {
            limit: 3,
            cursor,
            ..ListQuery::default()
        };
        let p1 = list(&conn, &THINGS, &q(Cursor::None)).expect("p1");
        assert_eq!(ids(&p1), ["th_6", "th_5", "th_4"]);
        assert!(p1.has_more);
        let p2 = list(&conn, &THINGS, &q(Cursor::After("th_4".into()))).expect("p2");
        assert_eq!(ids(&p2), ["th_3", "th_2", "th_1"]);
        let p3 = list(&conn, &THINGS, &q(Cursor::After("th_1".into()))).expect("p3");
        assert_eq!(ids(&p3), ["th_0"]);
        assert!(!p3.has_more);
        let back = list(&conn, &THINGS, &q(Cursor::Before("th_3".into()))).expect("back");
        assert_eq!(ids(&back), ["th_6", "th_5", "th_4"]);
        assert!(!back.has_more);
    }

    /// Filters and created bounds narrow the page; deleted objects drop out.
    #[test]
    fn filters_created_ranges_and_deletions_narrow_lists() {
        let conn = db();
        THINGS.mark_deleted(&conn, "th_6").expect("delete");
        let q = ListQuery {
            limit: 10,
            created: (101, 102),
            filters: vec![("owner", Sql::Text("a".into()))],
            ..ListQuery::default()
        };
        assert_eq!(
            ids(&list(&conn, &THINGS, &q).expect("page")),
            ["th_4", "th_2"]
        );
    }

    /// A cursor that names nothing is an error naming the parameter.
    #[test]
    fn an_unknown_cursor_is_reported_with_its_parameter() {
        let conn = db();
        let q = ListQuery {
            cursor: Cursor::Before("th_x".into()),
            ..ListQuery::default()
        };
        match list(&conn, &THINGS, &q) {
            Err(ListError::NoSuchCursor { id, param }) => {
                assert_eq!((id.as_str(), param), ("th_x", "ending_before"))
            }
            other => panic!("expected NoSuchCursor, got {other:?}"),
        }
    }
}
