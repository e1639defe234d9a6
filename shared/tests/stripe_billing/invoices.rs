//! Invoices made by hand, and previews of the next one.

use super::*;

#[tokio::test]
async fn invoices_made_by_hand_gather_items_tax_finalize_pay_and_close() {
    let t = T::new().await;
    let (_, customer) = t.customer(Some("pm_card_visa")).await;
    let rate = t
        .ok(
            "/v1/tax_rates",
            "display_name=VAT&percentage=10&inclusive=false",
        )
        .await;
    let rate = rate["id"].as_str().expect("rate");
    t.ok(
        "/v1/invoiceitems",
        &format!("customer={customer}&amount=1000&currency=usd&description=Setup"),
    )
    .await;
    t.ok("/v1/invoiceitems", &format!("customer={customer}&unit_amount_decimal=250&quantity=4&currency=usd&tax_rates[]={rate}")).await;
    let inv = t
        .ok(
            "/v1/invoices",
            &format!("customer={customer}&pending_invoice_items_behavior=include"),
        )
        .await;
    let id = inv["id"].as_str().expect("invoice");
    assert_eq!(inv["status"], "draft");
    assert_eq!(
        (inv["subtotal"].as_i64(), inv["total"].as_i64()),
        (Some(2000), Some(2100))
    );
    assert_eq!(inv["total_taxes"][0]["amount"], 100);
    let lines = t.got(&format!("/v1/invoices/{id}/lines")).await;
    assert_eq!(lines["data"][0]["description"], "Setup", "oldest first");
    let open = t.ok(&format!("/v1/invoices/{id}/finalize"), "").await;
    assert_eq!(open["status"], "open");
    assert!(
        open["number"]
            .as_str()
            .is_some_and(|n| n.ends_with("-0001")),
        "{}",
        open["number"]
    );
    t.refused(
        &format!(
            "/v1/invoiceitems/{}",
            lines["data"][0]["parent"]["invoice_item_details"]["invoice_item"]
                .as_str()
                .expect("item")
        ),
        "amount=5",
    )
    .await;
    let paid = t.ok(&format!("/v1/invoices/{id}/pay"), "").await;
    assert_eq!(
        (paid["status"].as_str(), paid["amount_paid"].as_i64()),
        (Some("paid"), Some(2100))
    );
    t.refused(&format!("/v1/invoices/{id}/void"), "").await;

    t.ok(
        "/v1/invoiceitems",
        &format!("customer={customer}&amount=700&currency=usd"),
    )
    .await;
    let second = t.ok("/v1/invoices", &format!("customer={customer}&pending_invoice_items_behavior=include&collection_method=send_invoice&days_until_due=14")).await;
    let second_id = second["id"].as_str().expect("invoice");
    let open = t
        .ok(&format!("/v1/invoices/{second_id}/finalize"), "")
        .await;
    assert_eq!(
        open["due_date"],
        open["created"].as_i64().expect("created") + 14 * DAY
    );
    t.ok(&format!("/v1/invoices/{second_id}/send"), "").await;
    let uncollectible = t
        .ok(&format!("/v1/invoices/{second_id}/mark_uncollectible"), "")
        .await;
    assert_eq!(uncollectible["status"], "uncollectible");
    let void = t.ok(&format!("/v1/invoices/{second_id}/void"), "").await;
    assert_eq!(
        (void["status"].as_str(), void["amount_remaining"].as_i64()),
        (Some("void"), Some(0))
    );

    let draft = t.ok("/v1/invoices", &format!("customer={customer}")).await;
    let draft_id = draft["id"].as_str().expect("draft");
    let gone =
        t.m.call(
            &t.s,
            axum::http::Method::DELETE,
            &format!("/v1/invoices/{draft_id}"),
            None,
        )
        .await;
    assert_eq!(gone.json["deleted"], true);
    assert_eq!(
        t.m.get(&t.s, &format!("/v1/invoices/{draft_id}"))
            .await
            .status
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn previews_show_the_next_invoice_and_leave_nothing_behind() {
    let t = T::new().await;
    let cheap = t.monthly(1000).await;
    let dear = t.monthly(3000).await;
    let (clock, customer) = t.customer(Some("pm_card_visa")).await;
    let sub = t.subscribe(&customer, &cheap).await;
    let id = sub["id"].as_str().expect("sub");
    let si = sub["items"]["data"][0]["id"].as_str().expect("item");
    let end = sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .expect("end");
    let before = t.marker().await;

    let next = t
        .ok("/v1/invoices/create_preview", &format!("subscription={id}"))
        .await;
    assert!(
        next["id"]
            .as_str()
            .is_some_and(|i| i.starts_with("upcoming_in_")),
        "{}",
        next["id"]
    );
    assert_eq!(
        (next["total"].as_i64(), next["period_start"].as_i64()),
        (Some(1000), Some(end))
    );
    let half = T0 + (end - T0) / 2;
    let change = t
        .ok(
            "/v1/invoices/create_preview",
            &format!("subscription={id}&subscription_details[items][0][id]={si}&subscription_details[items][0][price]={dear}&subscription_details[proration_date]={half}"),
        )
        .await;
    assert_eq!(
        change["total"],
        3000 - 500 + 1500,
        "the renewal at 30.00 plus the prorations"
    );
    assert!(
        t.events_since(&before).await.is_empty(),
        "a preview raises nothing"
    );
    let s = t.sub(id).await;
    assert_eq!(
        s["items"]["data"][0]["price"]["id"],
        cheap.as_str(),
        "nor changes anything"
    );
    let pending = t
        .got(&format!(
            "/v1/invoiceitems?customer={customer}&pending=true"
        ))
        .await;
    assert_eq!(pending["data"].as_array().map(Vec::len), Some(0));

    let one_off = t
        .ok(
            "/v1/invoices/create_preview",
            &format!(
                "customer={customer}&invoice_items[0][amount]=700&invoice_items[0][currency]=usd"
            ),
        )
        .await;
    assert_eq!(one_off["total"], 700);
    let (status, error) = t
        .refused(
            "/v1/invoices/create_preview",
            &format!("customer={customer}"),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("invoice_upcoming_none"))
    );

    let mark = t.marker().await;
    t.advance(&clock, end - 3 * DAY).await;
    let raised = t.events_since(&mark).await;
    assert_eq!(count(&raised, "invoice.upcoming"), 1, "{raised:?}");
}
