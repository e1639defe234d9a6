//! Resend's parameter tables. The files under `generated/` are written by
//! `infra/gen/resend/run` from Resend's OpenAPI document and compiled in, so
//! the mirror never reads the specs at run time. [`operation`] gives an
//! emulated operation's parameter schema, [`spec_operation`] names any route
//! of Resend's API (to answer "not emulated yet").

use std::sync::LazyLock;

use crate::mirrors::toolkit::params::{Operation, OperationTable};

static TABLE: LazyLock<OperationTable> = LazyLock::new(|| {
    OperationTable::from_json(
        include_str!("generated/operations.json"),
        include_str!("generated/routes.json"),
        include_str!("generated/objects.json"),
    )
    // The files are generated and committed; a test parses them.
    .unwrap_or_else(|e| panic!("the generated Resend tables do not parse: {e}"))
});

/// The generated tables.
pub fn table() -> &'static OperationTable {
    &TABLE
}

/// An emulated operation by its operationId (`emails/send`).
///
/// # Panics
/// When `id` is not in `infra/gen/resend/operations.txt`: route lines name
/// their operations with literals, and a test checks every route's.
pub fn operation(id: &str) -> &'static Operation {
    TABLE
        .operation(id)
        .unwrap_or_else(|| panic!("{id} is not in infra/gen/resend/operations.txt"))
}

/// The operationId of the route of Resend's API that `method` and the concrete
/// `path` reach, emulated or not.
pub fn spec_operation(method: &str, path: &str) -> Option<&'static str> {
    TABLE.route(method, path).map(|r| r.id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every emulated operation's tables parse, and a route Resend has but the
    /// mirror does not emulate is still known by name.
    #[test]
    fn generated_tables_parse_and_name_unemulated_routes() {
        assert_eq!(operation("emails/send").path, "/emails");
        assert_eq!(
            spec_operation("POST", "/domains/abc/verify"),
            Some("domains/verify")
        );
        assert_eq!(spec_operation("GET", "/nope"), None);
    }
}
