//! Search: a query language over a resource's stored JSON documents, as Stripe
//! defines it (`email:'jenny@example.com' AND metadata['plan']:'pro'`). A query
//! is parsed into a [`Query`] (syntax only), checked against the fields the
//! resource declares searchable ([`Field`]) and compiled into one parameterized
//! SQL condition over its kind's table: fields are read with
//! `json_extract(data, '$.field')`, so no per-field columns are needed. Results
//! come newest first, a page at a time, behind an opaque cursor. Errors carry
//! the character position and the facts; vendors word them.
//!
//! The language:
//!
//! * a clause is `field`, an operator, a value: `:` exact match (case
//!   insensitive; on text fields a phrase: the query's words in order among the
//!   field's words), `~` substring (text fields; at least [`MIN_SUBSTRING`]
//!   characters), `>`, `>=`, `<`, `<=` (numeric fields; `:` is equality there);
//! * `metadata['key']:'value'` matches one metadata entry; `field:null`
//!   matches a field that is null, empty or absent (`metadata['key']:null`: no
//!   such key);
//! * values are quoted with `'` or `"` (a backslash escapes the next
//!   character); numbers may go bare, and so may the special value `null`;
//! * clauses are joined by whitespace or `AND` (both mean AND), or by `OR`
//!   (keywords case insensitive), never a mix, at most [`MAX_CLAUSES`]; a `-`
//!   before a clause negates it. There are no parentheses.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection};

use super::objects::Kind;

mod compile;
mod parse;

pub use compile::{compile, Where};
pub use parse::parse;

/// Most clauses one query may have (Stripe's limit).
pub const MAX_CLAUSES: usize = 10;
/// Fewest characters a substring (`~`) search may have (Stripe's rule).
pub const MIN_SUBSTRING: usize = 3;

// ───────────────────────────────────────────────────────────── declarations

/// What a searchable field holds, which decides the operators it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// An identifier-like value (`currency`, `status`, `customer`): `:` only,
    /// the whole value, case insensitive. Booleans match `'true'`/`'false'`.
    Token,
    /// Free text (`email`, `name`): `:` (phrase) and `~` (substring).
    Text,
    /// A number (`amount`, `created`): `:` and `>`, `>=`, `<`, `<=`.
    Number,
    /// A map of strings searched by key (`metadata['key']:'value'`).
    Map,
}

impl FieldType {
    /// Lower-case name for messages (`string` as Stripe's docs call text).
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Token => "token",
            FieldType::Text => "string",
            FieldType::Number => "numeric",
            FieldType::Map => "map",
        }
    }

    fn allows(self, op: Op) -> bool {
        match self {
            FieldType::Token | FieldType::Map => op == Op::Match,
            FieldType::Text => matches!(op, Op::Match | Op::Contains),
            FieldType::Number => op != Op::Contains,
        }
    }
}

/// A field a resource lets queries name: its (dotted) name, which is also its
/// path in the object's JSON, and its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
}

impl Field {
    pub const fn token(name: &'static str) -> Self {
        Field {
            name,
            ty: FieldType::Token,
        }
    }
    pub const fn text(name: &'static str) -> Self {
        Field {
            name,
            ty: FieldType::Text,
        }
    }
    pub const fn number(name: &'static str) -> Self {
        Field {
            name,
            ty: FieldType::Number,
        }
    }
    pub const fn map(name: &'static str) -> Self {
        Field {
            name,
            ty: FieldType::Map,
        }
    }
}

/// A searchable resource: where its objects are and which fields queries may name.
#[derive(Debug)]
pub struct Searchable {
    pub kind: &'static Kind,
    pub fields: &'static [Field],
}

// ───────────────────────────────────────────────────────────────────── AST

/// A parsed query: clauses under one connective.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub join: Join,
    pub clauses: Vec<Clause>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    And,
    Or,
}

/// `-field[key]<op>value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// Character position of the clause (its `-`, else its field) in the query.
    pub at: usize,
    pub negated: bool,
    /// As written (`email`, `payment_method_details.card.last4`).
    pub field: String,
    /// The `'key'` of `metadata['key']`.
    pub key: Option<String>,
    pub op: Op,
    pub value: Literal,
    /// Character position of the value.
    pub value_at: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `:`
    Match,
    /// `~`
    Contains,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Match => ":",
            Op::Contains => "~",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// The bare word `null` (any case).
    Null,
    /// A quoted string, escapes resolved.
    Quoted(String),
    /// A bare number, as written.
    Number(String),
}

// ──────────────────────────────────────────────────────────────────── errors

