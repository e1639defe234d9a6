//! DynamoDB [`SessionTable`]: sessions, names, the commit log and usage in one
//! table (`infra/dynamodb/table.json`, layout in `infra/dynamodb/README.md`).
//!
//! Items, keyed by a string partition key `pk` and a string sort key `sk`:
//!
//! | item | `pk` | `sk` | attributes |
//! | --- | --- | --- | --- |
//! | session row | `S#{id}` | `S` | `id inc ws name? exp? ttl? body creds?` (its credential digests, a string set), per mirror with a checkpoint `cps:{mirror}` (seq) `cpo:{mirror}` (object) |
//! | workspace member | `W#{ws}` | `S#{id}` | `id` |
//! | name reservation | `W#{ws}` | `N#{name}` | `id inc` of the row holding it |
//! | usage counter | `W#{ws}` | `U#{mode}` | `min` |
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
//!   `expired_sessions` (a consistent `Scan` with a filter — fine for modest
//!   tables; an index keyed by expiry is the next step). TTL is the backstop
//!   when no reaper runs; the grace leaves the reaper time to bill first.
//!   A live row's credential items carry no TTL (an expiry may change); ending
//!   the row gives them its tombstone's. Those of a row TTL deleted stay
//!   behind, harmless: a lookup through them finds neither row nor tombstone.
//!   Reservations a TTL deletion (or a crash) leaves behind are noticed and
//!   removed when someone wants that name.
//! * DynamoDB may cancel concurrent transactions on one item with
//!   `TransactionConflict` (two mirrors of one session committing at once check
//!   the same row), or throttle them; such calls are retried with backoff.

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
mod records;

pub use due::{DUE_AT, DUE_INDEX, DUE_SHARD, DUE_SHARDS};

