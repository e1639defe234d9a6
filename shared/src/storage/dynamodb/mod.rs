//! DynamoDB [`SessionTable`]: sessions, names, the commit log and usage in one
//! table (`infra/dynamodb/table.json`, layout in `infra/dynamodb/README.md`).
//!
//! Items, keyed by a string partition key `pk` and a string sort key `sk`:
//!
//! | item | `pk` | `sk` | attributes |
//! | --- | --- | --- | --- |
//! | session row | `S#{id}` | `S` | `id inc ws name? exp? exp_shard? ttl? body creds?` (with `exp`, in the index [`EXPIRY_INDEX`], see `expiry.rs`) (its credential digests, a string set), per mirror with a checkpoint `cps:{mirror}` (seq) `cpo:{mirror}` (object) |
//! | workspace member | `W#{ws}` | `S#{id}` | `id` |
//! | name reservation | `W#{ws}` | `N#{name}` | `id inc` of the row holding it |
//! | usage counter | `W#{ws}` | `U#{period}#{mode}` | `min` (added to by `end_session`'s transaction) |
//! | workspace | `WS` | `{id}` | `id cms body` |
//! | token | `K#{digest}` | `K` | `id ws cms body` |
//! | token of a workspace | `W#{ws}` | `K#{token id}` | `dig id ws cms body` |
//! | log entry | `L#{session}#{incarnation}` | `{mirror}#{seq:020}` | `e` (bytes) |
//! | tombstone | `S#{id}` | `T` | `id inc ws name? ended reason ttl` |
//! | snapshot | `W#{ws}` | `P#{snap id}` | `id sess inc cms keep body` |
//! | credential | `C#{digest}` | `C` | `id inc ttl?` of the row (or, once it ended, the tombstone) it names |
//! | due work | `D#{session}` | `M#{mirror}` | `id inc mir due_at due_shard`, in the index [`DUE_INDEX`] (see `due.rs`) |
//!
//! (`#` and `\` inside the log key's parts are escaped with `\`, so no two logs
//! share keys.) Every read that decides an outcome is strongly consistent.
//!
//! * Rows, members, name reservations and credentials change together in
//!   `TransactWriteItems` (create, rename, delete), so a name is unique per
//!   workspace, a credential names one row, and
//!   `list_sessions` is a consistent `Query` of the workspace's members plus a
//!   consistent `BatchGetItem` (no eventually consistent index).
//! * `append_log` is one transaction: a `ConditionCheck` that the row exists with
//!   the key's incarnation and the mirror's checkpoint is below `seq`, and a `Put`
//!   of the entry with `attribute_not_exists`. The cancellation reasons tell
//!   `NotFound` (row gone) from `AlreadyExists` (seq taken or under the
//!   checkpoint). Appends after `delete_session` fail the check, so the log of a
//!   deleted row is deleted after the row, lazily and safely. Due-work entries
//!   work the same way (`schedule_due` checks the row in its transaction).
//! * A checkpoint lives on the row (so the append's check sees it); raising it
//!   deletes the entries below it afterwards.
//! * Expiry: rows carry `exp` and a TTL attribute `ttl = exp + TTL_GRACE_SECS`.
//!   Handlers refuse expired sessions by `exp` and the reaper ends them through
//!   `expired_sessions`, a `Query` per shard of the expiry index (no Scan;
//!   see `expiry.rs`). TTL is the backstop
//!   when no reaper runs; the grace leaves the reaper time to bill first.
//!   A live row's credential items carry no TTL (an expiry may change); ending
//!   the row gives them its tombstone's. Those of a row TTL deleted stay
//!   behind, harmless: a lookup through them finds neither row nor tombstone.
//!   Reservations a TTL deletion (or a crash) leaves behind are noticed and
//!   removed when someone wants that name.
//! * DynamoDB may cancel concurrent transactions on one item with
//!   `TransactionConflict` (two mirrors of one session committing at once check
//!   the same row), or throttle them; such calls are retried with backoff.
//!
//! Files: this one holds the layout, the constants and the [`SessionTable`]
//! impl; `rows.rs` the row building blocks (transactions, names, credentials,
//! members), `log.rs` the commit log and checkpoints, `due.rs` due work,
//! `records.rs` tombstones and snapshots, `workspaces.rs` workspaces and tokens, `items.rs` keys, item codecs and
//! expressions, `errors.rs` errors and retries, `setup.rs` the table's creation.

