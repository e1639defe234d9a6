//! The Resend mirror's route table: one line per emulated operation, named by
//! its operationId in Resend's OpenAPI document.

use std::sync::LazyLock;

use axum::http::Method;
use serde_json::Value;

use super::error::ResendError;
use super::pipeline::Call;
use super::{api_keys, broadcasts, contacts, domains, emails, segments, webhooks};
use crate::mirrors::toolkit::route::{Route, Routes};

/// The operations Resend answers with 201 Created rather than 200.
pub const CREATED: &[&str] = &[
    "webhooks/create",
    "api-keys/create",
    "segments/create",
    "audiences/create",
    "contacts/create",
    "audiences/create-contact",
    "broadcasts/create",
];

/// A resource operation: behaviour on a [`Call`], returning the object to render.
pub type Handler = fn(&Call) -> Result<Value, ResendError>;

pub fn table() -> &'static Routes<Handler> {
    static TABLE: LazyLock<Routes<Handler>> = LazyLock::new(|| {
        let r = |method: Method, template, operation, handler: Handler| Route {
            method,
            template,
            operation,
            handler,
        };
        use Method as M;
        #[rustfmt::skip]
        let routes = vec![
            r(M::GET,   "/emails", "emails/list", emails::list),
            r(M::POST,  "/emails", "emails/send", emails::send),
            r(M::POST,  "/emails/batch", "emails/send-batch", emails::batch),
            r(M::GET,   "/emails/{email_id}", "emails/get", emails::retrieve),
            r(M::PATCH, "/emails/{email_id}", "emails/update", emails::update),
            r(M::POST,  "/emails/{email_id}/cancel", "emails/cancel", emails::cancel),
            r(M::GET,   "/contacts", "contacts/list", contacts::list),
            r(M::POST,  "/contacts", "contacts/create", contacts::create),
            r(M::GET,   "/contacts/{id}", "contacts/get", contacts::retrieve),
            r(M::PATCH, "/contacts/{id}", "contacts/update", contacts::update),
            r(M::DELETE, "/contacts/{id}", "contacts/remove", contacts::remove),
            r(M::GET,   "/contacts/{contact_id}/segments", "contacts/list-segments", segments::of_contact),
            r(M::POST,  "/contacts/{contact_id}/segments/{segment_id}", "contacts/add-segment", segments::add_contact),
            r(M::DELETE, "/contacts/{contact_id}/segments/{segment_id}", "contacts/remove-segment", segments::remove_contact),
            r(M::GET,   "/segments", "segments/list", segments::list),
            r(M::POST,  "/segments", "segments/create", segments::create),
            r(M::GET,   "/segments/{id}", "segments/get", segments::retrieve),
            r(M::DELETE, "/segments/{id}", "segments/remove", segments::remove),
            r(M::GET,   "/segments/{segment_id}/contacts", "segments/list-contacts", contacts::list),
            r(M::GET,   "/audiences", "audiences/list", segments::list),
            r(M::POST,  "/audiences", "audiences/create", segments::create_audience),
            r(M::GET,   "/audiences/{id}", "audiences/get", segments::retrieve_audience),
            r(M::DELETE, "/audiences/{id}", "audiences/remove", segments::remove_audience),
            r(M::GET,   "/audiences/{audience_id}/contacts", "audiences/list-contacts", contacts::list),
            r(M::POST,  "/audiences/{audience_id}/contacts", "audiences/create-contact", contacts::create_in_audience),
            r(M::GET,   "/audiences/{audience_id}/contacts/{id}", "audiences/get-contact", contacts::retrieve_in_audience),
            r(M::PATCH, "/audiences/{audience_id}/contacts/{id}", "audiences/update-contact", contacts::update_in_audience),
            r(M::DELETE, "/audiences/{audience_id}/contacts/{id}", "audiences/remove-contact", contacts::remove_in_audience),
            r(M::GET,   "/broadcasts", "broadcasts/list", broadcasts::list),
            r(M::POST,  "/broadcasts", "broadcasts/create", broadcasts::create),
            r(M::GET,   "/broadcasts/{id}", "broadcasts/get", broadcasts::retrieve),
            r(M::PATCH, "/broadcasts/{id}", "broadcasts/update", broadcasts::update),
            r(M::DELETE, "/broadcasts/{id}", "broadcasts/remove", broadcasts::remove),
            r(M::POST,  "/broadcasts/{id}/send", "broadcasts/send", broadcasts::send),
            r(M::POST,  "/broadcasts/{id}/cancel", "broadcasts/cancel", broadcasts::cancel),
            r(M::GET,   "/domains", "domains/list", domains::list),
            r(M::POST,  "/domains", "domains/create", domains::create),
            r(M::GET,   "/domains/{domain_id}", "domains/get", domains::retrieve),
            r(M::PATCH, "/domains/{domain_id}", "domains/update", domains::update),
            r(M::DELETE, "/domains/{domain_id}", "domains/remove", domains::remove),
            r(M::POST,  "/domains/{domain_id}/verify", "domains/verify", domains::verify),
            r(M::GET,   "/api-keys", "api-keys/list", api_keys::list),
            r(M::POST,  "/api-keys", "api-keys/create", api_keys::create),
            r(M::PATCH, "/api-keys/{api_key_id}", "api-keys/update", api_keys::update),
            r(M::DELETE, "/api-keys/{api_key_id}", "api-keys/remove", api_keys::remove),
            r(M::GET,   "/webhooks", "webhooks/list", webhooks::list),
            r(M::POST,  "/webhooks", "webhooks/create", webhooks::create),
            r(M::GET,   "/webhooks/{webhook_id}", "webhooks/get", webhooks::retrieve),
            r(M::PATCH, "/webhooks/{webhook_id}", "webhooks/update", webhooks::update),
            r(M::DELETE, "/webhooks/{webhook_id}", "webhooks/remove", webhooks::remove),
        ];
        Routes::new(routes)
    });
    &TABLE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mirrors::resend::params;

    /// Every route names an operation of the generated tables, at the same
    /// method and path as Resend's document has it.
    #[test]
    fn every_route_is_an_operation_of_resends_document() {
        for route in table().iter() {
            let op = params::operation(route.operation);
            assert_eq!(op.method, route.method.as_str(), "{}", route.operation);
            assert_eq!(op.path, route.template, "{}", route.operation);
        }
    }
}