use super::{
    Checkpoint, CredentialKey, CredentialOwner, DueWork, LogKey, LogRecord, SessionRow,
    SessionTable, SnapshotQuery, SnapshotRow, StorageError, StorageResult, Tombstone,
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
    /// The log's entries after `after`, ascending: all of them, or (with a
    /// limit) the first page of at most that many.
    async fn query_log(
        &self,
        key: &LogKey,
        after: u64,
        limit: Option<usize>,
    ) -> StorageResult<Vec<LogRecord>> {
        let Some(first) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let mut e = Expr::default();
        let cond = format!(
            "{} = {} AND {} BETWEEN {} AND {}",
            e.n(PK),
            e.s(&log_pk(&key.session, &key.incarnation)),
            e.n(SK),
            e.s(&log_sk(&key.mirror, first)),
            e.s(&log_sk(&key.mirror, u64::MAX)),
        );
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .set_limit(limit.map(|n| i32::try_from(n).unwrap_or(i32::MAX)))
            .consistent_read(true);
        let mut records = Vec::new();
        if limit.is_some() {
            let page = query
                .send()
                .await
                .map_err(|e| ddb_err("read log", &self.table, e))?;
            for item in page.items.unwrap_or_default() {
                records.push(record_from_item(item)?);
            }
            return Ok(records);
        }
        let mut pages = query.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ddb_err("read log", &self.table, e))?;
            for item in page.items.unwrap_or_default() {
                records.push(record_from_item(item)?);
            }
        }
        Ok(records)
    }

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

    /// Creates the table from [`TABLE_DEFINITION`] unless it exists, adds the
    /// definition's secondary indexes a table created by an older Mirra lacks,
    /// waits until table and indexes are active and makes sure TTL is on
    /// ([`TTL_DEFINITION`]). `true` when this call created the table.
    /// Idempotent and safe to race.
    pub async fn create_table_if_missing(&self) -> StorageResult<bool> {
        let def = TableDefinition::parse()?;
        let created = match self.describe_status().await? {
            Some(_) => false,
            None => {
                let mut req = self
                    .client
                    .create_table()
                    .table_name(&self.table)
                    .billing_mode(BillingMode::from(def.billing_mode.as_str()))
                    .set_attribute_definitions(Some(def.attributes()?))
                    .set_key_schema(Some(key_schema(&def.key_schema)?));
                for index in &def.global_secondary_indexes {
                    req = req.global_secondary_indexes(
                        GlobalSecondaryIndex::builder()
                            .index_name(&index.index_name)
                            .set_key_schema(Some(key_schema(&index.key_schema)?))
                            .projection(index.projection.build())
                            .build()
                            .map_err(build_err)?,
                    );
                }
                match req.send().await {
                    Ok(_) => true,
                    // Another process created it first.
                    Err(e) if e.code() == Some("ResourceInUseException") => false,
                    Err(e) => return Err(ddb_err("create table", &self.table, e)),
                }
            }
        };
        self.wait_active().await?;
        self.ensure_indexes(&def).await?;
        self.ensure_ttl().await?;
        Ok(created)
    }

    /// Adds the definition's global secondary indexes the table lacks (one
    /// per `UpdateTable`, as DynamoDB allows) and waits until every one is
    /// active (a new index backfills existing items first).
    async fn ensure_indexes(&self, def: &TableDefinition) -> StorageResult<()> {
        // Backfilling a large table can take a while on AWS; none on an emulator.
        const WAIT_SECS: u32 = 30 * 60;
        for index in &def.global_secondary_indexes {
            for waited in 0.. {
                if waited == WAIT_SECS {
                    return Err(StorageError::Backend(format!(
                        "dynamodb table {}: index {} did not become ACTIVE within 30 minutes",
                        self.table, index.index_name
                    )));
                }
                match self.index_status(&index.index_name).await? {
                    Some(IndexStatus::Active) => break,
                    Some(IndexStatus::Deleting) => {
                        return Err(StorageError::Backend(format!(
                            "dynamodb table {}: index {} is being deleted",
                            self.table, index.index_name
                        )))
                    }
                    Some(_) => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
                    None => {
                        tracing::info!(table = %self.table, index = %index.index_name, "adding a missing index");
                        let create = CreateGlobalSecondaryIndexAction::builder()
                            .index_name(&index.index_name)
                            .set_key_schema(Some(key_schema(&index.key_schema)?))
                            .projection(index.projection.build())
                            .build()
                            .map_err(build_err)?;
                        let sent = self
                            .client
                            .update_table()
                            .table_name(&self.table)
                            .set_attribute_definitions(Some(def.attributes()?))
                            .global_secondary_index_updates(
                                GlobalSecondaryIndexUpdate::builder().create(create).build(),
                            )
                            .send()
                            .await;
                        match sent {
                            Ok(_) => {}
                            // Another process is adding it (or changing the table).
                            Err(e)
                                if matches!(
                                    e.code(),
                                    Some("ResourceInUseException" | "LimitExceededException")
                                ) =>
                            {
                                tokio::time::sleep(std::time::Duration::from_secs(1)).await
                            }
                            Err(e) => return Err(ddb_err("add index", &self.table, e)),
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The index's status, `None` when the table has no such index. An
    /// emulator that reports no status counts as active.
    async fn index_status(&self, name: &str) -> StorageResult<Option<IndexStatus>> {
        let out = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| ddb_err("describe table", &self.table, e))?;
        Ok(out
            .table()
            .map(|t| t.global_secondary_indexes())
            .unwrap_or_default()
            .iter()
            .find(|i| i.index_name() == Some(name))
            .map(|i| i.index_status().cloned().unwrap_or(IndexStatus::Active)))
    }

    async fn describe_status(&self) -> StorageResult<Option<TableStatus>> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(out) => Ok(Some(
                out.table()
                    .and_then(|t| t.table_status())
                    .cloned()
                    .unwrap_or(TableStatus::Creating),
            )),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(ddb_err("describe table", &self.table, e)),
        }
    }

    async fn wait_active(&self) -> StorageResult<()> {
        // A new table takes seconds on AWS, none on an emulator.
        for _ in 0..600 {
            match self.describe_status().await? {
                Some(TableStatus::Active) => return Ok(()),
                Some(_) | None => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            }
        }
        Err(StorageError::Backend(format!(
            "dynamodb table {} did not become ACTIVE within 2 minutes",
            self.table
        )))
    }

    async fn ensure_ttl(&self) -> StorageResult<()> {
        let out = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| ddb_err("describe time to live", &self.table, e))?;
        let current = out.time_to_live_description();
        let status = current.and_then(|d| d.time_to_live_status());
        let attribute = current.and_then(|d| d.attribute_name());
        match status {
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
                if attribute == Some(TTL_ATTRIBUTE) =>
            {
                Ok(())
            }
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling) => {
                Err(StorageError::Backend(format!(
                    "dynamodb table {}: TTL is on attribute {attribute:?}, Mirra needs {TTL_ATTRIBUTE:?}",
                    self.table
                )))
            }
            _ => {
                let spec = TtlDefinition::parse()?.time_to_live_specification;
                self.client
                    .update_time_to_live()
                    .table_name(&self.table)
                    .time_to_live_specification(
                        TimeToLiveSpecification::builder()
                            .enabled(spec.enabled)
                            .attribute_name(spec.attribute_name)
                            .build()
                            .map_err(build_err)?,
                    )
                    .send()
                    .await
                    .map_err(|e| ddb_err("update time to live", &self.table, e))?;
                Ok(())
            }
        }
    }

    // ------------------------------------------------------------ building blocks

    async fn get_item(
        &self,
        key: Item,
        expr: Option<(String, Expr)>,
    ) -> StorageResult<Option<Item>> {
        let mut req = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true);
        if let Some((projection, e)) = expr {
            req = req
                .projection_expression(projection)
                .set_expression_attribute_names(e.names());
        }
        let out = req
            .send()
            .await
            .map_err(|e| ddb_err("get", &self.table, e))?;
        Ok(out.item)
    }

    /// The row with this id, if any (without its checkpoints).
    async fn row(&self, id: &str) -> StorageResult<Option<SessionRow>> {
        let mut e = Expr::default();
        let projection = row_projection(&mut e);
        match self.get_item(row_key(id), Some((projection, e))).await? {
            Some(item) => row_from_item(&item).map(Some),
            None => Ok(None),
        }
    }

    /// Runs a transaction: `Ok(None)` when it committed, `Ok(Some(reasons))` when
    /// a condition failed (one reason per item, in order). Retries cancellations
    /// for conflicts with concurrent transactions.
    async fn transact(
        &self,
        what: &str,
        items: Vec<TransactWriteItem>,
    ) -> StorageResult<Option<Vec<CancellationReason>>> {
        let mut attempt = 0;
        loop {
            let err = match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await
            {
                Ok(_) => return Ok(None),
                Err(e) => e,
            };
            let reasons = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    c.cancellation_reasons().to_vec()
                }
                _ => {
                    if err.code() == Some("TransactionConflictException") && attempt < RETRIES {
                        attempt += 1;
                        tokio::time::sleep(backoff(attempt)).await;
                        continue;
                    }
                    return Err(ddb_err(what, &self.table, err));
                }
            };
            let code = |c: &str| reasons.iter().any(|r| r.code() == Some(c));
            if code("ConditionalCheckFailed") || reasons.is_empty() {
                return Ok(Some(reasons));
            }
            // Transient: a concurrent transaction on one of the items, or throttling.
            let transient = code("TransactionConflict")
                || code("ThrottlingError")
                || code("ProvisionedThroughputExceeded");
            if transient && attempt < RETRIES {
                attempt += 1;
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            return Err(StorageError::Backend(format!(
                "dynamodb {what} ({}): transaction cancelled: {}",
                self.table,
                describe_reasons(&reasons)
            )));
        }
    }

    /// Who holds a name: `Held` by a live row, `Stale` (its row is gone or no
    /// longer carries the name: a crash or a TTL deletion left it), or `Gone`.
    async fn name_holder(
        &self,
        workspace: &str,
        name: &str,
        reservation: Option<&Item>,
    ) -> StorageResult<Holder> {
        let fetched;
        let reservation = match reservation {
            Some(r) => r,
            None => match self.get_item(name_key(workspace, name), None).await? {
                Some(r) => {
                    fetched = r;
                    &fetched
                }
                None => return Ok(Holder::Gone),
            },
        };
        let id = get_s(reservation, ID)?;
        let inc = get_s(reservation, INC)?;
        let token = get_s(reservation, TOKEN)?;
        let mut e = Expr::default();
        let projection = format!("{}, {}", row_projection(&mut e), e.n(NAME_TOKEN));
        let item = self.get_item(row_key(&id), Some((projection, e))).await?;
        if let Some(item) = item {
            let row = row_from_item(&item)?;
            if row.incarnation == inc
                && row.workspace == workspace
                && row.name.as_deref() == Some(name)
                && opt_s(&item, NAME_TOKEN)?.as_deref() == Some(token.as_str())
            {
                return Ok(Holder::Held(row));
            }
        }
        Ok(Holder::Stale { id, token })
    }

    /// Deletes a reservation whose row is gone, unless it changed meanwhile.
    async fn drop_stale_name(
        &self,
        workspace: &str,
        name: &str,
        id: &str,
        token: &str,
    ) -> StorageResult<()> {
        let mut e = Expr::default();
        let cond = format!("{} = {}", e.n(TOKEN), e.s(token));
        tracing::info!(
            workspace,
            name,
            session = id,
            "removing a name reservation its session left behind"
        );
        match self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(name_key(workspace, name)))
            .condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => Ok(()),
            Err(err) => Err(ddb_err("delete stale name", &self.table, err)),
        }
    }

    /// A name put in a transaction failed: `Ok(())` when it was stale and is
    /// gone now (try again), else `AlreadyExists`.
    async fn resolve_taken_name(
        &self,
        workspace: &str,
        name: &str,
        reason: &CancellationReason,
    ) -> StorageResult<()> {
        match self.name_holder(workspace, name, reason.item()).await? {
            Holder::Held(row) => Err(StorageError::AlreadyExists(format!(
                "session name {name:?} in {workspace} (held by {})",
                row.id
            ))),
            Holder::Stale { id, token } => self.drop_stale_name(workspace, name, &id, &token).await,
            Holder::Gone => Ok(()),
        }
    }

    /// Moves a row to a new workspace and/or name, with its reservations.
    /// `Ok(true)` when done, `Ok(false)` when the row changed meanwhile.
    async fn put_renamed(&self, row: &SessionRow, old: &SessionRow) -> StorageResult<bool> {
        let mut items = Vec::new();
        let mut e = Expr::default();
        let mut set = vec![
            format!("{} = {}", e.n(WS), e.s(&row.workspace)),
            format!("{} = {}", e.n(BODY), e.s(&row.body)),
        ];
        let mut remove = Vec::new();
        let token = name_token();
        match &row.name {
            Some(n) => {
                set.push(format!("{} = {}", e.n(NAME), e.s(n)));
                set.push(format!("{} = {}", e.n(NAME_TOKEN), e.s(&token)));
            }
            None => {
                remove.push(e.n(NAME));
                remove.push(e.n(NAME_TOKEN));
            }
        }
        expiry_updates(&mut e, row.expires_at, &mut set, &mut remove);
        let cond = format!(
            "attribute_exists({}) AND {} = {} AND {} = {} AND {}",
            e.n(PK),
            e.n(INC),
            e.s(&row.incarnation),
            e.n(WS),
            e.s(&old.workspace),
            name_condition(&mut e, old.name.as_deref())
        );
        items.push(
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(row_key(&row.id)))
                        .update_expression(update_expression(&set, &remove))
                        .condition_expression(cond)
                        .set_expression_attribute_names(e.names())
                        .set_expression_attribute_values(e.values())
                        .build()
                        .map_err(build_err)?,
                )
                .build(),
        );
        let new_name_at = match &row.name {
            Some(n) => {
                items.push(self.put_name(&row.workspace, n, row, &token)?);
                Some(items.len() - 1)
            }
            None => None,
        };
        if let Some(n) = &old.name {
            let mut e = Expr::default();
            let cond = format!("{} = {}", e.n(ID), e.s(&row.id));
            items.push(
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(name_key(&old.workspace, n)))
                            .condition_expression(cond)
                            .set_expression_attribute_names(e.names())
                            .set_expression_attribute_values(e.values())
                            .build()
                            .map_err(build_err)?,
                    )
                    .build(),
            );
        }
        if old.workspace != row.workspace {
            items.push(self.delete_plain(member_key(&old.workspace, &row.id))?);
            items.push(self.put_plain(member_item(&row.workspace, &row.id))?);
        }
        match self.transact("put session (rename)", items).await? {
            None => Ok(true),
            Some(reasons) => {
                if failed(&reasons, 0) {
                    return Ok(false);
                }
                if let Some(i) = new_name_at.filter(|i| failed(&reasons, *i)) {
                    let name = row.name.as_deref().unwrap_or_default();
                    self.resolve_taken_name(&row.workspace, name, &reasons[i])
                        .await?;
                    return Ok(false);
                }
                Err(cancelled("put session", &reasons))
            }
        }
    }

    /// Reserves `name` in `workspace` for `row` (whose item must carry `token`).
    fn put_name(
        &self,
        workspace: &str,
        name: &str,
        row: &SessionRow,
        token: &str,
    ) -> StorageResult<TransactWriteItem> {
        let mut item = name_key(workspace, name);
        item.insert(ID.into(), s(&row.id));
        item.insert(INC.into(), s(&row.incarnation));
        item.insert(TOKEN.into(), s(token));
        let mut e = Expr::default();
        let cond = format!("attribute_not_exists({})", e.n(PK));
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression(cond)
                    .set_expression_attribute_names(e.names())
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .map_err(build_err)?,
            )
            .build())
    }

    /// Indexes `credential` for `row`, unless some row or tombstone has it.
    fn put_credential(
        &self,
        credential: &CredentialKey,
        row: &SessionRow,
    ) -> StorageResult<TransactWriteItem> {
        let mut e = Expr::default();
        let cond = format!("attribute_not_exists({})", e.n(PK));
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(credential_item(
                        credential,
                        &row.id,
                        &row.incarnation,
                        None,
                    )))
                    .condition_expression(cond)
                    .set_expression_attribute_names(e.names())
                    .build()
                    .map_err(build_err)?,
            )
            .build())
    }

    fn put_plain(&self, item: Item) -> StorageResult<TransactWriteItem> {
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .build()
                    .map_err(build_err)?,
            )
            .build())
    }

    fn delete_plain(&self, key: Item) -> StorageResult<TransactWriteItem> {
        Ok(TransactWriteItem::builder()
            .delete(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .build()
                    .map_err(build_err)?,
            )
            .build())
    }

    /// Up to `limit` ids of the workspace's members above `after`, in order, and
    /// whether more may follow.
    async fn member_ids(
        &self,
        workspace: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StorageResult<(Vec<String>, bool)> {
        // Member sort keys are `S#{id}`; `S$` sorts right after every one of them.
        let from = format!("S#{}", after.unwrap_or(""));
        let range = SortRange {
            from: &from,
            to: "S$",
            forward: true,
            skip: after.map(|_| from.as_str()),
        };
        let (items, more) = self
            .query_range("list members", &ws_pk(workspace), range, &[], limit)
            .await?;
        let ids = items
            .iter()
            .filter_map(|item| {
                let sk = item.get(SK)?.as_s().ok()?;
                sk.strip_prefix("S#").map(str::to_owned)
            })
            .collect();
        Ok((ids, more))
    }

    /// Items of one partition whose sort keys lie in `range`, read page by page,
    /// keeping those whose attributes equal `filter`'s values, until `limit` are
    /// collected; the flag says whether more may follow.
    async fn query_range(
        &self,
        what: &str,
        pk: &str,
        range: SortRange<'_>,
        filter: &[(&str, &str)],
        limit: usize,
    ) -> StorageResult<(Vec<Item>, bool)> {
        let mut e = Expr::default();
        let cond = format!(
            "{} = {} AND {} BETWEEN {} AND {}",
            e.n(PK),
            e.s(pk),
            e.n(SK),
            e.s(range.from),
            e.s(range.to)
        );
        let filter = (!filter.is_empty()).then(|| {
            filter
                .iter()
                .map(|(attr, value)| format!("{} = {}", e.n(attr), e.s(value)))
                .collect::<Vec<_>>()
                .join(" AND ")
        });
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(&cond)
                .set_filter_expression(filter.clone())
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .scan_index_forward(range.forward)
                .consistent_read(true)
                .set_exclusive_start_key(start.take());
            if filter.is_none() {
                // Without a filter every item read counts: read one past the page.
                let want = (limit - items.len()).saturating_add(1);
                req = req.limit(i32::try_from(want).unwrap_or(i32::MAX));
            }
            let out = req
                .send()
                .await
                .map_err(|err| ddb_err(what, &self.table, err))?;
            for item in out.items.unwrap_or_default() {
                let sk = item.get(SK).and_then(|v| v.as_s().ok());
                if range.skip.is_some() && sk.map(String::as_str) == range.skip {
                    continue;
                }
                if items.len() == limit {
                    return Ok((items, true));
                }
                items.push(item);
            }
            match out.last_evaluated_key {
                Some(k) if items.len() < limit => start = Some(k),
                Some(_) => return Ok((items, true)),
                None => return Ok((items, false)),
            }
        }
    }

    /// The rows of these ids that still belong to the workspace, in no order.
    async fn rows_of(&self, workspace: &str, ids: &[String]) -> StorageResult<Vec<SessionRow>> {
        let mut keys: Vec<Item> = ids.iter().map(|id| row_key(id)).collect();
        let mut rows = Vec::with_capacity(keys.len());
        let mut attempt = 0;
        while !keys.is_empty() {
            let rest = keys.split_off(keys.len().min(BATCH_GET));
            let batch = std::mem::replace(&mut keys, rest);
            let mut e = Expr::default();
            let projection = row_projection(&mut e);
            let ka = KeysAndAttributes::builder()
                .set_keys(Some(batch))
                .consistent_read(true)
                .projection_expression(projection)
                .set_expression_attribute_names(e.names())
                .build()
                .map_err(build_err)?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, ka)
                .send()
                .await
                .map_err(|e| ddb_err("list sessions", &self.table, e))?;
            for item in out
                .responses
                .and_then(|mut r| r.remove(&self.table))
                .unwrap_or_default()
            {
                let row = row_from_item(&item)?;
                // A member item can outlive a row a TTL deleted.
                if row.workspace == workspace {
                    rows.push(row);
                }
            }
            if let Some(left) = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|ka| ka.keys)
                .filter(|k| !k.is_empty())
            {
                attempt += 1;
                if attempt > RETRIES {
                    return Err(StorageError::Backend(format!(
                        "dynamodb list sessions ({}): keys still unprocessed",
                        self.table
                    )));
                }
                tokio::time::sleep(backoff(attempt)).await;
                keys.extend(left);
            }
        }
        Ok(rows)
    }

    /// Keys (`pk`, `sk`) of a partition's items whose sort keys are in `range`,
    /// every page.
    async fn query_keys(&self, pk: &str, range: SkRange<'_>) -> StorageResult<Vec<Item>> {
        let mut e = Expr::default();
        let mut cond = format!("{} = {}", e.n(PK), e.s(pk));
        match range {
            SkRange::All => {}
            SkRange::Between(from, to) => {
                cond = format!(
                    "{cond} AND {} BETWEEN {} AND {}",
                    e.n(SK),
                    e.s(from),
                    e.s(to)
                );
            }
        }
        let projection = format!("{}, {}", e.n(PK), e.n(SK));
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(cond)
            .projection_expression(projection)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ddb_err("query", &self.table, e))?;
            keys.extend(page.items.unwrap_or_default());
        }
        Ok(keys)
    }

    /// Deletes items by key, 25 per request, resending what DynamoDB leaves unprocessed.
    async fn delete_keys(&self, keys: Vec<Item>) -> StorageResult<()> {
        for chunk in keys.chunks(BATCH_WRITE) {
            let mut requests = chunk
                .iter()
                .map(|k| {
                    DeleteRequest::builder()
                        .set_key(Some(k.clone()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(build_err)
                })
                .collect::<StorageResult<Vec<_>>>()?;
            let mut attempt = 0;
            while !requests.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| ddb_err("batch delete", &self.table, e))?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if !requests.is_empty() {
                    attempt += 1;
                    if attempt > RETRIES {
                        return Err(StorageError::Backend(format!(
                            "dynamodb batch delete ({}): {} items still unprocessed",
                            self.table,
                            requests.len()
                        )));
                    }
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
        Ok(())
    }

    /// Whether the key's row exists, and its checkpoint seq for the key's mirror.
    async fn log_state(&self, key: &LogKey) -> StorageResult<Option<u64>> {
        let item = self.get_item(row_key(&key.session), None).await?;
        log_state_of(item.as_ref(), key)
    }
}

/// Which sort keys of a partition a query wants.
/// Sort keys `from..=to` of a partition, ascending or descending, without the
/// one equal to `skip` (a page cursor).
struct SortRange<'a> {
    from: &'a str,
    to: &'a str,
    forward: bool,
    skip: Option<&'a str>,
}

enum SkRange<'a> {
    All,
    Between(&'a str, &'a str),
}

