//! The query language against a real in-memory table.

use super::*;
use serde_json::{json, Value};

const THINGS: Kind = Kind {
    object: "thing",
    table: "things",
    prefix: "th_",
    id_len: 10,
    columns: &[],
};

const FIELDS: &[Field] = &[
    Field::number("created"),
    Field::number("amount"),
    Field::text("email"),
    Field::text("name"),
    Field::token("currency"),
    Field::token("active"),
    Field::token("card.last4"),
    Field::map("metadata"),
];

static SEARCH: Searchable = Searchable {
    kind: &THINGS,
    fields: FIELDS,
};

/// Five objects, th_1 oldest; th_5 is deleted.
fn db() -> Connection {
    let conn = Connection::open_in_memory().expect("open");
    conn.execute_batch(&THINGS.ddl()).expect("ddl");
    let rows = [
        json!({"id": "th_1", "created": 100, "email": "amy@rocketrides.io", "name": "Amy Pond",
               "amount": 500, "currency": "usd", "active": true, "card": {"last4": "4242"},
               "metadata": {"plan": "pro", "team": "Core"}}),
        json!({"id": "th_2", "created": 101, "email": "xamy@example.com", "name": "Jane  Doe",
               "amount": 1500, "currency": "EUR", "active": false, "card": null,
               "metadata": {"plan": "free"}}),
        json!({"id": "th_3", "created": 102, "email": null, "name": "one two three four",
               "amount": 1000, "currency": "usd", "metadata": {}}),
        json!({"id": "th_4", "created": 103, "email": "rory@example.com", "name": null,
               "currency": "gbp", "metadata": {"plan": "PRO", "it's": "quoted"}}),
        json!({"id": "th_5", "created": 104, "email": "amy@deleted.io", "name": "Amy Deleted",
               "amount": 1, "currency": "usd", "metadata": {"plan": "pro"}}),
    ];
    for r in &rows {
        THINGS.insert(&conn, r).expect("insert");
    }
    THINGS.mark_deleted(&conn, "th_5").expect("delete");
    conn
}

