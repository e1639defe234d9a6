//! What each Stripe object lets `expand[]` reach, for the toolkit's expansion:
//! the expandable fields of the generated object table (the pinned API
//! version's), plus the fields Stripe includes only on request (a customer's
//! `tax_ids` …, a price's `tiers`). A field whose target type is not emulated yet expands to what
//! it holds (`null`, or the id).

use super::{customers, params, KINDS};
use crate::mirrors::toolkit::expand::{Expandable, Target};
use crate::mirrors::toolkit::objects::Kind;

pub struct Rules;

/// Fields Stripe returns only when expanded, kept beside their object
/// (`toolkit::included`).
const INCLUDED: &[(&str, &str)] = &[
    ("checkout.session", "line_items"),
    ("coupon", "applies_to"),
    ("coupon", "currency_options"),
    ("invoice", "confirmation_secret"),
    ("price", "currency_options"),
    ("price", "tiers"),
];

impl Expandable for Rules {
    fn target(&self, object: &str, field: &str) -> Option<Target> {
        if object == "customer" {
            if let Some(f) = customers::includable(field) {
                return Some(Target::Computed(f));
            }
        }
        if INCLUDED.contains(&(object, field)) {
            return Some(Target::Included);
        }
        let types = params::object_type(object)?.expandable.get(field)?;
        Some(Target::Objects(types.iter().map(String::as_str).collect()))
    }

    fn below(&self, object: &str, prefix: &str) -> bool {
        params::object_type(object).is_some_and(|t| {
            t.expandable.keys().any(|k| {
                k.strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
        })
    }

    fn kind(&self, object_type: &str) -> Option<&'static Kind> {
        KINDS.iter().copied().find(|k| k.object == object_type)
    }
}
