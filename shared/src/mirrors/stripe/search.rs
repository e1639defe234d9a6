//! Stripe's search endpoints (`GET /v1/customers/search`; PaymentIntents and
//! charges the same way) on the toolkit's search: the `query`, `limit` and
//! `page` parameters, the `search_result` envelope (`total_count` when asked
//! for with `expand[]=total_count`) and Stripe's words for a refused query. A
//! searchable resource declares a [`Search`] (its kind, fields and URL) and
//! routes its search operation to a one-line handler calling [`page`].

use serde_json::{Map, Value};

use super::error::StripeError;
use super::lists;
use super::pipeline::Call;
use crate::mirrors::toolkit::search::{search, FieldType, SearchError, SearchRequest, Searchable};

/// A resource's search endpoint.
#[derive(Debug)]
pub struct Search {
    /// Where its objects are and the fields Stripe lets queries name.
    pub searchable: Searchable,
    /// `/v1/customers/search`: the envelope's `url`, and the resource named in
    /// messages (`customers`).
    pub url: &'static str,
}

impl Search {
    /// `customers`, `payment_intents`, `charges`.
    fn resource(&self) -> &'static str {
        self.url
            .trim_start_matches("/v1/")
            .trim_end_matches("/search")
    }
}

/// One page of search results as Stripe's `search_result`.
pub fn page(call: &Call, s: &Search) -> Result<Value, StripeError> {
    let query = call
        .params
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let request = SearchRequest {
        query,
        limit: lists::limit(call.params)?,
        page: call
            .params
            .get("page")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty()),
        total: call.included.iter().any(|f| f == "total_count"),
    };
    let found = search(call.conn, &s.searchable, &request).map_err(|e| error(e, s.resource()))?;
    let data = found
        .data
        .iter()
        .map(|d| serde_json::from_str(d))
        .collect::<Result<Vec<Value>, _>>()
        .map_err(|e| StripeError::Internal(format!("stored {}: {e}", s.searchable.kind.object)))?;
    let mut out = Map::new();
    out.insert("object".into(), "search_result".into());
    out.insert("data".into(), Value::Array(data));
    out.insert("has_more".into(), found.has_more.into());
    out.insert("next_page".into(), found.next_page.into());
    if let Some(n) = found.total_count {
        out.insert("total_count".into(), n.into());
    }
    out.insert("url".into(), s.url.into());
    Ok(Value::Object(out))
}

/// Stripe's 400 for a refused query (`param: query`) or cursor (`param: page`).
/// Where Stripe's exact wording is not known, the message says what is wrong
/// and where (character positions count from 1).
fn error(e: SearchError, resource: &str) -> StripeError {
    const SYNTAX: &str = "See https://stripe.com/docs/search#search-query-language.";
    let query = |message: String| StripeError::invalid(message, "query");
    let at = |n: usize| n + 1;
    match e {
        SearchError::Empty => query(format!(
            "The search query is empty: give at least one clause, such as email:'jenny@example.com'. {SYNTAX}"
        )),
        SearchError::Unexpected {
            at: n,
            expected,
            found,
        } => query(format!(
            "Invalid search query: expected {expected} at character {}, found {found}. {SYNTAX}",
            at(n)
        )),
        SearchError::UnterminatedString { at: n } => query(format!(
            "Invalid search query: the string starting at character {} has no closing quote. {SYNTAX}",
            at(n)
        )),
        SearchError::Unquoted { at: n, value } => query(format!(
            "Invalid search query: the value `{value}` at character {} must be quoted, as in \
             field:'{value}' (only numbers and null may go without quotes). {SYNTAX}",
            at(n)
        )),
        SearchError::Parentheses { at: n } => query(format!(
            "Invalid search query: parentheses (character {}) are not supported; clauses are \
             joined by AND or by OR. {SYNTAX}",
            at(n)
        )),
        SearchError::MixedJoin { at: n } => query(format!(
            "Invalid search query: AND and OR cannot be combined in one query (character {}); \
             clauses separated by spaces are joined by AND. {SYNTAX}",
            at(n)
        )),
        SearchError::TooManyClauses { max, .. } => query(format!(
            "Invalid search query: a query can have at most {max} clauses. {SYNTAX}"
        )),
        SearchError::UnknownField { field, .. } => query(format!(
            "Field `{field}` is an unsupported search field for resource `{resource}`. See \
             https://stripe.com/docs/search#query-fields-for-{} for a list of supported fields.",
            resource.replace('_', "-")
        )),
        SearchError::MissingKey { field, .. } => query(format!(
            "Invalid search query: `{field}` needs a key, as in {field}['key']:'value'. {SYNTAX}"
        )),
        SearchError::UnexpectedKey { field, .. } => query(format!(
            "Invalid search query: `{field}` does not take a ['key']; only metadata does. {SYNTAX}"
        )),
        SearchError::UnsupportedOperator { field, op, ty, .. } => query(format!(
            "Invalid search query: the `{}` operator cannot be used on `{field}`, a {} field \
             ({}). {SYNTAX}",
            op.as_str(),
            ty.name(),
            match ty {
                FieldType::Text => "it takes : and ~",
                FieldType::Number => "it takes :, >, >=, < and <=",
                FieldType::Token | FieldType::Map => "it takes : only",
            }
        )),
        SearchError::NullComparison { field, op, .. } => query(format!(
            "Invalid search query: null can only be matched with `:` (`{field}:null`), not with `{}`. {SYNTAX}",
            op.as_str()
        )),
        SearchError::NotANumber { field, value, .. } => query(format!(
            "Invalid search query: `{field}` is a numeric field, and `{value}` is not a number. {SYNTAX}"
        )),
        SearchError::SubstringTooShort {
            field, value, min, ..
        } => query(format!(
            "Invalid search query: substring matches (~) need at least {min} characters; \
             `{field}~'{value}'` has {}. {SYNTAX}",
            value.chars().count()
        )),
        SearchError::InvalidPage(page) => StripeError::invalid(
            format!(
                "Invalid page: `{page}` is not a next_page value returned by this search. Leave \
                 out page on the first request, then pass the next_page of the previous response."
            ),
            "page",
        ),
        SearchError::Sql(e) => e.into(),
    }
}