enum Holder {
    Held(SessionRow),
    Stale { id: String, token: String },
    Gone,
}

/// `None` when the item is not the key's row; else its checkpoint seq (0 without).
fn log_state_of(item: Option<&Item>, key: &LogKey) -> StorageResult<Option<u64>> {
    let Some(item) = item else { return Ok(None) };
    if opt_s(item, INC)?.as_deref() != Some(key.incarnation.as_str()) {
        return Ok(None);
    }
    Ok(Some(opt_u64(item, &cp_seq_attr(&key.mirror))?.unwrap_or(0)))
}

// ------------------------------------------------------------------ the trait

#[async_trait]
impl SessionTable for DynamoSessionTable {
    async fn create_session(&self, row: &SessionRow) -> StorageResult<()> {
        for _ in 0..RETRIES {
            let mut e = Expr::default();
            let cond = format!("attribute_not_exists({})", e.n(PK));
            let token = name_token();
            let mut item = row_item(row);
            if row.name.is_some() {
                item.insert(NAME_TOKEN.into(), s(&token));
            }
            let mut items = vec![
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(item))
                            .condition_expression(cond)
                            .set_expression_attribute_names(e.names())
                            .build()
                            .map_err(build_err)?,
                    )
                    .build(),
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
            expiry_updates(&mut e, row.expires_at, &mut set, &mut remove);
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
    async fn delete_session(
        &self,
        id: &str,
        incarnation: &str,
        tombstone: Option<&Tombstone>,
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
            rows.extend(self.rows_of(workspace, &ids).await?);
            if !more {
                break;
            }
        }
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(rows)
    }