use std::collections::HashMap;
use std::future::Future;

use async_trait::async_trait;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CancellationReason, ConditionCheck,
    CreateGlobalSecondaryIndexAction, Delete, DeleteRequest, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, KeysAndAttributes,
    Projection, ProjectionType, Put, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
    TableStatus, TimeToLiveSpecification, TimeToLiveStatus, TransactWriteItem, Update,
    WriteRequest,
};
use aws_sdk_dynamodb::Client;
use serde::Deserialize;

use super::s3::{backoff, sdk_error_text};

mod due;
mod errors;
mod expiry;
mod items;
mod log;
mod records;
mod rows;
mod setup;
mod workspaces;

use errors::*;
use items::*;
use rows::*;
pub use setup::{
    AttributeDef, IndexDef, KeyDef, ProjectionDef, TableDefinition, TtlDefinition, TtlSpec,
};

pub use due::{DUE_AT, DUE_INDEX, DUE_SHARD, DUE_SHARDS};
pub use expiry::{EXPIRY_INDEX, EXP_SHARD, EXP_SHARDS};

use super::{
    Checkpoint, CredentialKey, CredentialOwner, DueWork, LogKey, LogRecord, SessionRow,
    SessionTable, SnapshotQuery, SnapshotRow, StorageError, StorageResult, Tombstone, UsageCharge,
};

/// The table definition `--create-resources` uses, as `aws dynamodb create-table
/// --cli-input-json` takes it (its `TableName` is replaced by the configured one).
pub const TABLE_DEFINITION: &str = include_str!("../../../../infra/dynamodb/table.json");
/// The TTL setting, as `aws dynamodb update-time-to-live --cli-input-json` takes it.
pub const TTL_DEFINITION: &str = include_str!("../../../../infra/dynamodb/ttl.json");

/// Partition and sort key attribute names.
pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// The TTL attribute: seconds since the epoch after which DynamoDB may delete an item.
pub const TTL_ATTRIBUTE: &str = "ttl";
/// How long after `expires_at` a row's TTL falls due (see the module docs).
pub const TTL_GRACE_SECS: i64 = 24 * 60 * 60;

/// Attributes of items.
const ID: &str = "id";
const INC: &str = "inc";
const WS: &str = "ws";
const NAME: &str = "name";
const EXP: &str = "exp";
const BODY: &str = "body";
const MINUTES: &str = "min";
const ENTRY: &str = "e";
/// The row's credential digests (a string set; absent when it has none).
const CREDS: &str = "creds";
/// A random token per name reservation, kept on the reservation (`tok`) and on
/// the row holding it (`ntok`): a reservation is stale unless its row carries
/// its token, which a rename away and back again cannot fake.
const TOKEN: &str = "tok";
const NAME_TOKEN: &str = "ntok";
/// The session row's sort key.
const ROW_SK: &str = "S";
/// A credential item's sort key.
const CREDENTIAL_SK: &str = "C";

/// Retries of a call DynamoDB cancelled for a conflicting concurrent transaction,
/// and of rounds that re-read after a concurrent change.
const RETRIES: u32 = 10;
/// BatchGetItem and BatchWriteItem limits.
const BATCH_GET: usize = 100;
const BATCH_WRITE: usize = 25;
/// Digits of a zero-padded seq (`u64::MAX` has 20).
const SEQ_DIGITS: usize = 20;

type Item = HashMap<String, AttributeValue>;

/// Session table and commit log in one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoSessionTable {
    client: Client,
    table: String,
}

impl DynamoSessionTable {
    /// A table over an already configured client.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A table with a client built from shared AWS settings.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), table)
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

// ------------------------------------------------------------------ the trait

#[async_trait]
impl SessionTable for DynamoSessionTable {
    fn raced_over_network(&self) -> bool {
        true
    }

