//! The Twilio mirror's route table: one line per emulated operation, named by
//! its product and operationId in Twilio's OpenAPI documents (`api/…` from
//! api.twilio.com's, `verify/…`, `messaging/…`).

use std::sync::LazyLock;

use axum::http::Method;
use serde_json::Value;

use super::error::TwilioError;
use super::pipeline::Call;
use super::{account, available_numbers, media, messages, messaging_services, numbers, verify};
use crate::mirrors::toolkit::params::ParamError;
use crate::mirrors::toolkit::route::{Route, Routes};

/// The operations Twilio answers with 201 Created rather than 200.
pub const CREATED: &[&str] = &[
    "api/CreateMessage",
    "api/CreateIncomingPhoneNumber",
    "messaging/CreateService",
    "messaging/CreatePhoneNumber",
    "verify/CreateService",
    "verify/CreateVerification",
];

/// A resource operation: behaviour on a [`Call`], returning the object to render.
pub type Handler = fn(&Call) -> Result<Value, TwilioError>;

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
            r(M::GET,    "/2010-04-01/Accounts/{Sid}.json", "api/FetchAccount", account::retrieve),
            r(M::GET,    "/2010-04-01/Accounts/{AccountSid}/Messages.json", "api/ListMessage", messages::list),
            r(M::POST,   "/2010-04-01/Accounts/{AccountSid}/Messages.json", "api/CreateMessage", messages::create),
            r(M::GET,    "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json", "api/FetchMessage", messages::retrieve),
            r(M::POST,   "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json", "api/UpdateMessage", messages::update),
            r(M::DELETE, "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json", "api/DeleteMessage", messages::remove),
            r(M::GET,    "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media.json", "api/ListMedia", media::list),
            r(M::GET,    "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{Sid}.json", "api/FetchMedia", media::retrieve),
            r(M::DELETE, "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{Sid}.json", "api/DeleteMedia", media::remove),
            r(M::GET,    "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json", "api/ListIncomingPhoneNumber", numbers::list),
            r(M::POST,   "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json", "api/CreateIncomingPhoneNumber", numbers::create),
            r(M::GET,    "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json", "api/FetchIncomingPhoneNumber", numbers::retrieve),
            r(M::POST,   "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json", "api/UpdateIncomingPhoneNumber", numbers::update),
            r(M::DELETE, "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json", "api/DeleteIncomingPhoneNumber", numbers::remove),
            r(M::GET,    "/2010-04-01/Accounts/{AccountSid}/AvailablePhoneNumbers/{CountryCode}/Local.json", "api/ListAvailablePhoneNumberLocal", available_numbers::local),
            r(M::GET,    "/2010-04-01/Accounts/{AccountSid}/AvailablePhoneNumbers/{CountryCode}/Mobile.json", "api/ListAvailablePhoneNumberMobile", available_numbers::mobile),
            r(M::GET,    "/2010-04-01/Accounts/{AccountSid}/AvailablePhoneNumbers/{CountryCode}/TollFree.json", "api/ListAvailablePhoneNumberTollFree", available_numbers::toll_free),
            r(M::POST,   "/v1/Services", "messaging/CreateService", messaging_services::create),
            r(M::GET,    "/v1/Services", "messaging/ListService", messaging_services::list),
            r(M::GET,    "/v1/Services/{Sid}", "messaging/FetchService", messaging_services::retrieve),
            r(M::POST,   "/v1/Services/{Sid}", "messaging/UpdateService", messaging_services::update),
            r(M::DELETE, "/v1/Services/{Sid}", "messaging/DeleteService", messaging_services::remove),
            r(M::POST,   "/v1/Services/{ServiceSid}/PhoneNumbers", "messaging/CreatePhoneNumber", messaging_services::phone_numbers::create),
            r(M::GET,    "/v1/Services/{ServiceSid}/PhoneNumbers", "messaging/ListPhoneNumber", messaging_services::phone_numbers::list),
            r(M::GET,    "/v1/Services/{ServiceSid}/PhoneNumbers/{Sid}", "messaging/FetchPhoneNumber", messaging_services::phone_numbers::retrieve),
            r(M::DELETE, "/v1/Services/{ServiceSid}/PhoneNumbers/{Sid}", "messaging/DeletePhoneNumber", messaging_services::phone_numbers::remove),
            r(M::POST,   "/v2/Services", "verify/CreateService", verify::services::create),
            r(M::GET,    "/v2/Services", "verify/ListService", verify::services::list),
            r(M::GET,    "/v2/Services/{Sid}", "verify/FetchService", verify::services::retrieve),
            r(M::POST,   "/v2/Services/{Sid}", "verify/UpdateService", verify::services::update),
            r(M::DELETE, "/v2/Services/{Sid}", "verify/DeleteService", verify::services::remove),
            r(M::POST,   "/v2/Services/{ServiceSid}/Verifications", "verify/CreateVerification", verify::verifications::create),
            r(M::GET,    "/v2/Services/{ServiceSid}/Verifications/{Sid}", "verify/FetchVerification", verify::verifications::retrieve),
            r(M::POST,   "/v2/Services/{ServiceSid}/Verifications/{Sid}", "verify/UpdateVerification", verify::verifications::update),
            r(M::POST,   "/v2/Services/{ServiceSid}/VerificationCheck", "verify/CreateVerificationCheck", verify::checks::create),
        ];
        Routes::new(routes)
    });
    &TABLE
}

/// A parameter error in the words the operation's resource uses for it
/// (21604 for a message without `To`), else Twilio's generic 20001.
pub fn refine(operation: &str, e: ParamError) -> TwilioError {
    match operation {
        "api/CreateMessage" => messages::create::param_error(e),
        _ => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mirrors::twilio::params;

    /// Every route names an operation of the generated tables, at the same
    /// method and path as Twilio's documents have it.
    #[test]
    fn every_route_is_an_operation_of_twilios_documents() {
        for route in table().iter() {
            let op = params::operation(route.operation);
            assert_eq!(op.method, route.method.as_str(), "{}", route.operation);
            assert_eq!(op.path, route.template, "{}", route.operation);
        }
    }
}
