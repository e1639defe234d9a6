//! Verify services (`VA…`, `/v2/Services`): the settings verifications are
//! made with. What the mirror acts on is `friendly_name` (in the code's
//! message), `code_length` (4–10, default 6), `custom_code_enabled` and
//! `do_not_share_warning_enabled`; every other setting is stored and echoed.

use serde_json::{json, Value};

use super::{invalid, located, not_found, service_path};
use crate::mirrors::toolkit::list::ListQuery;
use crate::mirrors::toolkit::objects::Kind;
use crate::mirrors::toolkit::time::iso8601_secs;
use crate::mirrors::twilio::error::TwilioError;
use crate::mirrors::twilio::paging;
use crate::mirrors::twilio::pipeline::Call;
use crate::mirrors::twilio::Twilio;
use crate::mirrors::Vendor;

pub static KIND: Kind = Kind {
    object: "verify_service",
    table: "verify_services",
    prefix: "VA",
    id_len: 32,
    columns: &[],
};

/// The code length Twilio gives a service that names none, and its bounds.
pub const DEFAULT_CODE_LENGTH: i64 = 6;
pub const CODE_LENGTHS: std::ops::RangeInclusive<i64> = 4..=10;
/// Longest `FriendlyName` (Twilio's 60200 beyond it).
pub const MAX_FRIENDLY_NAME: usize = 30;

/// Each settable parameter and where it lands in the service, for create and
/// update alike (the dotted parameters fill the nested blocks).
const SETTINGS: &[(&str, &str)] = &[
    ("FriendlyName", "/friendly_name"),
    ("CodeLength", "/code_length"),
    ("LookupEnabled", "/lookup_enabled"),
    ("SkipSmsToLandlines", "/skip_sms_to_landlines"),
    ("DtmfInputRequired", "/dtmf_input_required"),
    ("TtsName", "/tts_name"),
    ("Psd2Enabled", "/psd2_enabled"),
    ("DoNotShareWarningEnabled", "/do_not_share_warning_enabled"),
    ("CustomCodeEnabled", "/custom_code_enabled"),
    ("DefaultTemplateSid", "/default_template_sid"),
    (
        "VerifyEventSubscriptionEnabled",
        "/verify_event_subscription_enabled",
    ),
    ("Push.IncludeDate", "/push/include_date"),
    ("Push.ApnCredentialSid", "/push/apn_credential_sid"),
    ("Push.FcmCredentialSid", "/push/fcm_credential_sid"),
    ("Totp.Issuer", "/totp/issuer"),
    ("Totp.TimeStep", "/totp/time_step"),
    ("Totp.CodeLength", "/totp/code_length"),
    ("Totp.Skew", "/totp/skew"),
    ("Whatsapp.MsgServiceSid", "/whatsapp/msg_service_sid"),
    ("Whatsapp.From", "/whatsapp/from"),
    ("Passkeys.RelyingParty.Id", "/passkeys/relying_party/id"),
    ("Passkeys.RelyingParty.Name", "/passkeys/relying_party/name"),
    (
        "Passkeys.RelyingParty.Origins",
        "/passkeys/relying_party/origins",
    ),
    (
        "Passkeys.AuthenticatorAttachment",
        "/passkeys/authenticator_attachment",
    ),
    (
        "Passkeys.DiscoverableCredentials",
        "/passkeys/discoverable_credentials",
    ),
    ("Passkeys.UserVerification", "/passkeys/user_verification"),
];