    async fn create_session(&self, row: &SessionRow) -> StorageResult<()> {
        for _ in 0..RETRIES {
            let token = name_token();
            let mut item = row_item(row);
            if row.name.is_some() {
                item.insert(NAME_TOKEN.into(), s(&token));
            }
            let mut items = vec![
                self.put_new(item)?,
                self.put_plain(member_item(&row.workspace, &row.id))?,
            ];
            if let Some(name) = &row.name {
                items.push(self.put_name(&row.workspace, name, row, &token)?);
            }
            let credentials = items.len()..items.len() + row.credentials.len();
            for c in &row.credentials {
                items.push(self.put_credential(c, row)?);
            }
            let Some(reasons) = self.transact("create session", items).await? else {
                return Ok(());
            };
            if failed(&reasons, 0) {
                return Err(StorageError::AlreadyExists(format!("session {}", row.id)));
            }
            if credentials.clone().any(|i| failed(&reasons, i)) {
                return Err(StorageError::AlreadyExists(format!(
                    "a credential of session {}",
                    row.id
                )));
            }
            match &row.name {
                Some(name) if failed(&reasons, 2) => {
                    self.resolve_taken_name(&row.workspace, name, &reasons[2])
                        .await?;
                }
                _ => return Err(cancelled("create session", &reasons)),
            }
        }
        Err(StorageError::Backend(format!(
            "create session {}: its name's reservation kept changing",
            row.id
        )))
    }

    async fn get_session(&self, id: &str) -> StorageResult<SessionRow> {
        self.row(id)
            .await?
            .ok_or_else(|| StorageError::NotFound(format!("session {id}")))
    }

    async fn find_session(&self, workspace: &str, name: &str) -> StorageResult<SessionRow> {
        match self.name_holder(workspace, name, None).await? {
            Holder::Held(row) => Ok(row),
            Holder::Stale { .. } | Holder::Gone => Err(StorageError::NotFound(format!(
                "session {name:?} in {workspace}"
            ))),
        }
    }

    /// One conditional update while the workspace and name stay (the usual
    /// case); a rename is a transaction that moves the reservations too.
    async fn put_session(&self, row: &SessionRow) -> StorageResult<()> {
        for _ in 0..RETRIES {
            let mut e = Expr::default();
            let mut set = vec![format!("{} = {}", e.n(BODY), e.s(&row.body))];
            let mut remove = Vec::new();
            expiry_updates(&mut e, &row.id, row.expires_at, &mut set, &mut remove);
            let cond = format!(
                "attribute_exists({}) AND {} = {} AND {} = {} AND {}",
                e.n(PK),
                e.n(INC),
                e.s(&row.incarnation),
                e.n(WS),
                e.s(&row.workspace),
                name_condition(&mut e, row.name.as_deref())
            );
            let req = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(row_key(&row.id)))
                .update_expression(update_expression(&set, &remove))
                .condition_expression(cond)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            let old = match retry_conflicts(|| req.clone().send()).await {
                Ok(_) => return Ok(()),
                Err(err) => match err.as_service_error() {
                    // The row as it was, else (no row, or an emulator that does
                    // not return it) a read.
                    Some(UpdateItemError::ConditionalCheckFailedException(c)) => match c.item() {
                        Some(item) => Some(row_from_item(item)?),
                        None => self.row(&row.id).await?,
                    },
                    _ => return Err(ddb_err("put session", &self.table, err)),
                },
            };
            let Some(old) = old.filter(|o| o.incarnation == row.incarnation) else {
                return Err(StorageError::NotFound(format!(
                    "session {} incarnation {}",
                    row.id, row.incarnation
                )));
            };
            if old.workspace == row.workspace && old.name == row.name {
                continue; // it changed back meanwhile: the plain update fits again
            }
            if self.put_renamed(row, &old).await? {
                return Ok(());
            }
        }
        Err(StorageError::Backend(format!(
            "put session {}: the row kept changing underneath",
            row.id
        )))
    }