    async fn expired_sessions(&self, now: i64) -> StorageResult<Vec<SessionRow>> {
        let mut e = Expr::default();
        let filter = format!(
            "{} = {} AND {} <= {}",
            e.n(SK),
            e.s(ROW_SK),
            e.n(EXP),
            e.v(AttributeValue::N(now.to_string()))
        );
        let projection = row_projection(&mut e);
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression(filter)
            .projection_expression(projection)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut rows = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ddb_err("scan for expired sessions", &self.table, e))?;
            for item in page.items.unwrap_or_default() {
                rows.push(row_from_item(&item)?);
            }
        }
        rows.sort_by(|a, b| (a.expires_at, &a.id).cmp(&(b.expires_at, &b.id)));
        Ok(rows)
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
        let taken = || StorageError::AlreadyExists(format!("{} entry {seq}", log_name(key)));
        if seq == 0 {
            // Seqs count from 1: 0 is below every log's floor.
            return match self.log_state(key).await? {
                Some(_) => Err(taken()),
                None => Err(row_gone(key)),
            };
        }
        let mut e = Expr::default();
        let seq_v = e.v(AttributeValue::N(seq.to_string()));
        let cp = e.n(&cp_seq_attr(&key.mirror));
        let cond = format!(
            "attribute_exists({}) AND {} = {} AND (attribute_not_exists({cp}) OR {cp} < {seq_v})",
            e.n(PK),
            e.n(INC),
            e.s(&key.incarnation),
        );
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(row_key(&key.session)))
            .condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        let mut item = HashMap::with_capacity(3);
        item.insert(PK.to_owned(), s(&log_pk(&key.session, &key.incarnation)));
        item.insert(SK.to_owned(), s(&log_sk(&key.mirror, seq)));
        item.insert(ENTRY.to_owned(), AttributeValue::B(Blob::new(entry)));
        let mut e = Expr::default();
        let cond = format!("attribute_not_exists({})", e.n(PK));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .build()
            .map_err(build_err)?;
        let items = vec![
            TransactWriteItem::builder().condition_check(check).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        let Some(reasons) = self.transact("append log", items).await? else {
            return Ok(());
        };
        if reasons.len() == 2 {
            if failed(&reasons, 0) {
                // The row is gone or another incarnation, or seq is under the checkpoint.
                return match log_state_of(reasons[0].item(), key)? {
                    Some(_) => Err(taken()),
                    None => Err(row_gone(key)),
                };
            }
            if failed(&reasons, 1) {
                return Err(taken());
            }
        }
        // No usable reasons: look.
        match self.log_state(key).await? {
            None => Err(row_gone(key)),
            Some(_) => Err(taken()),
        }
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
        if checkpoint.seq == 0 {
            return match self.log_state(key).await? {
                Some(_) => Ok(false),
                None => Err(row_gone(key)),
            };
        }
        let mut e = Expr::default();
        let seq_v = e.v(AttributeValue::N(checkpoint.seq.to_string()));
        let cp = e.n(&cp_seq_attr(&key.mirror));
        let update = format!(
            "SET {cp} = {seq_v}, {} = {}",
            e.n(&cp_object_attr(&key.mirror)),
            e.s(&checkpoint.object)
        );
        let cond = format!(
            "attribute_exists({}) AND {} = {} AND (attribute_not_exists({cp}) OR {cp} < {seq_v})",
            e.n(PK),
            e.n(INC),
            e.s(&key.incarnation),
        );
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(row_key(&key.session)))
            .update_expression(update)
            .condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Err(err) = retry_conflicts(|| req.clone().send()).await {
            return match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    match log_state_of(c.item(), key)? {
                        Some(_) => Ok(false),
                        None => Err(row_gone(key)),
                    }
                }
                _ => Err(ddb_err("set checkpoint", &self.table, err)),
            };
        }
        // Entries below the checkpoint are unreachable now; deleting them may fail
        // and be caught up by the next checkpoint, which deletes from the start.
        if checkpoint.seq > 1 {
            let pk = log_pk(&key.session, &key.incarnation);
            let trim = async {
                let keys = self
                    .query_keys(
                        &pk,
                        SkRange::Between(
                            &log_sk(&key.mirror, 0),
                            &log_sk(&key.mirror, checkpoint.seq - 1),
                        ),
                    )
                    .await?;
                self.delete_keys(keys).await
            };
            if let Err(e) = trim.await {
                tracing::warn!(error = %e, log = %log_name(key), "set_checkpoint: entries below it stay for now");
            }
        }
        Ok(true)
    }

    async fn checkpoint(&self, key: &LogKey) -> StorageResult<Option<Checkpoint>> {
        let mut e = Expr::default();
        let projection = format!(
            "{}, {}, {}",
            e.n(INC),
            e.n(&cp_seq_attr(&key.mirror)),
            e.n(&cp_object_attr(&key.mirror))
        );
        let Some(item) = self
            .get_item(row_key(&key.session), Some((projection, e)))
            .await?
        else {
            return Ok(None);
        };
        if opt_s(&item, INC)?.as_deref() != Some(key.incarnation.as_str()) {
            return Ok(None);
        }
        match (
            opt_u64(&item, &cp_seq_attr(&key.mirror))?,
            opt_s(&item, &cp_object_attr(&key.mirror))?,
        ) {
            (Some(seq), Some(object)) => Ok(Some(Checkpoint { seq, object })),
            _ => Ok(None),
        }
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

    async fn add_usage(&self, workspace: &str, mode: &str, minutes: u64) -> StorageResult<()> {
        let mut e = Expr::default();
        let update = format!(
            "ADD {} {}",
            e.n(MINUTES),
            e.v(AttributeValue::N(minutes.to_string()))
        );
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(usage_key(workspace, mode)))
            .update_expression(update)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await
            .map_err(|e| ddb_err("add usage", &self.table, e))?;
        Ok(())
    }

    async fn usage(&self, workspace: &str) -> StorageResult<Vec<(String, u64)>> {
        let mut e = Expr::default();
        let cond = format!(
            "{} = {} AND begins_with({}, {})",
            e.n(PK),
            e.s(&ws_pk(workspace)),
            e.n(SK),
            e.s("U#")
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
                let mode = sk.strip_prefix("U#").unwrap_or(&sk).to_owned();
                usage.push((mode, opt_u64(&item, MINUTES)?.unwrap_or(0)));
            }
        }
        usage.sort();
        Ok(usage)
    }
}

