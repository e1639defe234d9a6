//! What only DynamoDB has: TTLs, name reclaims, log cleanup, the due index,
//! creating resources, and errors naming what is missing.

use super::*;

#[tokio::test]
async fn dynamodb_session_items_carry_a_ttl_from_expires_at() {
    let Some(url) = endpoint() else { return };
    let t = table(&url).await;
    let ttl_desc = t
        .client()
        .describe_time_to_live()
        .table_name(t.table_name())
        .send()
        .await
        .expect("describe ttl");
    let desc = ttl_desc
        .time_to_live_description()
        .expect("ttl description");
    assert_eq!(desc.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(desc.attribute_name(), Some(TTL_ATTRIBUTE));

    let ttl_of = |item: &HashMap<String, AttributeValue>| {
        item.get(TTL_ATTRIBUTE).map(|v| {
            v.as_n()
                .expect("ttl is a number")
                .parse::<i64>()
                .expect("integer")
        })
    };
    let mut r = row("ses_ttl", "ws_ttl", Some("n"), Some(1_900_000_000));
    t.create_session(&r).await.expect("create");
    let item = session_item(&t, &r.id).await.expect("item");
    assert_eq!(
        ttl_of(&item),
        Some(1_900_000_000 + TTL_GRACE_SECS),
        "ttl on create"
    );

    r.expires_at = Some(1_900_000_600);
    t.put_session(&r).await.expect("put");
    let item = session_item(&t, &r.id).await.expect("item");
    assert_eq!(
        ttl_of(&item),
        Some(1_900_000_600 + TTL_GRACE_SECS),
        "ttl follows a put"
    );

    r.name = Some("renamed".into());
    r.expires_at = Some(1_900_001_200);
    t.put_session(&r).await.expect("put with rename");
    let item = session_item(&t, &r.id).await.expect("item");
    assert_eq!(
        ttl_of(&item),
        Some(1_900_001_200 + TTL_GRACE_SECS),
        "ttl follows a rename"
    );

    r.expires_at = None;
    t.put_session(&r).await.expect("put without expiry");
    let item = session_item(&t, &r.id).await.expect("item");
    assert_eq!(ttl_of(&item), None, "a persistent row has no ttl");
    assert_eq!(t.get_session(&r.id).await.expect("get"), r);

    let p = row("ses_ttl_p", "ws_ttl", None, None);
    t.create_session(&p).await.expect("create persistent");
    let item = session_item(&t, &p.id).await.expect("item");
    assert_eq!(ttl_of(&item), None, "a row without expiry never gets a ttl");
    drop_table(&t).await;
}

/// A credential item holds a digest (never the key), has no TTL while its row
/// lives, takes its tombstone's TTL when the row ends, and one whose row a TTL
/// deleted names nothing.
#[tokio::test]
async fn dynamodb_credential_items_expire_with_their_tombstone() {
    let Some(url) = endpoint() else { return };
    let t = table(&url).await;
    let secret = "sk_test_cloudsecret0123";
    let key = CredentialKey::new("stripe", secret);
    let cred_item = |items: &[HashMap<String, AttributeValue>]| {
        items
            .iter()
            .find(|i| attr_s(i, "pk") == Some(&format!("C#{}", key.as_str())))
            .cloned()
    };
    let mut r = row("ses_cred", "ws", None, Some(1_900_000_000));
    r.credentials = vec![key.clone()];
    t.create_session(&r).await.expect("create");
    let items = all_items(&t).await;
    assert!(
        !format!("{items:?}").contains(secret),
        "the table holds the credential's digest, never the credential"
    );
    let item = cred_item(&items).expect("the credential's item");
    assert_eq!(attr_s(&item, "id"), Some("ses_cred"));
    assert_eq!(attr_s(&item, "inc"), Some(r.incarnation.as_str()));
    assert!(
        !item.contains_key(TTL_ATTRIBUTE),
        "a live row's credential has no ttl"
    );

    let tombstone = Tombstone {
        id: r.id.clone(),
        incarnation: r.incarnation.clone(),
        workspace: r.workspace.clone(),
        name: None,
        ended_at_ms: 1_900_000_000_500,
        reason: "expired".into(),
    };
    assert!(t
        .delete_session(&r.id, &r.incarnation, Some(&tombstone))
        .await
        .expect("delete"));
    let items = all_items(&t).await;
    let item = cred_item(&items).expect("an ended row's credential stays");
    let tomb = items
        .iter()
        .find(|i| attr_s(i, "pk") == Some("S#ses_cred") && attr_s(i, "sk") == Some("T"))
        .expect("tombstone item");
    assert_eq!(
        item.get(TTL_ATTRIBUTE),
        tomb.get(TTL_ATTRIBUTE),
        "an ended row's credential expires with its tombstone"
    );
    assert_eq!(
        t.find_credential(&key).await.expect("find"),
        CredentialOwner::Ended(tombstone)
    );

    // DynamoDB's TTL deletes a row item alone (moto never does: simulate it).
    let other = CredentialKey::new("stripe", "sk_test_ttldeleted");
    let mut gone = row("ses_ttld", "ws", None, Some(1_000));
    gone.credentials = vec![other.clone()];
    t.create_session(&gone).await.expect("create");
    t.client()
        .delete_item()
        .table_name(t.table_name())
        .key("pk", AttributeValue::S("S#ses_ttld".into()))
        .key("sk", AttributeValue::S("S".into()))
        .send()
        .await
        .expect("delete row item");
    assert!(
        matches!(
            t.find_credential(&other).await,
            Err(StorageError::NotFound(_))
        ),
        "a credential whose row a TTL deleted names nothing"
    );
    drop_table(&t).await;
}

#[tokio::test]
async fn dynamodb_reclaims_a_name_whose_row_a_ttl_deleted() {
    let Some(url) = endpoint() else { return };
    let t = table(&url).await;
    let old = row("ses_old", "ws", Some("nightly"), Some(1_000));
    t.create_session(&old).await.expect("create");
    // DynamoDB's TTL deletes the row item alone (moto never does: simulate it).
    t.client()
        .delete_item()
        .table_name(t.table_name())
        .key("pk", AttributeValue::S("S#ses_old".into()))
        .key("sk", AttributeValue::S("S".into()))
        .send()
        .await
        .expect("delete row item");
    assert!(
        matches!(
            t.find_session("ws", "nightly").await,
            Err(StorageError::NotFound(_))
        ),
        "a reservation without its row finds nothing"
    );
    assert!(t
        .list_sessions("ws", None, usize::MAX)
        .await
        .expect("list")
        .is_empty());
    let new = row("ses_new", "ws", Some("nightly"), None);
    t.create_session(&new)
        .await
        .expect("a name whose row is gone is free again");
    assert_eq!(t.find_session("ws", "nightly").await.expect("find"), new);
    // Renaming onto a stale reservation works too.
    let other = row("ses_other", "ws", Some("weekly"), None);
    t.create_session(&other).await.expect("create");
    t.client()
        .delete_item()
        .table_name(t.table_name())
        .key("pk", AttributeValue::S("S#ses_other".into()))
        .key("sk", AttributeValue::S("S".into()))
        .send()
        .await
        .expect("delete row item");
    let mut renamed = new.clone();
    renamed.name = Some("weekly".into());
    t.put_session(&renamed)
        .await
        .expect("rename onto a stale name");
    assert_eq!(t.find_session("ws", "weekly").await.expect("find"), renamed);
    assert!(matches!(
        t.find_session("ws", "nightly").await,
        Err(StorageError::NotFound(_))
    ));
    drop_table(&t).await;
}

#[tokio::test]
async fn dynamodb_leaves_no_log_items_behind() {
    let Some(url) = endpoint() else { return };
    let t = table(&url).await;
    let r = row("ses_log", "ws", Some("n"), None);
    t.create_session(&r).await.expect("create");
    for mirror in ["stripe", "twilio"] {
        for seq in 1..=6 {
            t.append_log(&log_key(&r, mirror), seq, b"x")
                .await
                .expect("append");
        }
    }
    let cp = Checkpoint {
        seq: 4,
        object: "checkpoints/4".into(),
    };
    assert!(t
        .set_checkpoint(&log_key(&r, "stripe"), &cp)
        .await
        .expect("checkpoint"));
    let left = log_items(&t, &r.id).await;
    let stripe: Vec<_> = left.iter().filter(|sk| sk.starts_with("stripe#")).collect();
    assert_eq!(
        stripe.len(),
        3,
        "entries below the checkpoint are deleted at once: {left:?}"
    );
    assert_eq!(left.len(), 9, "another mirror's log is untouched: {left:?}");
    assert_eq!(
        t.checkpoint(&log_key(&r, "stripe"))
            .await
            .expect("checkpoint"),
        Some(cp)
    );
    assert_eq!(
        t.checkpoint(&log_key(&r, "twilio"))
            .await
            .expect("checkpoint"),
        None
    );

    assert!(t
        .delete_session(&r.id, &r.incarnation, None)
        .await
        .expect("delete"));
    assert!(
        log_items(&t, &r.id).await.is_empty(),
        "delete_session removes every log item"
    );
    let items = all_items(&t).await;
    assert!(
        items.iter().all(|i| attr_s(i, "pk").is_some_and(
            |pk| pk.starts_with("W#") && attr_s(i, "sk").is_some_and(|sk| sk.starts_with("U#"))
        )),
        "only usage counters may outlive a session: {items:?}"
    );
    drop_table(&t).await;
}

/// Due-work items sit in their own partition with a shard and a numeric
/// time, the index serves them, they go with their session, and an entry of
/// an ended incarnation (left by a failed cleanup) never holds back the
/// reused id's own.
#[tokio::test]
async fn dynamodb_due_work_lives_in_its_index_and_goes_with_its_session() {
    let Some(url) = endpoint() else { return };
    let t = table(&url).await;
    let r = row("ses_due", "ws", None, None);
    t.create_session(&r).await.expect("create");
    for (mirror, at) in [("stripe", 5), ("twilio", 7)] {
        assert!(t
            .schedule_due(&r.id, &r.incarnation, mirror, at)
            .await
            .expect("schedule_due"));
    }
    let due_items = |items: Vec<HashMap<String, AttributeValue>>| -> Vec<_> {
        items
            .into_iter()
            .filter(|i| attr_s(i, "pk") == Some("D#ses_due"))
            .collect()
    };
    let items = due_items(all_items(&t).await);
    assert_eq!(items.len(), 2, "one item per mirror: {items:?}");
    let stripe = items
        .iter()
        .find(|i| attr_s(i, "sk") == Some("M#stripe"))
        .expect("the stripe entry");
    assert_eq!(stripe.get(DUE_AT), Some(&AttributeValue::N("5".into())));
    let shard = attr_s(stripe, DUE_SHARD).expect("a shard").to_owned();
    assert!(shard.starts_with("due#"), "{shard}");

    // Straight from the index: the shard's entries, with what the table reads.
    let out = t
        .client()
        .query()
        .table_name(t.table_name())
        .index_name(DUE_INDEX)
        .key_condition_expression("#s = :s AND #t <= :t")
        .expression_attribute_names("#s", DUE_SHARD)
        .expression_attribute_names("#t", DUE_AT)
        .expression_attribute_values(":s", AttributeValue::S(shard.clone()))
        .expression_attribute_values(":t", AttributeValue::N("5".into()))
        .send()
        .await
        .expect("query the index");
    let found = out.items.unwrap_or_default();
    assert_eq!(found.len(), 1, "{found:?}");
    for attr in ["id", "inc", "mir"] {
        assert!(found[0].contains_key(attr), "the index projects {attr}");
    }

    assert!(t
        .delete_session(&r.id, &r.incarnation, None)
        .await
        .expect("delete"));
    assert!(
        due_items(all_items(&t).await).is_empty(),
        "delete_session removes the session's due work"
    );

    // A leftover of the ended incarnation, earlier than anything new.
    let mut leftover = stripe.clone();
    leftover.insert(DUE_AT.into(), AttributeValue::N("1".into()));
    t.client()
        .put_item()
        .table_name(t.table_name())
        .set_item(Some(leftover))
        .send()
        .await
        .expect("put a leftover entry");
    let second = row("ses_due", "ws", None, None);
    t.create_session(&second).await.expect("create again");
    assert!(
        t.schedule_due(&second.id, &second.incarnation, "stripe", 50)
            .await
            .expect("schedule_due"),
        "a later time replaces another incarnation's entry"
    );
    let entries = t.due_before(i64::MAX, 10).await.expect("due_before");
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        (entries[0].incarnation.as_str(), entries[0].due_at_ms),
        (second.incarnation.as_str(), 50)
    );
    assert!(t
        .delete_session(&second.id, &second.incarnation, None)
        .await
        .expect("delete"));
    drop_table(&t).await;
}