/// Why a query or a page was refused. Positions count characters from 0.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("empty query")]
    Empty,
    /// Something other than what the grammar allows there.
    #[error("at {at}: expected {expected}, found {found}")]
    Unexpected {
        at: usize,
        expected: &'static str,
        /// What is there (a few characters), or `end of query`.
        found: String,
    },
    #[error("at {at}: unterminated string")]
    UnterminatedString { at: usize },
    /// A bare value that is neither a number nor `null`.
    #[error("at {at}: unquoted value {value}")]
    Unquoted { at: usize, value: String },
    #[error("at {at}: parentheses are not supported")]
    Parentheses { at: usize },
    /// `AND` and `OR` (or whitespace and `OR`) in one query.
    #[error("at {at}: AND and OR mixed")]
    MixedJoin { at: usize },
    #[error("at {at}: more than {max} clauses")]
    TooManyClauses { at: usize, max: usize },
    #[error("at {at}: unknown field {field}")]
    UnknownField { at: usize, field: String },
    /// `metadata:'x'`: a map field needs a key.
    #[error("at {at}: {field} needs a key")]
    MissingKey { at: usize, field: String },
    /// `email['x']`: only map fields take a key.
    #[error("at {at}: {field} takes no key")]
    UnexpectedKey { at: usize, field: String },
    #[error("at {at}: {op} on {field} ({})", ty.name())]
    UnsupportedOperator {
        at: usize,
        field: String,
        op: Op,
        ty: FieldType,
    },
    /// `null` with an operator other than `:`.
    #[error("at {at}: null with {op}")]
    NullComparison { at: usize, field: String, op: Op },
    #[error("at {at}: {value} is not a number ({field})")]
    NotANumber {
        at: usize,
        field: String,
        value: String,
    },
    #[error("at {at}: substring {value} shorter than {min}")]
    SubstringTooShort {
        at: usize,
        field: String,
        value: String,
        min: usize,
    },
    /// The `page` cursor is not one this search handed out.
    #[error("invalid page cursor {0}")]
    InvalidPage(String),
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

// ──────────────────────────────────────────────────────────────── execution

/// One page request.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest<'a> {
    pub query: &'a str,
    /// Objects per page (the vendor enforces its bounds).
    pub limit: usize,
    /// A [`SearchPage::next_page`] of an earlier page.
    pub page: Option<&'a str>,
    /// Count every match too ([`SearchPage::total_count`]).
    pub total: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// The objects' JSON texts, newest first.
    pub data: Vec<String>,
    pub has_more: bool,
    /// The cursor for the next page, when there is one.
    pub next_page: Option<String>,
    pub total_count: Option<u64>,
}

/// One page of `s`'s live objects matching `r.query`, newest first (`created`,
/// then insertion order).
pub fn search(
    conn: &Connection,
    s: &Searchable,
    r: &SearchRequest,
) -> Result<SearchPage, SearchError> {
    let w = compile(&parse(r.query)?, s.fields)?;
    let after = r.page.map(decode_page).transpose()?;
    let table = s.kind.table;
    let base = format!("FROM \"{table}\" AS o WHERE o.deleted = 0 AND {}", w.sql);
    let mut binds = w.binds.clone();
    let mut sql = format!("SELECT o.data, o.created, o.seq {base}");
    if let Some((created, seq)) = after {
        sql.push_str(" AND (o.created < ? OR (o.created = ? AND o.seq < ?))");
        binds.extend([
            Sql::Integer(created),
            Sql::Integer(created),
            Sql::Integer(seq),
        ]);
    }
    sql.push_str(&format!(
        " ORDER BY o.created DESC, o.seq DESC LIMIT {}",
        r.limit + 1
    ));
    let mut rows: Vec<(String, i64, i64)> = conn
        .prepare(&sql)?
        .query_map(params_from_iter(binds), |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    let has_more = rows.len() > r.limit;
    rows.truncate(r.limit);
    let next_page = match rows.last() {
        Some((_, created, seq)) if has_more => Some(encode_page(*created, *seq)),
        _ => None,
    };
    let total_count = if r.total {
        let n: i64 = conn
            .prepare(&format!("SELECT count(*) {base}"))?
            .query_row(params_from_iter(w.binds), |row| row.get(0))?;
        Some(u64::try_from(n).unwrap_or(0))
    } else {
        None
    };
    Ok(SearchPage {
        data: rows.into_iter().map(|(d, _, _)| d).collect(),
        has_more,
        next_page,
        total_count,
    })
}

/// The position after the last object of a page, opaque to clients.
fn encode_page(created: i64, seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("p1:{created}:{seq}"))
}

fn decode_page(page: &str) -> Result<(i64, i64), SearchError> {
    let bad = || SearchError::InvalidPage(page.to_string());
    let bytes = URL_SAFE_NO_PAD.decode(page).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("p1"), Some(c), Some(s), None) => {
            Ok((c.parse().map_err(|_| bad())?, s.parse().map_err(|_| bad())?))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests;
