//! The due-work index on DynamoDB (item layout in `mod.rs`), without a Scan.
//!
//! An entry is one item per (session, mirror): `pk` `D#{id}`, `sk`
//! `M#{mirror}`, with `id inc mir`, the time `due_at` (N, ms) and a shard
//! `due_shard` (`due#0` … `due#{DUE_SHARDS-1}`, a hash of session and mirror).
//! The sparse global secondary index [`DUE_INDEX`] (partition `due_shard`,
//! sort `due_at`) holds only these items, so "what is due by now" is one
//! `Query` per shard with `due_at <= :now`, merged; "when is the next" one
//! `Query` per shard with `Limit 1`. The shards spread the index's writes
//! over a few partitions instead of one hot one; their number is part of the
//! stored data (changing it means rewriting every entry's `due_shard`).
//!
//! * `schedule_due` is one transaction: a `ConditionCheck` that the row exists
//!   with the incarnation, and an `Update` of the entry conditional on
//!   `attribute_not_exists(pk) OR due_at > :t OR inc <> :inc` (the min merge;
//!   another incarnation's leftover is replaced). A cancelled transaction's
//!   reasons tell "row gone" (`NotFound`) from "already earlier" (`false`).
//! * `reschedule_due` is one `UpdateItem` (or `DeleteItem`) conditional on
//!   `due_at = :seen`.
//! * `delete_session` drops the row's entries after the row, like its log:
//!   a `Query` of `D#{id}` and a `DeleteItem` per entry conditional on the
//!   ended incarnation (a reused id's new entry is never touched).
//! * Global secondary indexes are eventually consistent: `due_before` and
//!   `next_due` may miss a change for a moment (the contract allows it).

use std::future::Future;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};
use sha2::{Digest, Sha256};

use super::{
    build_err, corrupt, ddb_err, failed, get_s, key, retry_conflicts, row_key, DynamoSessionTable,
    Expr, Item, SkRange, ID, INC, PK,
};
use crate::storage::{DueWork, StorageError, StorageResult};

/// The index of due-work items (`infra/dynamodb/table.json`).
pub const DUE_INDEX: &str = "due";
/// The index's partition key: which shard an entry is in.
pub const DUE_SHARD: &str = "due_shard";
/// The index's sort key: when the entry is due, Unix ms (a number).
pub const DUE_AT: &str = "due_at";
/// How many shards the index's entries spread over. Stored in every entry's
/// `due_shard`: do not change it under a table with entries.
pub const DUE_SHARDS: u32 = 8;
const MIRROR: &str = "mir";

fn due_key(session: &str, mirror: &str) -> Item {
    key(format!("D#{session}"), format!("M#{mirror}"))
}

/// The shard of (session, mirror): stable across processes and versions.
fn shard(session: &str, mirror: &str) -> String {
    let mut h = Sha256::new();
    h.update(session.as_bytes());
    h.update([0]);
    h.update(mirror.as_bytes());
    let d = h.finalize();
    let n = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % DUE_SHARDS;
    shard_name(n)
}