/// A table made before the due-work and expiry indexes (keys only) gets them
/// from `create_table_if_missing`; due work then works on it, and an expiring
/// row written before the expiry index (no shard) is found once expired.
#[tokio::test]
async fn an_existing_table_without_the_indexes_gets_them_and_old_rows_are_found() {
    let Some(url) = endpoint() else { return };
    let t = DynamoSessionTable::from_sdk_config(&sdk(&url).await, unique("old"));
    let attr = |name: &str| {
        aws_sdk_dynamodb::types::AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
            .build()
            .expect("attribute")
    };
    let key = |name: &str, kind| {
        aws_sdk_dynamodb::types::KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key")
    };
    t.client()
        .create_table()
        .table_name(t.table_name())
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", aws_sdk_dynamodb::types::KeyType::Hash))
        .key_schema(key("sk", aws_sdk_dynamodb::types::KeyType::Range))
        .send()
        .await
        .expect("create a table the old way");
    let r = row("ses_old", "ws", None, None);
    t.create_session(&r).await.expect("create");
    // An expiring row as an older Mirra wrote it: no expiry shard.
    let old = row("ses_oldx", "ws", None, Some(1_000));
    t.create_session(&old).await.expect("create expiring");
    t.client()
        .update_item()
        .table_name(t.table_name())
        .key("pk", AttributeValue::S(format!("S#{}", old.id)))
        .key("sk", AttributeValue::S("S".into()))
        .update_expression("REMOVE exp_shard")
        .send()
        .await
        .expect("take the shard off");
    assert!(
        !t.create_table_if_missing().await.expect("upgrade"),
        "the table existed"
    );
    let desc = t
        .client()
        .describe_table()
        .table_name(t.table_name())
        .send()
        .await
        .expect("describe");
    let indexes: Vec<_> = desc
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .filter_map(|i| i.index_name())
        .collect();
    let mut indexes = indexes;
    indexes.sort();
    assert_eq!(indexes, [DUE_INDEX, EXPIRY_INDEX]);
    let expired = t.expired_sessions(2_000).await.expect("expired");
    assert_eq!(
        expired.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [old.id.as_str()],
        "the old row, backfilled into the index"
    );
    assert!(t
        .schedule_due(&r.id, &r.incarnation, "stripe", 9)
        .await
        .expect("schedule_due"));
    assert_eq!(t.next_due().await.expect("next_due"), Some(9));
    assert!(
        !t.create_table_if_missing().await.expect("again"),
        "idempotent once upgraded"
    );
    drop_table(&t).await;
}

