//! The compiler: a parsed [`Query`] checked against the resource's searchable
//! fields and turned into one parameterized SQL condition.

use rusqlite::types::Value as Sql;

use super::parse::number;
use super::*;

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
