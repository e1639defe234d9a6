//! The expiry index on DynamoDB: how the reaper finds expired sessions
//! without a Scan.
//!
//! A session row with an expiry carries `exp` (Unix seconds) and a shard
//! `exp_shard` (`exp#0` … `exp#{EXP_SHARDS-1}`, a hash of the id). The sparse
//! global secondary index [`EXPIRY_INDEX`] (partition `exp_shard`, sort `exp`,
//! keys only) holds just those rows, so `expired_sessions` is one `Query` per
//! shard with `exp <= :now`, then a consistent `BatchGetItem` of the rows it
//! names, each checked again (the index is eventually consistent: a row
//! whose expiry just moved is judged by the row). Persistent rows have no
//! `exp` and are never in it. Rows written before the index existed get
//! their shard when `create_table_if_missing` adds the index
//! ([`DynamoSessionTable::backfill_expiry`]).

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use sha2::{Digest, Sha256};

use super::{ddb_err, get_s, DynamoSessionTable, Expr, Item, EXP, PK, SK};
use crate::storage::{SessionRow, StorageResult};

/// The index of expiring rows (`infra/dynamodb/table.json`).
pub const EXPIRY_INDEX: &str = "expiry";
/// The index's partition key: which shard a row is in.
pub const EXP_SHARD: &str = "exp_shard";
/// How many shards expiring rows spread over. Stored in every such row: do
/// not change it under a table with rows.
pub const EXP_SHARDS: u32 = 8;

/// The shard of session `id`: stable across processes and versions.
pub(super) fn exp_shard(id: &str) -> AttributeValue {
    let d = Sha256::digest(id.as_bytes());
    let n = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % EXP_SHARDS;
    AttributeValue::S(shard_name(n))
}

fn shard_name(n: u32) -> String {
    format!("exp#{n}")
}

impl DynamoSessionTable {
    /// Rows whose `exp` is at or before `now` (seconds), by the index, each
    /// read back consistently and checked; soonest first.
    pub(super) async fn query_expired(&self, now: i64) -> StorageResult<Vec<SessionRow>> {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..EXP_SHARDS {
            let me = self.clone();
            tasks.spawn(async move { me.expired_ids(&shard_name(i), now).await });
        }
        let mut ids = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let found = joined.map_err(|e| {
                crate::storage::StorageError::Backend(format!("dynamodb expiry query task: {e}"))
            })?;
            ids.extend(found?);
        }
        ids.sort();
        ids.dedup();
        let mut rows: Vec<SessionRow> = self
            .rows_of(None, &ids)
            .await?
            .into_iter()
            .filter(|r| r.expires_at.is_some_and(|exp| exp <= now))
            .collect();
        rows.sort_by(|a, b| (a.expires_at, &a.id).cmp(&(b.expires_at, &b.id)));
        Ok(rows)
    }

    /// The ids of one shard's rows expired by `now`, every page.
    async fn expired_ids(&self, shard: &str, now: i64) -> StorageResult<Vec<String>> {
        let mut e = Expr::default();
        let cond = format!(
            "{} = {} AND {} <= {}",
            e.n(EXP_SHARD),
            e.s(shard),
            e.n(EXP),
            e.v(AttributeValue::N(now.to_string()))
        );
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(EXPIRY_INDEX)
            .key_condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .into_paginator()
            .send();
        let mut ids = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| ddb_err("query expired sessions", &self.table, err))?;
            for item in page.items.unwrap_or_default() {
                if let Some(id) = get_s(&item, PK)?.strip_prefix("S#") {
                    ids.push(id.to_string());
                }
            }
        }
        Ok(ids)
    }

    /// Gives every expiring row without a shard (written before the index
    /// existed) its shard: one Scan, once, when the index is added. Each
    /// update is conditional on the row still having that `exp`.
    pub(super) async fn backfill_expiry(&self) -> StorageResult<usize> {
        let mut e = Expr::default();
        let filter = format!(
            "{} = {} AND attribute_exists({}) AND attribute_not_exists({})",
            e.n(SK),
            e.s(super::ROW_SK),
            e.n(EXP),
            e.n(EXP_SHARD)
        );
        let projection = format!("{}, {}, {}", e.n(PK), e.n(SK), e.n(EXP));
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression(filter)
            .projection_expression(projection)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .into_paginator()
            .send();
        let mut n = 0;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| ddb_err("scan rows to backfill", &self.table, err))?;
            for item in page.items.unwrap_or_default() {
                n += usize::from(self.set_shard(&item).await?);
            }
        }
        Ok(n)
    }

    async fn set_shard(&self, item: &Item) -> StorageResult<bool> {
        let pk = get_s(item, PK)?;
        let Some(id) = pk.strip_prefix("S#") else {
            return Ok(false);
        };
        let Some(exp) = item.get(EXP).cloned() else {
            return Ok(false);
        };
        let mut e = Expr::default();
        let update = format!("SET {} = {}", e.n(EXP_SHARD), e.v(exp_shard(id)));
        let cond = format!("{} = {}", e.n(EXP), e.v(exp));
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(pk.clone()))
            .key(SK, AttributeValue::S(super::ROW_SK.to_string()))
            .update_expression(update)
            .condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            // The row changed or went meanwhile: its writer set (or needs no) shard.
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(err) => Err(ddb_err("backfill an expiry shard", &self.table, err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_keeps_its_shard_and_ids_spread_over_all() {
        assert_eq!(exp_shard("ses_ab12"), exp_shard("ses_ab12"));
        let shards: std::collections::HashSet<String> = (0..200)
            .map(|i| match exp_shard(&format!("ses_{i:04}")) {
                AttributeValue::S(s) => s,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(shards.len(), EXP_SHARDS as usize);
    }
}
