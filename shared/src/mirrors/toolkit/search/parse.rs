//! The query language's parser: text to a [`Query`] (syntax only; fields are
//! checked when it is compiled).

use rusqlite::types::Value as Sql;

use super::*;

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
pub(super) fn number(s: &str) -> Option<Sql> {
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