fn run(conn: &Connection, query: &str, limit: usize, page: Option<&str>) -> SearchPage {
    let r = SearchRequest {
        query,
        limit,
        page,
        total: true,
    };
    search(conn, &SEARCH, &r).unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn ids(conn: &Connection, query: &str) -> Vec<String> {
    run(conn, query, 100, None)
        .data
        .iter()
        .map(|d| {
            let v: Value = serde_json::from_str(d).expect("json");
            v["id"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

fn err(query: &str) -> SearchError {
    match parse(query).and_then(|q| compile(&q, FIELDS)) {
        Ok(w) => panic!("{query}: expected an error, compiled to {}", w.sql),
        Err(e) => e,
    }
}

fn clause(q: &str) -> Clause {
    let mut parsed = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    assert_eq!(parsed.clauses.len(), 1, "{q}");
    parsed.clauses.remove(0)
}

/// Every construct parses into the clause it spells: operators, quotes and
/// escapes, metadata keys, bare numbers, `null`, negation.
#[test]
fn clauses_parse_into_field_operator_and_value() {
    let c = clause("email:'amy@rocketrides.io'");
    assert_eq!(
        (
            c.field.as_str(),
            c.op,
            &c.value,
            c.negated,
            c.at,
            c.value_at
        ),
        (
            "email",
            Op::Match,
            &Literal::Quoted("amy@rocketrides.io".into()),
            false,
            0,
            6
        )
    );
    assert_eq!(
        clause(r#"name:"the \"Sky\" and \\ 'Sea'""#).value,
        Literal::Quoted(r#"the "Sky" and \ 'Sea'"#.into())
    );
    assert_eq!(clause("name~'amy'").op, Op::Contains);
    for (q, op) in [
        ("amount>10", Op::Gt),
        ("amount>=10", Op::Ge),
        ("amount<10", Op::Lt),
        ("amount<=10", Op::Le),
        ("amount:10", Op::Match),
    ] {
        let c = clause(q);
        assert_eq!((c.op, c.value), (op, Literal::Number("10".into())), "{q}");
    }
    assert_eq!(
        clause("amount>='10.5'").value,
        Literal::Quoted("10.5".into())
    );
    assert_eq!(clause("amount>-3").value, Literal::Number("-3".into()));
    let c = clause(r#"metadata["donation-id"]:'asdf-jkl'"#);
    assert_eq!(
        (c.field.as_str(), c.key.as_deref()),
        ("metadata", Some("donation-id"))
    );
    let c = clause("-metadata['plan']:NULL");
    assert!(c.negated && c.value == Literal::Null && c.at == 0);
    assert_eq!(clause("card.last4:4242").field, "card.last4");
    assert_eq!(clause("email:'null'").value, Literal::Quoted("null".into()));
}

/// Whitespace and `AND` join with AND, `OR` with OR, keywords in any case.
#[test]
fn clauses_join_with_and_or_or() {
    let q = parse("  email:'a'   name:'b'  ").expect("parse");
    assert_eq!((q.join, q.clauses.len()), (Join::And, 2));
    let q = parse("email:'a' and name:'b' AND amount>1").expect("parse");
    assert_eq!((q.join, q.clauses.len()), (Join::And, 3));
    let q = parse("email:'a' OR name:'b' or amount>1").expect("parse");
    assert_eq!((q.join, q.clauses.len()), (Join::Or, 3));
    assert_eq!(parse("email:'a'").expect("parse").join, Join::And);
    let ten = ["amount>1"; MAX_CLAUSES].join(" OR ");
    assert_eq!(parse(&ten).expect("ten").clauses.len(), MAX_CLAUSES);
}

/// Malformed queries are refused with where and why.
#[test]
fn syntax_errors_say_where_and_what() {
    assert!(matches!(parse(""), Err(SearchError::Empty)));
    assert!(matches!(parse("   "), Err(SearchError::Empty)));
    assert!(matches!(
        parse("email:'a' AND name:'b' OR amount>1"),
        Err(SearchError::MixedJoin { at: 23 })
    ));
    assert!(matches!(
        parse("email:'a' OR name:'b' amount>1"),
        Err(SearchError::MixedJoin { at: 22 })
    ));
    let eleven = ["amount>1"; MAX_CLAUSES + 1].join(" ");
    assert!(matches!(
        parse(&eleven),
        Err(SearchError::TooManyClauses { at: 90, max: 10 })
    ));
    assert!(matches!(
        parse("name:'abc"),
        Err(SearchError::UnterminatedString { at: 5 })
    ));
    assert!(matches!(
        parse(r"name:'abc\"),
        Err(SearchError::UnterminatedString { at: 5 })
    ));
    match parse("email:amy@x.io") {
        Err(SearchError::Unquoted { at: 6, value }) => assert_eq!(value, "amy@x.io"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse("(email:'a' OR name:'b')"),
        Err(SearchError::Parentheses { at: 0 })
    ));
    assert!(matches!(
        parse("email:'a' -(name:'b')"),
        Err(SearchError::Parentheses { at: 11 })
    ));
    for (q, at, expected) in [
        ("email 'a'", 5, "an operator"),
        ("email='a'", 5, "an operator"),
        ("email:", 6, "a value"),
        ("email: 'a'", 6, "a value"),
        ("email:'a' AND", 13, "a clause"),
        ("email:'a' AND ", 14, "a clause"),
        ("email:'a'name:'b'", 9, "whitespace"),
        (":'a'", 0, "a field name"),
        ("- email:'a'", 1, "a field name"),
        ("metadata[plan]:'a'", 9, "a quoted key"),
        ("metadata['plan':'a'", 15, "`]`"),
    ] {
        match parse(q) {
            Err(SearchError::Unexpected {
                at: got,
                expected: e,
                ..
            }) => {
                assert_eq!(got, at, "{q}");
                assert!(e.starts_with(expected), "{q}: {e}");
            }
            other => panic!("{q}: {other:?}"),
        }
    }
}

/// Fields must be declared, and each type takes only its operators and values.
#[test]
fn fields_and_operators_are_checked_against_the_declarations() {
    assert!(
        matches!(err("email:'a' emial:'b'"), SearchError::UnknownField { at: 10, field } if field == "emial")
    );
    assert!(matches!(err("phone:'1'"), SearchError::UnknownField { .. }));
    assert!(matches!(
        err("currency~'usd'"),
        SearchError::UnsupportedOperator {
            op: Op::Contains,
            ty: FieldType::Token,
            ..
        }
    ));
    assert!(matches!(
        err("email>'a'"),
        SearchError::UnsupportedOperator {
            op: Op::Gt,
            ty: FieldType::Text,
            ..
        }
    ));
    assert!(matches!(
        err("amount~'100'"),
        SearchError::UnsupportedOperator { .. }
    ));
    assert!(matches!(
        err("metadata['a']~'bcd'"),
        SearchError::UnsupportedOperator { .. }
    ));
    assert!(matches!(
        err("name~'am'"),
        SearchError::SubstringTooShort { at: 5, min: 3, .. }
    ));
    assert!(matches!(
        err("name~'éé'"),
        SearchError::SubstringTooShort { .. }
    ));
    assert!(parse("name~'ééé'")
        .and_then(|q| compile(&q, FIELDS))
        .is_ok());
    assert!(
        matches!(err("amount>'ten'"), SearchError::NotANumber { at: 7, value, .. } if value == "ten")
    );
    assert!(matches!(
        err("amount>null"),
        SearchError::NullComparison { op: Op::Gt, .. }
    ));
    assert!(matches!(
        err("name~null"),
        SearchError::NullComparison { .. }
    ));
    assert!(matches!(
        err("metadata:'x'"),
        SearchError::MissingKey { .. }
    ));
    assert!(matches!(
        err("email['x']:'y'"),
        SearchError::UnexpectedKey { .. }
    ));
}

/// `:` on a token is the whole value and `~` a substring, both case
/// insensitive; deleted objects never match; results are newest first.
#[test]
fn exact_and_substring_matches_ignore_case() {
    let conn = db();
    assert_eq!(ids(&conn, "email:'AMY@rocketrides.io'"), ["th_1"]);
    assert_eq!(ids(&conn, "email~'AMY'"), ["th_2", "th_1"]);
    assert_eq!(ids(&conn, "email~'example.com'"), ["th_4", "th_2"]);
    assert_eq!(ids(&conn, "currency:'USD'"), ["th_3", "th_1"]);
    assert_eq!(ids(&conn, "currency:'us'"), Vec::<String>::new());
    assert_eq!(ids(&conn, "active:'true'"), ["th_1"]);
    assert_eq!(ids(&conn, "active:'false'"), ["th_2"]);
    assert_eq!(ids(&conn, "card.last4:4242"), ["th_1"]);
    assert_eq!(ids(&conn, "card.last4:'4242'"), ["th_1"]);
}

/// `:` on text matches the query's words in order among the field's words.
#[test]
fn exact_matches_on_text_are_phrases() {
    let conn = db();
    assert_eq!(ids(&conn, "name:'one two three'"), ["th_3"]);
    assert_eq!(ids(&conn, "name:'two  THREE four'"), ["th_3"]);
    assert_eq!(ids(&conn, "name:'two four'"), Vec::<String>::new());
    assert_eq!(ids(&conn, "name:'thre'"), Vec::<String>::new());
    assert_eq!(ids(&conn, "name:'jane doe'"), ["th_2"]);
    assert_eq!(ids(&conn, "name:'Doe'"), ["th_2"]);
    assert_eq!(ids(&conn, "name:'amy'"), ["th_1"]);
}

/// Metadata matches one key's value; `null` tests the key's presence.
#[test]
fn metadata_matches_by_key_and_null_tests_presence() {
    let conn = db();
    assert_eq!(ids(&conn, "metadata['plan']:'pro'"), ["th_4", "th_1"]);
    assert_eq!(ids(&conn, r#"metadata["team"]:"core""#), ["th_1"]);
    assert_eq!(ids(&conn, "metadata['team']:'pro'"), Vec::<String>::new());
    assert_eq!(ids(&conn, r"metadata['it\'s']:'quoted'"), ["th_4"]);
    assert_eq!(
        ids(&conn, "-metadata['plan']:null"),
        ["th_4", "th_2", "th_1"]
    );
    assert_eq!(ids(&conn, "metadata['plan']:null"), ["th_3"]);
}

/// Numeric comparisons, `:` as equality, quoted numbers, and `created` ranges.
#[test]
fn numeric_fields_compare() {
    let conn = db();
    assert_eq!(ids(&conn, "amount>1000"), ["th_2"]);
    assert_eq!(ids(&conn, "amount>=1000"), ["th_3", "th_2"]);
    assert_eq!(ids(&conn, "amount<1000"), ["th_1"]);
    assert_eq!(ids(&conn, "amount<=1000"), ["th_3", "th_1"]);
    assert_eq!(ids(&conn, "amount:1000"), ["th_3"]);
    assert_eq!(ids(&conn, "amount>\"999.5\""), ["th_3", "th_2"]);
    assert_eq!(ids(&conn, "created>100 created<=102"), ["th_3", "th_2"]);
    assert_eq!(ids(&conn, "amount:null"), ["th_4"]);
}

/// `-` negates a clause, and objects without the field count as not matching it.
#[test]
fn negation_includes_objects_without_the_field() {
    let conn = db();
    assert_eq!(ids(&conn, "-currency:'usd'"), ["th_4", "th_2"]);
    assert_eq!(ids(&conn, "-amount>600"), ["th_4", "th_1"]);
    assert_eq!(ids(&conn, "email:null"), ["th_3"]);
    assert_eq!(ids(&conn, "-email:null"), ["th_4", "th_2", "th_1"]);
    assert_eq!(ids(&conn, "-email~'example'"), ["th_3", "th_1"]);
}

/// AND needs every clause, OR any.
#[test]
fn and_and_or_combine_clauses() {
    let conn = db();
    assert_eq!(ids(&conn, "currency:'usd' AND amount>600"), ["th_3"]);
    assert_eq!(ids(&conn, "currency:'usd' amount>600"), ["th_3"]);
    assert_eq!(
        ids(&conn, "currency:'gbp' OR amount<600 OR name:'jane'"),
        ["th_4", "th_2", "th_1"]
    );
}

/// Values are bound, never spliced: quotes and SQL in them match nothing.
#[test]
fn values_cannot_inject_sql() {
    let conn = db();
    assert!(ids(&conn, r#"email:"' OR 1=1 --""#).is_empty());
    assert!(ids(&conn, r#"metadata["') OR 1=1 --"]:'x'"#).is_empty());
    assert!(ids(&conn, r"name~'%%%'").is_empty());
    let w = compile(&parse("email:'x'").expect("parse"), FIELDS).expect("compile");
    assert!(
        !w.sql.contains("'x'") && !w.sql.contains("$.email"),
        "{}",
        w.sql
    );
}

/// Pages of `limit` walk every match once, newest first; the cursor is
/// opaque and checked; `total_count` counts every match.
#[test]
fn pages_walk_every_match_with_next_page() {
    let conn = db();
    let mut seen = Vec::new();
    let mut page: Option<String> = None;
    loop {
        let p = run(&conn, "created>0", 2, page.as_deref());
        assert_eq!(p.total_count, Some(4));
        for d in &p.data {
            let v: Value = serde_json::from_str(d).expect("json");
            seen.push(v["id"].as_str().unwrap_or_default().to_string());
        }
        assert_eq!(p.has_more, p.next_page.is_some());
        match p.next_page {
            Some(next) => page = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["th_4", "th_3", "th_2", "th_1"]);
    let last = run(&conn, "created>0", 4, None);
    assert!(!last.has_more && last.next_page.is_none());
    for bad in ["nope", "", "cDE6MTAw", "%%%"] {
        let r = SearchRequest {
            query: "created>0",
            limit: 2,
            page: Some(bad),
            total: false,
        };
        assert!(
            matches!(search(&conn, &SEARCH, &r), Err(SearchError::InvalidPage(p)) if p == bad),
            "{bad}"
        );
    }
}
