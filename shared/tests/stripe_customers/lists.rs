//! Lists: pages in both directions, filters, bad limits and cursors.

use super::*;

#[tokio::test]
async fn list_paginates_newest_first_in_both_directions() {
    let h = harness();
    let s = h.session().await;
    let seeded = s.all_ids(&h).await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(
            s.create(&h, &format!("name=c{i}")).await["id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    // Newest first; customers created within one second keep creation order reversed.
    let mut expected: Vec<String> = created.iter().rev().cloned().collect();
    expected.extend(seeded.iter().cloned());
    let first = s.get(&h, "/v1/customers").await;
    validate("list", &first.json);
    assert_eq!(first.json["object"], "list");
    assert_eq!(first.json["url"], "/v1/customers");
    assert_eq!(
        ids(&first.json),
        expected[..10.min(expected.len())].to_vec(),
        "default limit is 10"
    );

    // Forward, three at a time.
    let mut forward = Vec::new();
    let mut q = "/v1/customers?limit=3".to_string();
    loop {
        let r = s.get(&h, &q).await;
        validate("list", &r.json);
        let page = ids(&r.json);
        assert!(page.len() <= 3);
        forward.extend(page.clone());
        if r.json["has_more"] != true {
            break;
        }
        q = format!(
            "/v1/customers?limit=3&starting_after={}",
            page.last().expect("non-empty page")
        );
    }
    assert_eq!(forward, expected);

    // Backward from the oldest, three at a time: pages keep newest-first order.
    let oldest = expected.last().expect("some customers").clone();
    let mut backward: Vec<String> = Vec::new();
    let mut q = format!("/v1/customers?limit=3&ending_before={oldest}");
    loop {
        let r = s.get(&h, &q).await;
        let page = ids(&r.json);
        let mut merged = page.clone();
        merged.extend(backward);
        backward = merged;
        if r.json["has_more"] != true {
            break;
        }
        q = format!(
            "/v1/customers?limit=3&ending_before={}",
            page.first().expect("non-empty page")
        );
    }
    assert_eq!(backward, expected[..expected.len() - 1].to_vec());

    // A deleted customer is still a valid cursor.
    let middle = &expected[3];
    s.delete(&h, &format!("/v1/customers/{middle}")).await;
    let r = s
        .get(
            &h,
            &format!("/v1/customers?limit=2&starting_after={middle}"),
        )
        .await;
    assert_eq!(ids(&r.json), expected[4..6].to_vec());
}

#[tokio::test]
async fn list_filters_by_email_and_created() {
    let h = harness();
    let s = h.session().await;
    let a = s.create(&h, "email=dup%40example.com&name=first").await;
    let b = s.create(&h, "email=dup%40example.com&name=second").await;
    s.create(&h, "email=other%40example.com").await;
    let r = s.get(&h, "/v1/customers?email=dup%40example.com").await;
    assert_eq!(
        ids(&r.json),
        vec![
            b["id"].as_str().expect("id").to_string(),
            a["id"].as_str().expect("id").to_string()
        ]
    );
    let r = s.get(&h, "/v1/customers?email=DUP%40example.com").await;
    assert_eq!(
        ids(&r.json),
        Vec::<String>::new(),
        "the email filter is case-sensitive, as on Stripe"
    );
    // The default seed's customers were created 2025-01-01 .. 2025-01-22.
    let r = s
        .get(
            &h,
            "/v1/customers?created[gte]=1736294400&created[lt]=1737504000",
        )
        .await;
    assert_eq!(
        ids(&r.json),
        vec!["cus_SeedLinus00003", "cus_SeedGrace00002"]
    );
    let r = s.get(&h, "/v1/customers?created=1735689600").await;
    assert_eq!(ids(&r.json), vec!["cus_SeedAda0000001"]);
    let r = s
        .get(
            &h,
            "/v1/customers?created[gt]=1737504000&created[lte]=1737504000",
        )
        .await;
    assert_eq!(ids(&r.json), Vec::<String>::new());
    let r = s.get(&h, "/v1/customers?created[gt]=abc").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_invalid_integer"),
        "Invalid integer: abc",
        Some("created[gt]"),
    );
    let r = s.get(&h, "/v1/customers?created[between]=1").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_unknown"),
        "Received unknown parameter: created[between]",
        Some("created[between]"),
    );
}

#[tokio::test]
async fn list_rejects_bad_limits_and_unknown_cursors() {
    let h = harness();
    let s = h.session().await;
    let r = s.get(&h, "/v1/customers?limit=0").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        "This value must be greater than or equal to 1.",
        Some("limit"),
    );
    let r = s.get(&h, "/v1/customers?limit=101").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        "This value must be less than or equal to 100.",
        Some("limit"),
    );
    let r = s.get(&h, "/v1/customers?limit=ten").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameter_invalid_integer"),
        "Invalid integer: ten",
        Some("limit"),
    );
    let r = s.get(&h, "/v1/customers?limit=100").await;
    assert_eq!(r.status, StatusCode::OK);
    let r = s.get(&h, "/v1/customers?starting_after=cus_nope").await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        "No such customer: 'cus_nope'",
        Some("starting_after"),
    );
    let r = s.get(&h, "/v1/customers?ending_before=cus_nope").await;
    assert_error(
        &r,
        StatusCode::NOT_FOUND,
        Some("resource_missing"),
        "No such customer: 'cus_nope'",
        Some("ending_before"),
    );
    let r = s
        .get(&h, "/v1/customers?starting_after=a&ending_before=b")
        .await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        Some("parameters_exclusive"),
        "You may only specify one of these parameters: ending_before, starting_after.",
        Some("ending_before"),
    );
    let r = s.get(&h, "/v1/customers?expand[]=sources").await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        None,
        "This property cannot be expanded (sources).",
        None,
    );
}