// ------------------------------------------------------------ keys and items

/// Escapes `\` and `#` so parts joined with `#` split back one way only.
fn esc(part: &str) -> String {
    part.replace('\\', "\\\\").replace('#', "\\#")
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk)),
        (SK.to_owned(), AttributeValue::S(sk)),
    ])
}

fn row_key(id: &str) -> Item {
    key(format!("S#{id}"), ROW_SK.to_owned())
}

fn credential_key(credential: &CredentialKey) -> Item {
    key(
        format!("C#{}", credential.as_str()),
        CREDENTIAL_SK.to_owned(),
    )
}

fn credential_item(credential: &CredentialKey, id: &str, inc: &str, ttl: Option<i64>) -> Item {
    let mut item = credential_key(credential);
    item.insert(ID.into(), s(id));
    item.insert(INC.into(), s(inc));
    if let Some(ttl) = ttl {
        item.insert(TTL_ATTRIBUTE.into(), AttributeValue::N(ttl.to_string()));
    }
    item
}

fn ws_pk(workspace: &str) -> String {
    format!("W#{workspace}")
}

fn member_key(workspace: &str, id: &str) -> Item {
    key(ws_pk(workspace), format!("S#{id}"))
}

fn member_item(workspace: &str, id: &str) -> Item {
    let mut item = member_key(workspace, id);
    item.insert(ID.into(), s(id));
    item
}

