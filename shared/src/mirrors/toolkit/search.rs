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

// ──────────────────────────────────────────────────────────────────── parser

/// Parses `input` (syntax only: fields are checked by [`compile`]).
pub fn parse(input: &str) -> Result<Query, SearchError> {
    let mut p = Parser {
        s: input.chars().collect(),
        i: 0,
    };
    p.skip_ws();
    if p.peek().is_none() {
        return Err(SearchError::Empty);
    }
    let mut clauses = vec![p.clause()?];
    let mut join: Option<(Join, usize)> = None;
    loop {
        let had_ws = p.skip_ws();
        if p.peek().is_none() {
            break;
        }
        if !had_ws {
            return Err(p.unexpected("whitespace, AND or OR between clauses"));
        }
        let at = p.i;
        let this = match p.keyword() {
            Some(j) => {
                if !p.skip_ws() || p.peek().is_none() {
                    return Err(p.unexpected("a clause after the keyword"));
                }
                j
            }
            None => Join::And,
        };
        match join {
            Some((j, _)) if j != this => return Err(SearchError::MixedJoin { at }),
            _ => join = Some((this, at)),
        }
        if clauses.len() == MAX_CLAUSES {
            return Err(SearchError::TooManyClauses {
                at: p.i,
                max: MAX_CLAUSES,
            });
        }
        clauses.push(p.clause()?);
    }
    Ok(Query {
        join: join.map_or(Join::And, |(j, _)| j),
        clauses,
    })
}

struct Parser {
    s: Vec<char>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) -> bool {
        let start = self.i;
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
        self.i > start
    }

    /// What is at the cursor, for messages.
    fn found(&self) -> String {
        match self.peek() {
            None => "end of query".to_string(),
            Some(c) if c.is_whitespace() => "whitespace".to_string(),
            Some(_) => {
                let rest: String = self.s[self.i..]
                    .iter()
                    .take_while(|c| !c.is_whitespace())
                    .take(12)
                    .collect();
                format!("`{rest}`")
            }
        }
    }

    fn unexpected(&self, expected: &'static str) -> SearchError {
        SearchError::Unexpected {
            at: self.i,
            expected,
            found: self.found(),
        }
    }

    /// `AND` / `OR` as a whole word at the cursor (consumed), case insensitive.
    fn keyword(&mut self) -> Option<Join> {
        let word: String = self.s[self.i..]
            .iter()
            .take_while(|c| !c.is_whitespace())
            .collect();
        let join = if word.eq_ignore_ascii_case("and") {
            Join::And
        } else if word.eq_ignore_ascii_case("or") {
            Join::Or
        } else {
            return None;
        };
        self.i += word.chars().count();
        Some(join)
    }

    fn clause(&mut self) -> Result<Clause, SearchError> {
        let at = self.i;
        let negated = self.peek() == Some('-');
        if negated {
            self.i += 1;
        }
        if matches!(self.peek(), Some('(' | ')')) {
            return Err(SearchError::Parentheses { at: self.i });
        }
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            self.i += 1;
        }
        if self.i == start {
            return Err(self.unexpected("a field name"));
        }
        let field: String = self.s[start..self.i].iter().collect();
        let key = if self.peek() == Some('[') {
            self.i += 1;
            if !matches!(self.peek(), Some('\'' | '"')) {
                return Err(self.unexpected("a quoted key inside [ ]"));
            }
            let key = self.quoted()?;
            if self.peek() != Some(']') {
                return Err(self.unexpected("`]` after the key"));
            }
            self.i += 1;
            Some(key)
        } else {
            None
        };
        let op = match (self.peek(), self.s.get(self.i + 1).copied()) {
            (Some(':'), _) => Op::Match,
            (Some('~'), _) => Op::Contains,
            (Some('>'), Some('=')) => Op::Ge,
            (Some('<'), Some('=')) => Op::Le,
            (Some('>'), _) => Op::Gt,
            (Some('<'), _) => Op::Lt,
            _ => {
                return Err(self.unexpected("an operator (`:`, `~`, `>`, `>=`, `<` or `<=`)"));
            }
        };
        self.i += op.as_str().len();
        let value_at = self.i;
        let value = match self.peek() {
            Some('\'' | '"') => Literal::Quoted(self.quoted()?),
            Some(c) if !c.is_whitespace() => self.bare()?,
            _ => return Err(self.unexpected("a value")),
        };
        Ok(Clause {
            at,
            negated,
            field,
            key,
            op,
            value,
            value_at,
        })
    }

    /// A string in `'` or `"`; a backslash takes the next character as is.
    fn quoted(&mut self) -> Result<String, SearchError> {
        let at = self.i;
        let Some(quote) = self.peek() else {
            return Err(self.unexpected("a quoted string"));
        };
        self.i += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(SearchError::UnterminatedString { at }),
                Some('\\') => {
                    self.i += 1;
                    match self.peek() {
                        None => return Err(SearchError::UnterminatedString { at }),
                        Some(c) => out.push(c),
                    }
                }
                Some(c) if c == quote => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
            self.i += 1;
        }
    }

    /// An unquoted value: a number or `null`; anything else must be quoted.
    fn bare(&mut self) -> Result<Literal, SearchError> {
        let at = self.i;
        while self
            .peek()
            .is_some_and(|c| !c.is_whitespace() && c != '(' && c != ')')
        {
            self.i += 1;
        }
        let word: String = self.s[at..self.i].iter().collect();
        if word.eq_ignore_ascii_case("null") {
            return Ok(Literal::Null);
        }
        if number(&word).is_some() {
            return Ok(Literal::Number(word));
        }
        Err(SearchError::Unquoted { at, value: word })
    }
}