/// `CreateService`.
pub fn create(call: &Call) -> Result<Value, TwilioError> {
    let sid = Twilio.new_id(&KIND);
    let now = iso8601_secs(call.now_ms);
    let mut service = json!({
        "account_sid": call.account_sid(),
        "code_length": DEFAULT_CODE_LENGTH,
        "custom_code_enabled": false,
        "date_created": now,
        "date_updated": now,
        "default_template_sid": null,
        "do_not_share_warning_enabled": false,
        "dtmf_input_required": false,
        "friendly_name": "",
        "links": {},
        "lookup_enabled": false,
        "passkeys": {
            "authenticator_attachment": null,
            "discoverable_credentials": null,
            "relying_party": {"id": null, "name": null, "origins": null},
            "user_verification": null,
        },
        "psd2_enabled": false,
        "push": {"apn_credential_sid": null, "fcm_credential_sid": null, "include_date": false},
        "sid": sid,
        "skip_sms_to_landlines": false,
        "totp": {"code_length": 6, "issuer": null, "skew": 1, "time_step": 30},
        "tts_name": null,
        "url": "",
        "verify_event_subscription_enabled": false,
        "whatsapp": {"from": null, "msg_service_sid": null},
    });
    apply(call, &mut service)?;
    if service["totp"]["issuer"].is_null() {
        // Twilio's default issuer is the service's name.
        service["totp"]["issuer"] = service["friendly_name"].clone();
    }
    let service = with_urls(call.base_url, service);
    KIND.insert_at(call.conn, &service, call.now_ms.div_euclid(1000))?;
    Ok(service)
}

/// `FetchService`.
pub fn retrieve(call: &Call) -> Result<Value, TwilioError> {
    Ok(with_urls(call.base_url, load(call, call.args.get("Sid"))?))
}

/// `ListService`: newest first, Twilio's v2 paging.
pub fn list(call: &Call) -> Result<Value, TwilioError> {
    paging::v1(call, &KIND, "services", ListQuery::default(), |item| {
        with_urls(call.base_url, item)
    })
}

/// `UpdateService`: the settings given replace the stored ones.
pub fn update(call: &Call) -> Result<Value, TwilioError> {
    let mut service = load(call, call.args.get("Sid"))?;
    apply(call, &mut service)?;
    service["date_updated"] = json!(iso8601_secs(call.now_ms));
    KIND.save(call.conn, &service)?;
    Ok(with_urls(call.base_url, service))
}

/// `DeleteService`: its verifications go with it (they answer 20404, their
/// service being unknown).
pub fn remove(call: &Call) -> Result<Value, TwilioError> {
    let sid = call.args.get("Sid");
    load(call, sid)?;
    KIND.remove(call.conn, sid)?;
    Ok(Value::Null)
}

/// Service `sid`, or Twilio's 20404 for its URL.
pub fn load(call: &Call, sid: &str) -> Result<Value, TwilioError> {
    KIND.load(call.conn, sid)?
        .ok_or_else(|| not_found(&service_path(sid), None))
}

/// The request's settings written into `service`, then checked.
fn apply(call: &Call, service: &mut Value) -> Result<(), TwilioError> {
    call.apply_settings(SETTINGS, service);
    let name = service["friendly_name"].as_str().unwrap_or_default();
    if name.trim().is_empty() || name.chars().count() > MAX_FRIENDLY_NAME {
        return Err(invalid("FriendlyName"));
    }
    let length = service["code_length"].as_i64().unwrap_or_default();
    if !CODE_LENGTHS.contains(&length) {
        return Err(invalid("CodeLength"));
    }
    Ok(())
}

/// `service` with its absolute `url` and `links`, against `base`.
fn with_urls(base: &str, mut service: Value) -> Value {
    let path = service_path(service["sid"].as_str().unwrap_or_default());
    let link = |rest: &str| located(base, &format!("{path}/{rest}"));
    service["url"] = json!(located(base, &path));
    service["links"] = json!({
        "access_tokens": link("AccessTokens"),
        "entities": link("Entities"),
        "messaging_configurations": link("MessagingConfigurations"),
        "rate_limits": link("RateLimits"),
        "verification_checks": link("VerificationCheck"),
        "verifications": link("Verifications"),
        "webhooks": link("Webhooks"),
    });
    service
}