fn name_key(workspace: &str, name: &str) -> Item {
    key(ws_pk(workspace), format!("N#{name}"))
}

fn usage_key(workspace: &str, mode: &str) -> Item {
    key(ws_pk(workspace), format!("U#{mode}"))
}

fn log_pk(session: &str, incarnation: &str) -> String {
    format!("L#{}#{}", esc(session), esc(incarnation))
}

fn log_sk(mirror: &str, seq: u64) -> String {
    format!("{}#{seq:0width$}", esc(mirror), width = SEQ_DIGITS)
}

fn cp_seq_attr(mirror: &str) -> String {
    format!("cps:{mirror}")
}

fn cp_object_attr(mirror: &str) -> String {
    format!("cpo:{mirror}")
}

fn log_name(key: &LogKey) -> String {
    format!("log {}/{}/{}", key.session, key.incarnation, key.mirror)
}

fn row_gone(key: &LogKey) -> StorageError {
    StorageError::NotFound(format!(
        "session {} incarnation {}",
        key.session, key.incarnation
    ))
}

fn name_token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// The TTL of a row expiring at `exp`: never before DynamoDB's epoch start.
pub fn ttl_for(exp: i64) -> i64 {
    exp.saturating_add(TTL_GRACE_SECS).max(0)
}

fn row_item(row: &SessionRow) -> Item {
    let mut item = row_key(&row.id);
    item.insert(ID.into(), s(&row.id));
    item.insert(INC.into(), s(&row.incarnation));
    item.insert(WS.into(), s(&row.workspace));
    if let Some(n) = &row.name {
        item.insert(NAME.into(), s(n));
    }
    if let Some(exp) = row.expires_at {
        item.insert(EXP.into(), AttributeValue::N(exp.to_string()));
        item.insert(
            TTL_ATTRIBUTE.into(),
            AttributeValue::N(ttl_for(exp).to_string()),
        );
    }
    item.insert(BODY.into(), s(&row.body));
    if !row.credentials.is_empty() {
        let digests = row.credentials.iter().map(|c| c.as_str().to_owned());
        item.insert(CREDS.into(), AttributeValue::Ss(digests.collect()));
    }
    item
}

