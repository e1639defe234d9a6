//! The credential index: which live row (or, once it ended, which tombstone)
//! a credential names. Called from [`session_table`](super::session_table).

use super::{assert_exists, assert_flag, assert_not_found, describe, join_all, one_winner, row};
use super::{Ids, RACERS};
use crate::storage::{
    CredentialKey, CredentialOwner, SessionRow, SessionTable, StorageResult, Tombstone,
};

/// A Stripe-shaped secret key of this run, as the table sees it.
fn cred(ids: &Ids, n: &str) -> CredentialKey {
    CredentialKey::new("stripe", &secret(ids, n))
}

fn secret(ids: &Ids, n: &str) -> String {
    format!("sk_test_{}_{n}", ids.run)
}

/// `row` with these credentials, sorted as rows are read back.
fn holding(mut r: SessionRow, credentials: &[&CredentialKey]) -> SessionRow {
    r.credentials = credentials.iter().map(|c| (*c).clone()).collect();
    r.credentials.sort();
    r
}

fn ended(r: &SessionRow, ended_at_ms: i64) -> Tombstone {
    Tombstone {
        id: r.id.clone(),
        incarnation: r.incarnation.clone(),
        workspace: r.workspace.clone(),
        name: r.name.clone(),
        ended_at_ms,
        reason: "ended".into(),
    }
}

#[track_caller]
fn assert_live(got: StorageResult<CredentialOwner>, expected: &SessionRow, what: &str) {
    assert!(
        matches!(&got, Ok(CredentialOwner::Live(r)) if r == expected),
        "{what}: expected Live(row {} incarnation {}), got {}",
        expected.id,
        expected.incarnation,
        owner(&got)
    );
}

#[track_caller]
fn assert_ended(got: StorageResult<CredentialOwner>, expected: &Tombstone, what: &str) {
    assert!(
        matches!(&got, Ok(CredentialOwner::Ended(t)) if t == expected),
        "{what}: expected Ended(tombstone of {} incarnation {}), got {}",
        expected.id,
        expected.incarnation,
        owner(&got)
    );
}

fn owner(r: &StorageResult<CredentialOwner>) -> String {
    match r {
        Ok(CredentialOwner::Live(row)) => format!("Live({} {})", row.id, row.incarnation),
        Ok(CredentialOwner::Ended(t)) => format!("Ended({} {})", t.id, t.incarnation),
        Err(_) => describe(r),
    }
}

/// A created row's credentials name it: read back with it, found by each, kept
/// by `put_session`; a credential of another mirror or of nobody names nothing.
pub(super) async fn credentials_name_their_live_row(t: &dyn SessionTable, ids: &Ids) {
    let ws = ids.ws("cred");
    let (c1, c2) = (cred(ids, "c1"), cred(ids, "c2"));
    assert_not_found(
        t.find_credential(&c1).await,
        "find_credential before any row holds it",
    );
    let a = holding(row(ids.ses("cr1"), ws.clone(), None, None), &[&c2, &c1]);
    t.create_session(&a)
        .await
        .expect("create_session with credentials");
    assert_eq!(
        t.get_session(&a.id).await.expect("get_session"),
        a,
        "a row's credentials round trip, sorted"
    );
    let listed = t.list_sessions(&ws, None, 100).await.expect("list");
    assert!(
        listed.contains(&a),
        "list_sessions returns rows with their credentials: {listed:?}"
    );
    assert_live(t.find_credential(&c1).await, &a, "find_credential");
    assert_live(
        t.find_credential(&c2).await,
        &a,
        "find_credential of the row's second credential",
    );
    assert_not_found(
        t.find_credential(&CredentialKey::new("twilio", &secret(ids, "c1")))
            .await,
        "the same secret under another mirror's name",
    );

    let mut changed = a.clone();
    changed.body = r#"{"changed":true}"#.into();
    changed.credentials = Vec::new();
    t.put_session(&changed).await.expect("put_session");
    let kept = holding(changed, &[&c1, &c2]);
    assert_eq!(
        t.get_session(&a.id).await.expect("get_session"),
        kept,
        "put_session keeps the stored credentials"
    );
    assert_live(
        t.find_credential(&c1).await,
        &kept,
        "find_credential after put_session",
    );
}

