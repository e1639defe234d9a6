//! SetupIntents, then off-session payments; their declines and cancel.

use super::*;

/// A SetupIntent with a card that asks for authentication on setup goes
/// through 3-D Secure, attaches the card to the customer and marks it set up;
/// then an off-session payment with it succeeds, where without the setup it
/// fails.
#[tokio::test]
async fn a_setup_intent_then_an_off_session_payment_succeeds() {
    let t = T::new().await;
    let cus = t.customer().await;
    let unset = t
        .ok(
            "/v1/payment_methods/pm_card_authenticationRequiredOnSetup/attach",
            &format!("customer={cus}"),
        )
        .await;
    let refused = t
        .pay(
            2000,
            &id(&unset),
            &format!("&customer={cus}&off_session=true"),
        )
        .await;
    assert_eq!(error(&refused)["code"], "authentication_required");

    let before = t.events().await.len();
    let si = t
        .ok(
            "/v1/setup_intents",
            &format!("customer={cus}&payment_method=pm_card_authenticationRequiredOnSetup&confirm=true&{CARD}&usage=off_session"),
        )
        .await;
    assert!(id(&si).starts_with("seti_"));
    assert_eq!(si["status"], "requires_action");
    assert_eq!(si["usage"], "off_session");
    assert!(si["next_action"]["use_stripe_sdk"]["stripe_js"]
        .as_str()
        .is_some_and(|u| u.contains(&format!("/_mirra/3ds/{}", id(&si)))));
    let done = t
        .ok(
            &format!(
                "/v1/test_helpers/mirra/setup_intents/{}/authenticate",
                id(&si)
            ),
            "outcome=complete",
        )
        .await;
    assert_eq!(done["status"], "succeeded");
    let pm = done["payment_method"].as_str().expect("pm").to_string();
    assert_eq!(
        t.raised(before).await,
        [
            "setup_intent.created",
            "setup_intent.requires_action",
            "payment_method.attached",
            "setup_intent.succeeded"
        ]
    );
    let method = t.got(&format!("/v1/payment_methods/{pm}")).await;
    assert_eq!(method["customer"], cus.as_str());
    let paid = t
        .pay(2000, &pm, &format!("&customer={cus}&off_session=true"))
        .await;
    assert_eq!(paid.json["status"], "succeeded", "{}", paid.json);
    let list = t.got(&format!("/v1/setup_intents?customer={cus}")).await;
    assert_eq!(list["data"][0]["id"], id(&si).as_str());
    let again = t
        .post(&format!("/v1/setup_intents/{}/confirm", id(&si)), "")
        .await;
    assert_eq!(error(&again)["code"], "setup_intent_unexpected_state");
}

/// A declined card fails its setup (402 with the SetupIntent); SetupIntents
/// update, cancel, and refuse to cancel twice.
#[tokio::test]
async fn setup_intents_fail_on_declines_and_cancel() {
    let t = T::new().await;
    let si = t.ok("/v1/setup_intents", CARD).await;
    assert_eq!(si["status"], "requires_payment_method");
    let si = t
        .ok(
            &format!("/v1/setup_intents/{}", id(&si)),
            "payment_method=pm_card_chargeDeclined&metadata[a]=b",
        )
        .await;
    assert_eq!(si["status"], "requires_confirmation");
    let r = t
        .post(&format!("/v1/setup_intents/{}/confirm", id(&si)), "")
        .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.json);
    assert_eq!(error(&r)["code"], "card_declined");
    assert_eq!(
        error(&r)["setup_intent"]["status"],
        "requires_payment_method"
    );
    let stored = t.got(&format!("/v1/setup_intents/{}", id(&si))).await;
    assert_eq!(
        stored["last_setup_error"]["decline_code"],
        "generic_decline"
    );
    let visa = t
        .ok(
            &format!("/v1/setup_intents/{}/confirm", id(&si)),
            "payment_method=pm_card_visa",
        )
        .await;
    assert_eq!(visa["status"], "succeeded");
    let no = t
        .post(&format!("/v1/setup_intents/{}/cancel", id(&si)), "")
        .await;
    assert_eq!(error(&no)["code"], "setup_intent_unexpected_state");
    let other = t.ok("/v1/setup_intents", CARD).await;
    let canceled = t
        .ok(
            &format!("/v1/setup_intents/{}/cancel", id(&other)),
            "cancellation_reason=abandoned",
        )
        .await;
    assert_eq!(canceled["status"], "canceled");
    let apm = t
        .ok("/v1/setup_intents", "payment_method=pm_card_visa")
        .await;
    let needs = t
        .post(&format!("/v1/setup_intents/{}/confirm", id(&apm)), "")
        .await;
    assert!(error(&needs)["message"]
        .as_str()
        .is_some_and(|m| m.contains("`return_url`")));
}