fn row_projection(e: &mut Expr) -> String {
    [ID, INC, WS, NAME, EXP, BODY, CREDS]
        .iter()
        .map(|a| e.n(a))
        .collect::<Vec<_>>()
        .join(", ")
}

fn row_from_item(item: &Item) -> StorageResult<SessionRow> {
    Ok(SessionRow {
        id: get_s(item, ID)?,
        incarnation: get_s(item, INC)?,
        workspace: get_s(item, WS)?,
        name: opt_s(item, NAME)?,
        expires_at: match item.get(EXP) {
            None => None,
            Some(v) => Some(
                v.as_n()
                    .ok()
                    .and_then(|n| n.parse::<i64>().ok())
                    .ok_or_else(|| corrupt(EXP, v))?,
            ),
        },
        body: get_s(item, BODY)?,
        credentials: match item.get(CREDS) {
            None => Vec::new(),
            Some(AttributeValue::Ss(digests)) => {
                let mut c: Vec<CredentialKey> = digests
                    .iter()
                    .map(|d| CredentialKey::from_stored(d.clone()))
                    .collect();
                c.sort();
                c
            }
            Some(v) => return Err(corrupt(CREDS, v)),
        },
    })
}

fn record_from_item(mut item: Item) -> StorageResult<LogRecord> {
    let sk = get_s(&item, SK)?;
    let seq = sk
        .rsplit_once('#')
        .and_then(|(_, digits)| digits.parse::<u64>().ok())
        .ok_or_else(|| {
            StorageError::Backend(format!("dynamodb: log entry with bad sort key {sk:?}"))
        })?;
    let entry = match item.remove(ENTRY) {
        Some(AttributeValue::B(b)) => b.into_inner(),
        other => {
            return Err(StorageError::Backend(format!(
                "dynamodb: log entry {sk:?} has no bytes ({other:?})"
            )))
        }
    };
    Ok(LogRecord { seq, entry })
}

fn corrupt(attr: &str, v: &AttributeValue) -> StorageError {
    StorageError::Backend(format!(
        "dynamodb: attribute {attr} has an unexpected value {v:?}"
    ))
}

fn opt_s(item: &Item, attr: &str) -> StorageResult<Option<String>> {
    match item.get(attr) {
        None => Ok(None),
        Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
        Some(v) => Err(corrupt(attr, v)),
    }
}

fn get_s(item: &Item, attr: &str) -> StorageResult<String> {
    opt_s(item, attr)?
        .ok_or_else(|| StorageError::Backend(format!("dynamodb: item without attribute {attr}")))
}

fn opt_u64(item: &Item, attr: &str) -> StorageResult<Option<u64>> {
    match item.get(attr) {
        None => Ok(None),
        Some(AttributeValue::N(n)) => n
            .parse()
            .map(Some)
            .map_err(|_| corrupt(attr, &AttributeValue::N(n.clone()))),
        Some(v) => Err(corrupt(attr, v)),
    }
}

// ------------------------------------------------------------- expressions

