//! Stripe's parameter tables and Stripe's words for what is wrong with a request.
//!
//! The tables under `generated/` are written by `infra/gen/stripe/run` from Stripe's
//! OpenAPI document and the types of the API version today's SDKs pin (see
//! `infra/gen/stripe/VERSION-DIFFERENCES.md`); they are compiled in, so the mirror
//! never reads the specs at run time. [`operation`] gives an emulated operation's
//! parameter schema, [`spec_operation`] names any route of Stripe's API (to answer
//! "not emulated yet"), and [`validate`] checks a decoded form against a schema and
//! answers in Stripe's words.

use std::sync::LazyLock;

use serde_json::Value;

use super::error::StripeError;
use crate::mirrors::toolkit::params::{
    self, Encoding, ObjectType, Operation, OperationTable, ParamError,
};

static TABLE: LazyLock<OperationTable> = LazyLock::new(|| {
    OperationTable::from_json(
        include_str!("generated/operations.json"),
        include_str!("generated/routes.json"),
        include_str!("generated/objects.json"),
    )
    // The files are generated and committed; a test parses them.
    .unwrap_or_else(|e| panic!("the generated Stripe tables do not parse: {e}"))
});

/// Mirra's own operations — the test helpers a test calls, which Stripe's API
/// does not have — in the generated tables' form, written by hand
/// (`mirra_operations.json`). Their route lines in `routes.rs` are marked so;
/// [`operation`] finds them here when Stripe's tables do not have them.
static MIRRA: LazyLock<OperationTable> = LazyLock::new(|| {
    OperationTable::from_json(
        include_str!("mirra_operations.json"),
        r#"{"routes": []}"#,
        r#"{"objects": {}}"#,
    )
    .unwrap_or_else(|e| panic!("mirra_operations.json does not parse: {e}"))
});

/// The generated tables (operations, routes, object types).
pub fn table() -> &'static OperationTable {
    &TABLE
}

/// The Stripe API version the tables describe (the one the SDKs pin).
pub fn api_version() -> &'static str {
    TABLE.api_version()
}

/// An emulated operation by its operationId (`PostPaymentIntents`), or one of
/// Mirra's own (`Mirra…`, from `mirra_operations.json`).
///
/// # Panics
/// When `id` is in neither `infra/gen/stripe/operations.txt` nor
/// `mirra_operations.json`: resource code names its operations with constants,
/// and a test checks every route's.
pub fn operation(id: &str) -> &'static Operation {
    TABLE
        .operation(id)
        .or_else(|| MIRRA.operation(id))
        .unwrap_or_else(|| panic!("{id} is not in infra/gen/stripe/operations.txt"))
}

/// Mirra's own operations (test helpers), which Stripe's API does not have.
pub fn mirra_operations() -> impl Iterator<Item = &'static Operation> {
    MIRRA.operations()
}

/// The operationId of the route of Stripe's API that `method` and the concrete
/// `path` (`/v1/payment_intents/pi_123/confirm`) reach, emulated or not.
pub fn spec_operation(method: &str, path: &str) -> Option<&'static str> {
    TABLE.route(method, path).map(|r| r.id.as_str())
}

/// An object type's fields and expandable fields (`payment_intent`).
pub fn object_type(name: &str) -> Option<&'static ObjectType> {
    TABLE.object_type(name)
}

/// Checks a decoded form (query string or body, see `form::decode`) against
/// `op`'s parameters; the result has typed leaves and `null` for "unset".
pub fn validate(op: &Operation, input: &Value) -> Result<Value, StripeError> {
    params::validate(input, &op.params, Encoding::Form).map_err(StripeError::from)
}

impl From<ParamError> for StripeError {
    /// Stripe's own messages; those `form.rs` gave before the tables existed are
    /// kept word for word (`Invalid hash`, `Invalid string: …; must be at most N
    /// characters`).
    fn from(e: ParamError) -> Self {
        let param = e.param().to_string();
        match e {
            ParamError::Unknown { .. } => StripeError::unknown_parameter(&param),
            ParamError::Missing { .. } => StripeError::missing_parameter(&param),
            ParamError::InvalidInteger { value, .. } => {
                StripeError::invalid_integer(&param, &value)
            }
            ParamError::InvalidNumber { value, decimal, .. } => StripeError::invalid(
                format!(
                    "Invalid {}: {value}",
                    if decimal { "decimal" } else { "float" }
                ),
                param,
            ),
            ParamError::InvalidBoolean { value, .. } => {
                StripeError::invalid(format!("Invalid boolean: {value}"), param)
            }
            ParamError::NotInEnum { allowed, .. } => StripeError::invalid(
                format!("Invalid {param}: must be one of {}", one_of(&allowed)),
                param,
            ),
            ParamError::TooLong { value, max, .. } => {
                let shown: String = value.chars().take(20).collect();
                StripeError::invalid(
                    format!("Invalid string: {shown}...; must be at most {max} characters"),
                    param,
                )
            }
            ParamError::Empty { .. } => StripeError::invalid_empty(&param),
            ParamError::ExpectedObject { .. } => StripeError::invalid("Invalid hash", param),
            ParamError::ExpectedArray { .. } => StripeError::invalid("Invalid array", param),
            ParamError::ExpectedString { value, .. } => {
                StripeError::invalid(format!("Invalid string: {value}"), param)
            }
        }
    }
}

/// `a`, `a or b`, `a, b, or c`: how Stripe lists an enum's values.
fn one_of(values: &[String]) -> String {
    match values {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} or {b}"),
        [init @ .., last] => format!("{}, or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Enum values are listed the way Stripe lists them.
    #[test]
    fn enum_values_read_like_stripes_list() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(one_of(&v(&["manual"])), "manual");
        assert_eq!(one_of(&v(&["automatic", "manual"])), "automatic or manual");
        assert_eq!(
            one_of(&v(&["automatic", "automatic_async", "manual"])),
            "automatic, automatic_async, or manual"
        );
    }
}