/// `12`, `-3`, `4.5` as SQL (an integer when it is one); not `1e3`, `nan`, `0x1`.
fn number(s: &str) -> Option<Sql> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    match frac {
        None => s.parse::<i64>().ok().map(Sql::Integer),
        Some(_) => s.parse::<f64>().ok().map(Sql::Real),
    }
}

// ────────────────────────────────────────────────────────────────── compiler

/// A compiled query: a condition on rows of the kind's table aliased `o`, and
/// its bound values in order (`?` placeholders).
#[derive(Debug, Clone, PartialEq)]
pub struct Where {
    pub sql: String,
    pub binds: Vec<Sql>,
}

/// The same object text for tokens and text: JSON booleans as `true`/`false`,
/// numbers as their digits, strings as they are; NULL when absent.
const TEXT: &str = "(CASE json_type(o.data, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
                    ELSE CAST(json_extract(o.data, ?) AS TEXT) END)";

/// Checks `q` against `fields` and compiles it.
pub fn compile(q: &Query, fields: &[Field]) -> Result<Where, SearchError> {
    let mut parts = Vec::with_capacity(q.clauses.len());
    let mut binds = Vec::new();
    for c in &q.clauses {
        let sql = clause_sql(c, fields, &mut binds)?;
        parts.push(if c.negated {
            format!("NOT COALESCE({sql}, 0)")
        } else {
            format!("COALESCE({sql}, 0)")
        });
    }
    let join = match q.join {
        Join::And => " AND ",
        Join::Or => " OR ",
    };
    Ok(Where {
        sql: format!("({})", parts.join(join)),
        binds,
    })
}