/// Placeholders for one request's expressions: every attribute name goes through
/// `#n…` (so reserved words such as `name` and `ttl` are safe) and every value
/// through `:v…`. Only what an expression used is sent, as DynamoDB requires.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn n(&mut self, attr: &str) -> String {
        if let Some((p, _)) = self.names.iter().find(|(_, a)| a.as_str() == attr) {
            return p.clone();
        }
        let p = format!("#n{}", self.names.len());
        self.names.insert(p.clone(), attr.to_owned());
        p
    }

    fn v(&mut self, value: AttributeValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), value);
        p
    }

    fn s(&mut self, value: &str) -> String {
        self.v(s(value))
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// The row has exactly this name (or none).
fn name_condition(e: &mut Expr, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{} = {}", e.n(NAME), e.s(n)),
        None => format!("attribute_not_exists({})", e.n(NAME)),
    }
}

/// `exp` and `ttl` follow `expires_at`.
fn expiry_updates(
    e: &mut Expr,
    expires_at: Option<i64>,
    set: &mut Vec<String>,
    remove: &mut Vec<String>,
) {
    match expires_at {
        Some(exp) => {
            set.push(format!(
                "{} = {}",
                e.n(EXP),
                e.v(AttributeValue::N(exp.to_string()))
            ));
            set.push(format!(
                "{} = {}",
                e.n(TTL_ATTRIBUTE),
                e.v(AttributeValue::N(ttl_for(exp).to_string()))
            ));
        }
        None => {
            remove.push(e.n(EXP));
            remove.push(e.n(TTL_ATTRIBUTE));
        }
    }
}

fn update_expression(set: &[String], remove: &[String]) -> String {
    let mut expr = String::new();
    if !set.is_empty() {
        expr.push_str("SET ");
        expr.push_str(&set.join(", "));
    }
    if !remove.is_empty() {
        if !expr.is_empty() {
            expr.push(' ');
        }
        expr.push_str("REMOVE ");
        expr.push_str(&remove.join(", "));
    }
    expr
}

// ------------------------------------------------------------------ errors

fn failed(reasons: &[CancellationReason], i: usize) -> bool {
    reasons
        .get(i)
        .is_some_and(|r| r.code() == Some("ConditionalCheckFailed"))
}

fn describe_reasons(reasons: &[CancellationReason]) -> String {
    reasons
        .iter()
        .map(|r| match r.message() {
            Some(m) => format!("{} ({m})", r.code().unwrap_or("?")),
            None => r.code().unwrap_or("?").to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn cancelled(what: &str, reasons: &[CancellationReason]) -> StorageError {
    StorageError::Backend(format!(
        "dynamodb {what}: transaction cancelled: {}",
        describe_reasons(reasons)
    ))
}

fn ddb_err<E>(op: &str, table: &str, e: SdkError<E, HttpResponse>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    StorageError::Backend(format!("dynamodb {op} ({table}): {}", sdk_error_text(&e)))
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StorageError {
    StorageError::Backend(format!("dynamodb request: {e}"))
}

/// Retries a single-item write DynamoDB refused because a transaction held the item.
async fn retry_conflicts<T, E, F, Fut>(mut call: F) -> Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e) if e.code() == Some("TransactionConflictException") && attempt < RETRIES => {
                attempt += 1;
                tokio::time::sleep(backoff(attempt)).await;
            }
            other => return other,
        }
    }
}

// ------------------------------------------------------- table definition

/// The subset of `CreateTable` input in `infra/dynamodb/table.json`; unknown
/// fields are refused so the file and this code cannot drift apart silently.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TableDefinition {
    pub table_name: String,
    pub attribute_definitions: Vec<AttributeDef>,
    pub key_schema: Vec<KeyDef>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<IndexDef>,
    pub billing_mode: String,
}

/// A global secondary index (on-demand billing: no throughput of its own).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct IndexDef {
    pub index_name: String,
    pub key_schema: Vec<KeyDef>,
    pub projection: ProjectionDef,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ProjectionDef {
    pub projection_type: String,
    #[serde(default)]
    pub non_key_attributes: Vec<String>,
}

impl ProjectionDef {
    fn build(&self) -> Projection {
        Projection::builder()
            .projection_type(ProjectionType::from(self.projection_type.as_str()))
            .set_non_key_attributes(
                (!self.non_key_attributes.is_empty()).then(|| self.non_key_attributes.clone()),
            )
            .build()
    }
}

fn key_schema(keys: &[KeyDef]) -> StorageResult<Vec<KeySchemaElement>> {
    keys.iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
                .map_err(build_err)
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AttributeDef {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeyDef {
    pub attribute_name: String,
    pub key_type: String,
}

impl TableDefinition {
    pub fn parse() -> StorageResult<Self> {
        serde_json::from_str(TABLE_DEFINITION)
            .map_err(|e| StorageError::Backend(format!("infra/dynamodb/table.json: {e}")))
    }

    fn attributes(&self) -> StorageResult<Vec<AttributeDefinition>> {
        self.attribute_definitions
            .iter()
            .map(|a| {
                AttributeDefinition::builder()
                    .attribute_name(&a.attribute_name)
                    .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                    .build()
                    .map_err(build_err)
            })
            .collect()
    }
}

/// `infra/dynamodb/ttl.json`: `UpdateTimeToLive` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TtlDefinition {
    pub table_name: String,
    pub time_to_live_specification: TtlSpec,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TtlSpec {
    pub enabled: bool,
    pub attribute_name: String,
}

impl TtlDefinition {
    pub fn parse() -> StorageResult<Self> {
        serde_json::from_str(TTL_DEFINITION)
            .map_err(|e| StorageError::Backend(format!("infra/dynamodb/ttl.json: {e}")))
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
            [(PK, "S"), (SK, "S"), (DUE_SHARD, "S"), (DUE_AT, "N")],
            "key attributes and their types (the shard a string, the time a number)"
        );
        let [due] = t.global_secondary_indexes.as_slice() else {
            panic!("one index: {:?}", t.global_secondary_indexes);
        };
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