    /// Reads the row, then deletes it with its member and name items in one
    /// transaction conditional on what was read; then deletes its log.
    async fn end_session(
        &self,
        id: &str,
        incarnation: &str,
        tombstone: Option<&Tombstone>,
        charges: &[UsageCharge],
    ) -> StorageResult<bool> {
        let mut deleted = false;
        for _ in 0..RETRIES {
            let Some(row) = self.row(id).await? else {
                return Ok(false);
            };
            if row.incarnation != incarnation {
                return Ok(false);
            }
            let mut e = Expr::default();
            let cond = format!(
                "{} = {} AND {} = {} AND {}",
                e.n(INC),
                e.s(incarnation),
                e.n(WS),
                e.s(&row.workspace),
                name_condition(&mut e, row.name.as_deref())
            );
            let mut items = vec![
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(row_key(id)))
                            .condition_expression(cond)
                            .set_expression_attribute_names(e.names())
                            .set_expression_attribute_values(e.values())
                            .build()
                            .map_err(build_err)?,
                    )
                    .build(),
                self.delete_plain(member_key(&row.workspace, id))?,
            ];
            if let Some(n) = &row.name {
                items.push(self.delete_plain(name_key(&row.workspace, n))?);
            }
            if let Some(t) = tombstone {
                items.push(self.put_tombstone_item(t)?);
            }
            // The credentials name the tombstone from now on (and expire with
            // it), or go with the row.
            for c in &row.credentials {
                items.push(match tombstone {
                    Some(t) => self.put_plain(credential_item(
                        c,
                        id,
                        incarnation,
                        Some(records::tombstone_ttl(t)),
                    ))?,
                    None => self.delete_plain(credential_key(c))?,
                });
            }
            for charge in charges {
                items.push(self.add_usage_item(&row.workspace, charge)?);
            }
            match self.transact("delete session", items).await? {
                None => {
                    deleted = true;
                    break;
                }
                Some(reasons) if failed(&reasons, 0) => continue, // changed: read again
                Some(reasons) => return Err(cancelled("delete session", &reasons)),
            }
        }
        if !deleted {
            return Err(StorageError::Backend(format!(
                "delete session {id}: the row kept changing underneath"
            )));
        }
        // The row is gone, so no append can land any more. A failure here leaves
        // entries no key can reach; the delete itself stands.
        let pk = log_pk(id, incarnation);
        let cleanup = async {
            let keys = self.query_keys(&pk, SkRange::All).await?;
            self.delete_keys(keys).await
        };
        if let Err(e) = cleanup.await {
            tracing::warn!(error = %e, session = id, "delete_session: the log stays behind");
        }
        if let Err(e) = self.drop_due(id, incarnation).await {
            tracing::warn!(error = %e, session = id, "delete_session: due work stays behind");
        }
        Ok(true)
    }

    /// Pages through the workspace's member items (sorted by id) and reads their
    /// rows; a member whose row a TTL deleted is skipped, and the next members
    /// fill its place, so a short page means there are no more.
    async fn list_sessions(
        &self,
        workspace: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StorageResult<Vec<SessionRow>> {
        let mut rows = Vec::new();
        let mut cursor = after.map(str::to_owned);
        while rows.len() < limit {
            let want = limit - rows.len();
            let (ids, more) = self.member_ids(workspace, cursor.as_deref(), want).await?;
            cursor = ids.last().cloned();
            rows.extend(self.rows_of(Some(workspace), &ids).await?);
            if !more {
                break;
            }
        }
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(rows)
    }

    /// Member ids page by page, each page's rows read for their workspace
    /// and expiry only (no bodies).
    async fn count_live_sessions(
        &self,
        workspace: &str,
        now: i64,
        enough: usize,
    ) -> StorageResult<usize> {
        let mut n = 0;
        let mut cursor: Option<String> = None;
        loop {
            let (ids, more) = self
                .member_ids(workspace, cursor.as_deref(), BATCH_GET)
                .await?;
            cursor = ids.last().cloned();
            n += self.live_among(workspace, &ids, now).await?;
            if !more || n >= enough {
                return Ok(n);
            }
        }
    }

    async fn expired_sessions(&self, now: i64) -> StorageResult<Vec<SessionRow>> {
        self.query_expired(now).await
    }

    /// Reads the credential's item, then the partition of the session it
    /// names (row and tombstone in one consistent `Query`); either counts
    /// only with the indexed incarnation.
    async fn find_credential(&self, credential: &CredentialKey) -> StorageResult<CredentialOwner> {
        let not_found = || StorageError::NotFound("no session has this credential".into());
        let Some(item) = self.get_item(credential_key(credential), None).await? else {
            return Err(not_found());
        };
        let id = get_s(&item, ID)?;
        let inc = get_s(&item, INC)?;
        let range = SortRange {
            from: ROW_SK,
            to: records::TOMBSTONE_SK,
            forward: true,
            skip: None,
        };
        let (items, _) = self
            .query_range("find credential", &format!("S#{id}"), range, &[], 2)
            .await?;
        let mut ended = None;
        for item in &items {
            if opt_s(item, INC)?.as_deref() != Some(inc.as_str()) {
                continue;
            }
            match item.get(SK).and_then(|v| v.as_s().ok()).map(String::as_str) {
                Some(ROW_SK) => return row_from_item(item).map(CredentialOwner::Live),
                Some(records::TOMBSTONE_SK) => ended = Some(records::tombstone_from_item(item)?),
                _ => {}
            }
        }
        ended.map(CredentialOwner::Ended).ok_or_else(not_found)
    }

    async fn append_log(&self, key: &LogKey, seq: u64, entry: &[u8]) -> StorageResult<()> {
        self.append_entry(key, seq, entry).await
    }

    async fn read_log(&self, key: &LogKey, after: u64) -> StorageResult<Vec<LogRecord>> {
        self.query_log(key, after, None).await
    }

    async fn read_log_page(
        &self,
        key: &LogKey,
        after: u64,
        limit: usize,
    ) -> StorageResult<Vec<LogRecord>> {
        self.query_log(key, after, Some(limit.max(1))).await
    }

    async fn set_checkpoint(&self, key: &LogKey, checkpoint: &Checkpoint) -> StorageResult<bool> {
        self.raise_checkpoint(key, checkpoint).await
    }

    async fn checkpoint(&self, key: &LogKey) -> StorageResult<Option<Checkpoint>> {
        self.read_checkpoint(key).await
    }

    async fn get_tombstone(&self, id: &str) -> StorageResult<Tombstone> {
        self.tombstone(id)
            .await?
            .ok_or_else(|| StorageError::NotFound(format!("tombstone of session {id}")))
    }

    /// DynamoDB's TTL deletes tombstones (`ttl` a day after they ended or later).
    async fn prune_tombstones(&self, _before_ms: i64) -> StorageResult<u64> {
        Ok(0)
    }

    async fn create_snapshot(&self, row: &SnapshotRow) -> StorageResult<()> {
        self.put_snapshot(row).await
    }

    async fn get_snapshot(&self, workspace: &str, id: &str) -> StorageResult<SnapshotRow> {
        self.snapshot(workspace, id)
            .await?
            .ok_or_else(|| StorageError::NotFound(format!("snapshot {id} in {workspace}")))
    }

    async fn list_snapshots(
        &self,
        workspace: &str,
        query: &SnapshotQuery,
    ) -> StorageResult<Vec<SnapshotRow>> {
        self.query_snapshots(workspace, query).await
    }

    async fn delete_snapshot(&self, workspace: &str, id: &str) -> StorageResult<bool> {
        self.remove_snapshot(workspace, id).await
    }

    async fn schedule_due(
        &self,
        session_id: &str,
        incarnation: &str,
        mirror: &str,
        due_at_ms: i64,
    ) -> StorageResult<bool> {
        self.put_due(session_id, incarnation, mirror, due_at_ms)
            .await
    }

    async fn reschedule_due(
        &self,
        session_id: &str,
        mirror: &str,
        seen_due_at_ms: i64,
        next: Option<i64>,
    ) -> StorageResult<bool> {
        self.cas_due(session_id, mirror, seen_due_at_ms, next).await
    }

    async fn due_before(&self, now_ms: i64, limit: usize) -> StorageResult<Vec<DueWork>> {
        self.query_due(now_ms, limit).await
    }

    async fn next_due(&self) -> StorageResult<Option<i64>> {
        self.earliest_due().await
    }

    async fn usage(&self, workspace: &str, period: &str) -> StorageResult<Vec<(String, u64)>> {
        let prefix = format!("U#{}#", esc(period));
        let mut e = Expr::default();
        let cond = format!(
            "{} = {} AND begins_with({}, {})",
            e.n(PK),
            e.s(&ws_pk(workspace)),
            e.n(SK),
            e.s(&prefix)
        );
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut usage = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ddb_err("usage", &self.table, e))?;
            for item in page.items.unwrap_or_default() {
                let sk = get_s(&item, SK)?;
                let mode = sk.strip_prefix(&prefix).unwrap_or(&sk).to_owned();
                usage.push((mode, opt_u64(&item, MINUTES)?.unwrap_or(0)));
            }
        }
        usage.sort();
        Ok(usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infra_definitions_match_the_code() {
        let t = TableDefinition::parse().expect("table.json parses");
        let keys: Vec<(&str, &str)> = t
            .key_schema
            .iter()
            .map(|k| (k.attribute_name.as_str(), k.key_type.as_str()))
            .collect();
        assert_eq!(keys, [(PK, "HASH"), (SK, "RANGE")]);
        let types: Vec<(&str, &str)> = t
            .attribute_definitions
            .iter()
            .map(|a| (a.attribute_name.as_str(), a.attribute_type.as_str()))
            .collect();
        assert_eq!(
            types,
            [
                (PK, "S"),
                (SK, "S"),
                (DUE_SHARD, "S"),
                (DUE_AT, "N"),
                (EXP_SHARD, "S"),
                (EXP, "N")
            ],
            "key attributes and their types (the shard a string, the time a number)"
        );
        let [due, expiry] = t.global_secondary_indexes.as_slice() else {
            panic!("two indexes: {:?}", t.global_secondary_indexes);
        };
        assert_eq!(expiry.index_name, EXPIRY_INDEX);
        let keys: Vec<(&str, &str)> = expiry
            .key_schema
            .iter()
            .map(|k| (k.attribute_name.as_str(), k.key_type.as_str()))
            .collect();
        assert_eq!(keys, [(EXP_SHARD, "HASH"), (EXP, "RANGE")]);
        assert_eq!(expiry.projection.projection_type, "KEYS_ONLY");
        assert_eq!(due.index_name, DUE_INDEX);
        let keys: Vec<(&str, &str)> = due
            .key_schema
            .iter()
            .map(|k| (k.attribute_name.as_str(), k.key_type.as_str()))
            .collect();
        assert_eq!(keys, [(DUE_SHARD, "HASH"), (DUE_AT, "RANGE")]);
        assert_eq!(due.projection.projection_type, "INCLUDE");
        assert_eq!(due.projection.non_key_attributes, [ID, INC, "mir"]);
        let ttl = TtlDefinition::parse().expect("ttl.json parses");
        assert!(ttl.time_to_live_specification.enabled);
        assert_eq!(ttl.time_to_live_specification.attribute_name, TTL_ATTRIBUTE);
        assert_eq!(
            ttl.table_name, t.table_name,
            "both files name the same table"
        );
    }

    #[test]
    fn log_keys_of_different_logs_never_meet() {
        assert_ne!(log_pk("a#b", "c"), log_pk("a", "b#c"));
        assert_ne!(log_pk("a\\", "#b"), log_pk("a\\#", "b"));
        // A mirror's range [m#0…, m#max] holds no other mirror's keys.
        let (lo, hi) = (log_sk("a", 1), log_sk("a", u64::MAX));
        for other in ["a#0", "a#", "a\\", "a0", "a#00000000000000000005"] {
            let k = log_sk(other, 5);
            assert!(
                !(lo <= k && k <= hi),
                "{other:?} falls into mirror a's range"
            );
        }
        assert!(
            log_sk("m", 9) < log_sk("m", 10),
            "zero padding keeps seq order"
        );
        assert_eq!(log_sk("m", u64::MAX).len(), 2 + SEQ_DIGITS);
    }

    #[test]
    fn update_expressions_join_set_and_remove() {
        assert_eq!(update_expression(&["a = :a".into()], &[]), "SET a = :a");
        assert_eq!(
            update_expression(&["a = :a".into(), "b = :b".into()], &["c".into()]),
            "SET a = :a, b = :b REMOVE c"
        );
    }

    #[test]
    fn ttl_follows_expiry_with_grace() {
        assert_eq!(ttl_for(1_000), 1_000 + TTL_GRACE_SECS);
        assert_eq!(ttl_for(i64::MAX), i64::MAX);
        assert_eq!(ttl_for(-10 * TTL_GRACE_SECS), 0);
    }
}
