//! The route table: every route has a schema, Mirra's own are marked.

/// Every route names an operation with a parameter schema: Stripe's, or — for
/// Mirra's own test helpers, named `Mirra…` — `mirra_operations.json`; those
/// are not paths of Stripe's API.
#[test]
fn every_route_has_a_schema_and_mirras_own_are_marked() {
    use shared::mirrors::stripe::{params, routes};
    let mut mirra = 0;
    for r in routes::table().iter() {
        let op = params::operation(r.operation);
        assert_eq!(
            (op.method.as_str(), op.path.as_str()),
            (r.method.as_str(), r.template)
        );
        let concrete = r.template.replace('{', "x").replace('}', "");
        let in_spec = params::spec_operation(r.method.as_str(), &concrete).is_some();
        if r.operation.starts_with("Mirra") {
            mirra += 1;
            assert!(!in_spec, "{} is a path of Stripe's API", r.template);
        } else {
            assert!(in_spec, "{} is not a path of Stripe's API", r.template);
        }
    }
    assert_eq!(mirra, params::mirra_operations().count());
}