/// A credential names one row: a create holding a taken one is refused whole,
/// and of concurrent creates sharing one, exactly one wins.
pub(super) async fn credentials_are_unique(t: &dyn SessionTable, ids: &Ids) {
    let ws = ids.ws("cred");
    let (c1, c3) = (cred(ids, "c1"), cred(ids, "c3"));
    let holder = t.find_credential(&c1).await;
    let clash = holding(
        row(ids.ses("cr2"), ws.clone(), Some("credential clash"), None),
        &[&c3, &c1],
    );
    assert_exists(
        t.create_session(&clash).await,
        "create_session holding a credential another row has",
    );
    assert_not_found(
        t.get_session(&clash.id).await,
        "a create refused for a credential stored its row",
    );
    assert_not_found(
        t.find_session(&ws, "credential clash").await,
        "a create refused for a credential reserved its name",
    );
    assert_not_found(
        t.find_credential(&c3).await,
        "a create refused for one credential indexed its others",
    );
    assert_eq!(
        owner(&t.find_credential(&c1).await),
        owner(&holder),
        "a refused create changed what its taken credential names"
    );

    let contested = cred(ids, "race");
    let rows: Vec<_> = (0..RACERS)
        .map(|i| {
            holding(
                row(ids.ses(&format!("cr-race-{i}")), ws.clone(), None, None),
                &[&contested],
            )
        })
        .collect();
    let results = join_all(rows.iter().map(|r| t.create_session(r))).await;
    let winner = one_winner(
        &results,
        &format!("{RACERS} concurrent create_session holding one credential"),
    );
    assert_live(
        t.find_credential(&contested).await,
        &rows[winner],
        "the contested credential names the winner",
    );
    for (i, r) in rows.iter().enumerate().filter(|(i, _)| *i != winner) {
        assert_not_found(
            t.get_session(&r.id).await,
            &format!("losing create {i} stored its row"),
        );
    }
    // Ended without a tombstone, its credential names nothing and is free again.
    assert_flag(
        t.delete_session(&rows[winner].id, &rows[winner].incarnation, None)
            .await,
        true,
        "delete_session without a tombstone",
    );
    assert_not_found(
        t.find_credential(&contested).await,
        "a credential of a row deleted without a tombstone",
    );
    let again = holding(
        row(ids.ses("cr-race-again"), ws.clone(), None, None),
        &[&contested],
    );
    t.create_session(&again)
        .await
        .expect("a credential whose row ended without a tombstone can be held again");
    assert_live(
        t.find_credential(&contested).await,
        &again,
        "the credential names its new row",
    );
}

/// An ended row's credentials name its tombstone, never a live row: not the
/// new row of a reused id, and nothing once a newer tombstone replaces it.
pub(super) async fn ended_credentials_never_reach_a_live_row(t: &dyn SessionTable, ids: &Ids) {
    let ws = ids.ws("cred");
    let (c1, c2, c4) = (cred(ids, "c1"), cred(ids, "c2"), cred(ids, "c4"));
    let a = t.get_session(&ids.ses("cr1")).await.expect("get_session");
    assert_flag(
        t.delete_session(&a.id, &ids.inc(), Some(&ended(&a, 1_600_000_000_000)))
            .await,
        false,
        "delete_session with another incarnation",
    );
    assert_live(
        t.find_credential(&c1).await,
        &a,
        "a refused delete_session changed what a credential names",
    );

    let first_end = ended(&a, 1_600_000_000_000);
    assert_flag(
        t.delete_session(&a.id, &a.incarnation, Some(&first_end))
            .await,
        true,
        "delete_session with a tombstone",
    );
    assert_ended(
        t.find_credential(&c1).await,
        &first_end,
        "an ended row's credential",
    );
    assert_ended(
        t.find_credential(&c2).await,
        &first_end,
        "an ended row's second credential",
    );
    let taker = holding(row(ids.ses("cr3"), ws.clone(), None, None), &[&c1]);
    assert_exists(
        t.create_session(&taker).await,
        "create_session holding the credential of a kept tombstone",
    );

    // The id comes back with a new incarnation and credential.
    let reused = holding(row(a.id.clone(), ws.clone(), None, None), &[&c4]);
    t.create_session(&reused)
        .await
        .expect("create_session of an ended id");
    assert_ended(
        t.find_credential(&c1).await,
        &first_end,
        "the previous incarnation's credential while the id lives again",
    );
    assert_live(
        t.find_credential(&c4).await,
        &reused,
        "the new incarnation's credential",
    );

    let second_end = ended(&reused, 1_600_000_100_000);
    assert_flag(
        t.delete_session(&reused.id, &reused.incarnation, Some(&second_end))
            .await,
        true,
        "delete_session of the reused id",
    );
    assert_ended(
        t.find_credential(&c4).await,
        &second_end,
        "the reused id's credential after its end",
    );
    assert_not_found(
        t.find_credential(&c1).await,
        "a credential whose tombstone a newer one replaced",
    );

    // Pruning the tombstone forgets its credentials, now or later.
    let pruned = t.prune_tombstones(second_end.ended_at_ms + 1).await;
    assert!(pruned.is_ok(), "prune_tombstones: {}", describe(&pruned));
    let got = t.find_credential(&c4).await;
    assert!(
        matches!(&got, Err(crate::storage::StorageError::NotFound(_)))
            || matches!(&got, Ok(CredentialOwner::Ended(t)) if *t == second_end),
        "after pruning, a tombstone's credential names nothing or the same tombstone, got {}",
        owner(&got)
    );
}
