//! What each Stripe object lets `expand[]` reach, for the toolkit's expansion.
//! Fields whose targets are not emulated yet (a customer's `discount`,
//! `default_source`, `test_clock`) expand to what they hold: `null`.

use serde_json::Value;

use super::customers;
use crate::mirrors::toolkit::expand::{Expandable, Target};

pub struct Rules;

impl Expandable for Rules {
    fn target(&self, object: &str, field: &str) -> Option<Target> {
        match (object, field) {
            ("customer", "default_source" | "discount" | "test_clock" | "invoice_settings.default_payment_method") => {
                Some(Target::Objects(Vec::new()))
            }
            ("customer", f) => customers::includable(f).map(Target::Computed),
            _ => None,
        }
    }
}

/// The id in an expandable field, whether it is expanded or not.
pub fn id_of(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
}