#[tokio::test]
async fn resources_are_created_once_and_creation_is_idempotent() {
    let Some(url) = endpoint() else { return };
    let conf = sdk(&url).await;
    let name = unique("res");
    let stores: Vec<_> = (0..3)
        .map(|_| S3ObjectStore::from_sdk_config(&conf, name.clone(), true))
        .collect();
    let created = futures_all(stores.iter().map(|s| s.create_bucket_if_missing())).await;
    // S3 in us-east-1 answers a repeated CreateBucket by the owner with 200, so
    // racers may all say "created"; what matters is that none fails.
    assert!(
        created.iter().all(Result::is_ok) && created.iter().any(|c| matches!(c, Ok(true))),
        "racing bucket creation: {created:?}"
    );
    assert!(!stores[0].create_bucket_if_missing().await.expect("again"));
    stores[0]
        .put("k", Bytes::from_static(b"v"))
        .await
        .expect("the bucket works");

    let tables: Vec<_> = (0..3)
        .map(|_| DynamoSessionTable::from_sdk_config(&conf, name.clone()))
        .collect();
    let created = futures_all(tables.iter().map(|t| t.create_table_if_missing())).await;
    assert!(
        created.iter().filter(|c| matches!(c, Ok(true))).count() <= 1
            && created.iter().all(Result::is_ok),
        "racing table creation: {created:?}"
    );
    assert!(!tables[0].create_table_if_missing().await.expect("again"));
    tables[0]
        .create_session(&row("ses_res", "ws", None, None))
        .await
        .expect("the table works");
    drop_bucket(&stores[0]).await;
    drop_table(&tables[0]).await;
}

#[tokio::test]
async fn missing_bucket_and_table_are_backend_errors_naming_them() {
    let Some(url) = endpoint() else { return };
    let conf = sdk(&url).await;
    let store = S3ObjectStore::from_sdk_config(&conf, unique("missing"), true);
    match store.put("k", Bytes::from_static(b"v")).await {
        Err(StorageError::Backend(m)) => assert!(m.contains("NoSuchBucket"), "{m}"),
        other => panic!("put into a missing bucket: {other:?}"),
    }
    for (what, result) in [
        ("get", store.get("k").await.map(|_| ())),
        ("delete", store.delete("k").await),
        ("create", store.create("k", Bytes::new()).await),
    ] {
        assert!(
            matches!(&result, Err(StorageError::Backend(m)) if m.contains("NoSuchBucket")),
            "{what} in a missing bucket must fail as a backend error, got {result:?}"
        );
    }
    let t = DynamoSessionTable::from_sdk_config(&conf, unique("missing"));
    match t.get_session("ses_x").await {
        Err(StorageError::Backend(m)) => assert!(m.contains("ResourceNotFound"), "{m}"),
        other => panic!("get from a missing table: {other:?}"),
    }
}
