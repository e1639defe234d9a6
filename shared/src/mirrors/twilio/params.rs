//! Twilio's parameter tables. The files under `generated/` are written by
//! `infra/gen/twilio/run` from Twilio's OpenAPI documents (api v2010, verify v2, messaging v1) and compiled in, so
//! the mirror never reads the specs at run time. [`operation`] gives an
//! emulated operation's parameter schema, [`spec_operation`] names any route
//! of Twilio's API (to answer "not emulated yet").

use std::sync::LazyLock;

use crate::mirrors::toolkit::params::{Operation, OperationTable};

static TABLE: LazyLock<OperationTable> = LazyLock::new(|| {
    OperationTable::from_json(
        include_str!("generated/operations.json"),
        include_str!("generated/routes.json"),
        include_str!("generated/objects.json"),
    )
    // The files are generated and committed; a test parses them.
    .unwrap_or_else(|e| panic!("the generated Twilio tables do not parse: {e}"))
});

/// The generated tables.
pub fn table() -> &'static OperationTable {
    &TABLE
}

/// An emulated operation by its operationId (`api/CreateMessage`).
///
/// # Panics
/// When `id` is not in `infra/gen/twilio/operations.txt`: route lines name
/// their operations with literals, and a test checks every route's.
pub fn operation(id: &str) -> &'static Operation {
    TABLE
        .operation(id)
        .unwrap_or_else(|| panic!("{id} is not in infra/gen/twilio/operations.txt"))
}

/// The operationId of the route of Twilio's API that `method` and the concrete
/// `path` reach, emulated or not.
pub fn spec_operation(method: &str, path: &str) -> Option<&'static str> {
    TABLE.route(method, path).map(|r| r.id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every emulated operation's tables parse, and a route Twilio has but the
    /// mirror does not emulate is still known by name, `{Sid}.json` included.
    #[test]
    fn generated_tables_parse_and_name_unemulated_routes() {
        assert_eq!(
            operation("api/CreateMessage").path,
            "/2010-04-01/Accounts/{AccountSid}/Messages.json"
        );
        assert_eq!(
            spec_operation("GET", "/2010-04-01/Accounts/AC1/Calls/CA1.json"),
            Some("api/FetchCall")
        );
        assert_eq!(spec_operation("GET", "/nope"), None);
    }
}