fn shard_name(n: u32) -> String {
    format!("due#{n}")
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn due_at_of(item: &Item) -> StorageResult<i64> {
    match item.get(DUE_AT) {
        Some(v @ AttributeValue::N(t)) => t.parse().map_err(|_| corrupt(DUE_AT, v)),
        Some(v) => Err(corrupt(DUE_AT, v)),
        None => Err(StorageError::Backend(format!(
            "dynamodb: due-work item without {DUE_AT}"
        ))),
    }
}

fn work_from_item(item: &Item) -> StorageResult<DueWork> {
    Ok(DueWork {
        session_id: get_s(item, ID)?,
        incarnation: get_s(item, INC)?,
        mirror: get_s(item, MIRROR)?,
        due_at_ms: due_at_of(item)?,
    })
}

/// A conditional delete whose condition did not hold.
fn deleted_nothing(err: &SdkError<DeleteItemError, HttpResponse>) -> bool {
    err.as_service_error()
        .is_some_and(DeleteItemError::is_conditional_check_failed_exception)
}

impl DynamoSessionTable {
    pub(super) async fn put_due(
        &self,
        session: &str,
        incarnation: &str,
        mirror: &str,
        due_at_ms: i64,
    ) -> StorageResult<bool> {
        let row_gone =
            || StorageError::NotFound(format!("session {session} incarnation {incarnation}"));
        let mut e = Expr::default();
        let cond = format!(
            "attribute_exists({}) AND {} = {}",
            e.n(PK),
            e.n(INC),
            e.s(incarnation)
        );
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(row_key(session)))
            .condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .build()
            .map_err(build_err)?;
        let mut e = Expr::default();
        let t = e.v(n(due_at_ms));
        let inc = e.s(incarnation);
        let update = format!(
            "SET {} = {t}, {} = {}, {} = {inc}, {} = {}, {} = {}",
            e.n(DUE_AT),
            e.n(DUE_SHARD),
            e.s(&shard(session, mirror)),
            e.n(INC),
            e.n(ID),
            e.s(session),
            e.n(MIRROR),
            e.s(mirror),
        );
        let cond = format!(
            "attribute_not_exists({}) OR {due} > {t} OR {} <> {inc}",
            e.n(PK),
            e.n(INC),
            due = e.n(DUE_AT),
        );
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(due_key(session, mirror)))
            .update_expression(update)
            .condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .build()
            .map_err(build_err)?;
        let items = vec![
            TransactWriteItem::builder().condition_check(check).build(),
            TransactWriteItem::builder().update(update).build(),
        ];
        let Some(reasons) = self.transact("schedule due work", items).await? else {
            return Ok(true);
        };
        if reasons.len() == 2 {
            if failed(&reasons, 0) {
                return Err(row_gone());
            }
            if failed(&reasons, 1) {
                return Ok(false);
            }
        }
        // No usable reasons: the row tells which condition failed.
        match self.row(session).await? {
            Some(row) if row.incarnation == incarnation => Ok(false),
            _ => Err(row_gone()),
        }
    }

    pub(super) async fn cas_due(
        &self,
        session: &str,
        mirror: &str,
        seen: i64,
        next: Option<i64>,
    ) -> StorageResult<bool> {
        let mut e = Expr::default();
        let cond = format!("{} = {}", e.n(DUE_AT), e.v(n(seen)));
        let done = match next {
            Some(next) => {
                let update = format!("SET {} = {}", e.n(DUE_AT), e.v(n(next)));
                let req = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(due_key(session, mirror)))
                    .update_expression(update)
                    .condition_expression(cond)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values());
                match retry_conflicts(|| req.clone().send()).await {
                    Ok(_) => true,
                    Err(err)
                        if err.as_service_error().is_some_and(
                            UpdateItemError::is_conditional_check_failed_exception,
                        ) =>
                    {
                        false
                    }
                    Err(err) => return Err(ddb_err("reschedule due work", &self.table, err)),
                }
            }
            None => {
                let req = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(due_key(session, mirror)))
                    .condition_expression(cond)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values());
                match retry_conflicts(|| req.clone().send()).await {
                    Ok(_) => true,
                    Err(err) if deleted_nothing(&err) => false,
                    Err(err) => return Err(ddb_err("reschedule due work", &self.table, err)),
                }
            }
        };
        Ok(done)
    }

    /// Up to `limit` entries due by `now_ms` from each shard (each shard's
    /// earliest), merged: the first `limit` of the whole index.
    pub(super) async fn query_due(&self, now_ms: i64, limit: usize) -> StorageResult<Vec<DueWork>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let per_shard = self
            .each_shard(
                move |t, shard| async move { t.query_shard(&shard, Some(now_ms), limit).await },
            )
            .await?;
        let mut all: Vec<DueWork> = per_shard.into_iter().flatten().collect();
        all.sort_by(|a, b| {
            (a.due_at_ms, &a.session_id, &a.mirror).cmp(&(b.due_at_ms, &b.session_id, &b.mirror))
        });
        all.truncate(limit);
        Ok(all)
    }

    pub(super) async fn earliest_due(&self) -> StorageResult<Option<i64>> {
        let heads = self
            .each_shard(|t, shard| async move { t.query_shard(&shard, None, 1).await })
            .await?;
        Ok(heads.into_iter().flatten().map(|w| w.due_at_ms).min())
    }

    /// The shard's entries (due by `until`, when given), earliest first, up to
    /// `limit`.
    async fn query_shard(
        &self,
        shard: &str,
        until: Option<i64>,
        limit: usize,
    ) -> StorageResult<Vec<DueWork>> {
        let mut e = Expr::default();
        let mut cond = format!("{} = {}", e.n(DUE_SHARD), e.s(shard));
        if let Some(until) = until {
            cond = format!("{cond} AND {} <= {}", e.n(DUE_AT), e.v(n(until)));
        }
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let want = limit - found.len();
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(DUE_INDEX)
                .key_condition_expression(&cond)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .scan_index_forward(true)
                .limit(i32::try_from(want).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| ddb_err("query due work", &self.table, err))?;
            for item in out.items.unwrap_or_default() {
                if found.len() < limit {
                    found.push(work_from_item(&item)?);
                }
            }
            match out.last_evaluated_key {
                Some(k) if found.len() < limit => start = Some(k),
                _ => return Ok(found),
            }
        }
    }

    /// Runs `f` for every shard at once; their results in shard order.
    async fn each_shard<T, F, Fut>(&self, f: F) -> StorageResult<Vec<T>>
    where
        T: Send + 'static,
        F: Fn(DynamoSessionTable, String) -> Fut,
        Fut: Future<Output = StorageResult<T>> + Send + 'static,
    {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..DUE_SHARDS {
            let query = f(self.clone(), shard_name(i));
            tasks.spawn(async move { (i, query.await) });
        }
        let mut results = Vec::with_capacity(DUE_SHARDS as usize);
        while let Some(joined) = tasks.join_next().await {
            let (i, r) = joined
                .map_err(|e| StorageError::Backend(format!("dynamodb due-work query task: {e}")))?;
            results.push((i, r?));
        }
        results.sort_by_key(|(i, _)| *i);
        Ok(results.into_iter().map(|(_, r)| r).collect())
    }

    /// `delete_session`'s part, after the row is gone: the entries of that
    /// incarnation (each delete conditional on it, so a reused id's new entry
    /// stays).
    pub(super) async fn drop_due(&self, session: &str, incarnation: &str) -> StorageResult<()> {
        let keys = self
            .query_keys(&format!("D#{session}"), SkRange::All)
            .await?;
        for k in keys {
            let mut e = Expr::default();
            let cond = format!("{} = {}", e.n(INC), e.s(incarnation));
            let req = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(k))
                .condition_expression(cond)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values());
            match retry_conflicts(|| req.clone().send()).await {
                Ok(_) => {}
                Err(err) if deleted_nothing(&err) => {}
                Err(err) => return Err(ddb_err("drop due work", &self.table, err)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(shard("ses_a", "stripe"), shard("ses_a", "stripe"));
        // (session, mirror) pairs that concatenate alike still hash apart.
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..200 {
            let s = shard(&format!("ses_{i:04}"), "stripe");
            assert!(s.starts_with("due#"), "{s}");
            let k: u32 = s["due#".len()..].parse().expect("a number");
            assert!(k < DUE_SHARDS);
            seen.insert(k);
        }
        assert_eq!(
            seen.len(),
            DUE_SHARDS as usize,
            "200 sessions use every shard"
        );
    }
}