fn clause_sql(c: &Clause, fields: &[Field], binds: &mut Vec<Sql>) -> Result<String, SearchError> {
    let Some(f) = fields.iter().find(|f| f.name == c.field) else {
        return Err(SearchError::UnknownField {
            at: c.at,
            field: c.field.clone(),
        });
    };
    match (f.ty, &c.key) {
        (FieldType::Map, None) => {
            return Err(SearchError::MissingKey {
                at: c.at,
                field: c.field.clone(),
            })
        }
        (FieldType::Map, Some(_)) => {}
        (_, Some(_)) => {
            return Err(SearchError::UnexpectedKey {
                at: c.at,
                field: c.field.clone(),
            })
        }
        _ => {}
    }
    if !f.ty.allows(c.op) {
        return Err(SearchError::UnsupportedOperator {
            at: c.at,
            field: c.field.clone(),
            op: c.op,
            ty: f.ty,
        });
    }
    let path = Sql::Text(format!("$.{}", f.name));
    let text = |v: &Literal| match v {
        Literal::Quoted(s) | Literal::Number(s) => s.clone(),
        Literal::Null => String::new(),
    };
    if c.value == Literal::Null {
        if c.op != Op::Match {
            return Err(SearchError::NullComparison {
                at: c.value_at,
                field: c.field.clone(),
                op: c.op,
            });
        }
        return Ok(match (f.ty, &c.key) {
            (FieldType::Map, Some(key)) => {
                binds.extend([path, Sql::Text(key.clone())]);
                "NOT EXISTS (SELECT 1 FROM json_each(o.data, ?) WHERE key = ?)".to_string()
            }
            (FieldType::Number, _) => {
                binds.push(path);
                "json_extract(o.data, ?) IS NULL".to_string()
            }
            _ => {
                binds.extend([path.clone(), path]);
                format!("COALESCE({TEXT}, '') = ''")
            }
        });
    }
    let value = text(&c.value);
    Ok(match f.ty {
        FieldType::Map => {
            let key = c.key.clone().unwrap_or_default();
            binds.extend([path, Sql::Text(key), Sql::Text(value)]);
            "EXISTS (SELECT 1 FROM json_each(o.data, ?) WHERE key = ? \
             AND lower(CAST(value AS TEXT)) = lower(?))"
                .to_string()
        }
        FieldType::Token => {
            binds.extend([path.clone(), path, Sql::Text(value)]);
            format!("lower({TEXT}) = lower(?)")
        }
        FieldType::Text if c.op == Op::Contains => {
            let n = value.chars().count();
            if n < MIN_SUBSTRING {
                return Err(SearchError::SubstringTooShort {
                    at: c.value_at,
                    field: c.field.clone(),
                    value,
                    min: MIN_SUBSTRING,
                });
            }
            binds.extend([path.clone(), path, Sql::Text(value)]);
            format!("instr(lower({TEXT}), lower(?)) > 0")
        }
        FieldType::Text => {
            // A phrase: the query's words, in order, among the field's words
            // (whitespace-separated; runs of whitespace count as one).
            let phrase = value.split_whitespace().collect::<Vec<_>>().join(" ");
            if phrase.is_empty() {
                binds.extend([path.clone(), path]);
                return Ok(format!("COALESCE({TEXT}, '') = ''"));
            }
            binds.extend([path.clone(), path, Sql::Text(format!(" {phrase} "))]);
            format!("instr(' ' || {} || ' ', lower(?)) > 0", words(TEXT))
        }
        FieldType::Number => {
            let Some(n) = number(value.trim()) else {
                return Err(SearchError::NotANumber {
                    at: c.value_at,
                    field: c.field.clone(),
                    value,
                });
            };
            let op = match c.op {
                Op::Gt => ">",
                Op::Ge => ">=",
                Op::Lt => "<",
                Op::Le => "<=",
                Op::Match | Op::Contains => "=",
            };
            binds.extend([path.clone(), path, n]);
            format!(
                "(json_type(o.data, ?) IN ('integer', 'real') AND json_extract(o.data, ?) {op} ?)"
            )
        }
    })
}

/// `expr` lower-cased with its whitespace (tabs, newlines, runs of up to 16
/// spaces) folded to single spaces, so phrases match word by word.
fn words(expr: &str) -> String {
    let mut s = format!(
        "replace(replace(replace(lower({expr}), char(9), ' '), char(10), ' '), char(13), ' ')"
    );
    for _ in 0..4 {
        s = format!("replace({s}, '  ', ' ')");
    }
    s
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
mod tests {
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
}
