//! Tombstones and the snapshot index on DynamoDB (item layout in `mod.rs`).
//!
//! A tombstone sits in its session's partition (`S#{id}`, sort key `T`) and is
//! written in the transaction that deletes the row; its TTL lets DynamoDB drop
//! it two days after the session ended. Snapshots sit in their workspace's
//! partition (`W#{ws}`, `P#{id}`): snapshot ids sort by creation time, so a
//! backwards `Query` lists them newest first without an index.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem};

use super::{
    corrupt, ddb_err, get_s, key, opt_s, s, ws_pk, DynamoSessionTable, Expr, Item, SortRange, ID,
    INC, NAME, PK, SK, TTL_ATTRIBUTE, WS,
};
use crate::storage::{SnapshotQuery, SnapshotRow, StorageError, StorageResult, Tombstone};

pub(super) const TOMBSTONE_SK: &str = "T";
/// DynamoDB may delete a tombstone this long after its session ended.
const TOMBSTONE_TTL_SECS: i64 = 2 * 24 * 60 * 60;
const ENDED: &str = "ended";
const REASON: &str = "reason";
const SESSION: &str = "sess";
const CREATED_MS: &str = "cms";
const KEEP: &str = "keep";
const BODY: &str = "body";

fn tombstone_key(id: &str) -> Item {
    key(format!("S#{id}"), TOMBSTONE_SK.to_owned())
}

fn snapshot_key(workspace: &str, id: &str) -> Item {
    key(ws_pk(workspace), format!("P#{id}"))
}

pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn get_i64(item: &Item, attr: &str) -> StorageResult<i64> {
    match item.get(attr) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| corrupt(attr, &AttributeValue::N(v.clone()))),
        Some(v) => Err(corrupt(attr, v)),
        None => Err(StorageError::Backend(format!(
            "dynamodb: item without attribute {attr}"
        ))),
    }
}

/// When DynamoDB may delete a tombstone (and the credentials naming it).
pub(super) fn tombstone_ttl(t: &Tombstone) -> i64 {
    (t.ended_at_ms / 1000)
        .saturating_add(TOMBSTONE_TTL_SECS)
        .max(0)
}

pub(super) fn tombstone_from_item(item: &Item) -> StorageResult<Tombstone> {
    Ok(Tombstone {
        id: get_s(item, ID)?,
        incarnation: get_s(item, INC)?,
        workspace: get_s(item, WS)?,
        name: opt_s(item, NAME)?,
        ended_at_ms: get_i64(item, ENDED)?,
        reason: get_s(item, REASON)?,
    })
}

fn snapshot_from_item(workspace: &str, item: &Item) -> StorageResult<SnapshotRow> {
    Ok(SnapshotRow {
        id: get_s(item, ID)?,
        workspace: workspace.to_owned(),
        session: get_s(item, SESSION)?,
        incarnation: get_s(item, INC)?,
        created_at_ms: get_i64(item, CREATED_MS)?,
        keep: matches!(item.get(KEEP), Some(AttributeValue::Bool(true))),
        body: get_s(item, BODY)?,
    })
}

impl DynamoSessionTable {
    /// The `Put` of a tombstone, for `delete_session`'s transaction.
    pub(super) fn put_tombstone_item(&self, t: &Tombstone) -> StorageResult<TransactWriteItem> {
        let mut item = tombstone_key(&t.id);
        item.insert(ID.into(), s(&t.id));
        item.insert(INC.into(), s(&t.incarnation));
        item.insert(WS.into(), s(&t.workspace));
        if let Some(name) = &t.name {
            item.insert(NAME.into(), s(name));
        }
        item.insert(ENDED.into(), n(t.ended_at_ms));
        item.insert(REASON.into(), s(&t.reason));
        item.insert(TTL_ATTRIBUTE.into(), n(tombstone_ttl(t)));
        self.put_plain(item)
    }

    pub(super) async fn tombstone(&self, id: &str) -> StorageResult<Option<Tombstone>> {
        match self.get_item(tombstone_key(id), None).await? {
            Some(item) => tombstone_from_item(&item).map(Some),
            None => Ok(None),
        }
    }

    pub(super) async fn put_snapshot(&self, row: &SnapshotRow) -> StorageResult<()> {
        let mut item = snapshot_key(&row.workspace, &row.id);
        item.insert(ID.into(), s(&row.id));
        item.insert(SESSION.into(), s(&row.session));
        item.insert(INC.into(), s(&row.incarnation));
        item.insert(CREATED_MS.into(), n(row.created_at_ms));
        item.insert(KEEP.into(), AttributeValue::Bool(row.keep));
        item.insert(BODY.into(), s(&row.body));
        let mut e = Expr::default();
        let cond = format!("attribute_not_exists({})", e.n(PK));
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Err(StorageError::AlreadyExists(format!(
                    "snapshot {} in {}",
                    row.id, row.workspace
                )))
            }
            Err(err) => Err(ddb_err("put snapshot", &self.table, err)),
        }
    }

    pub(super) async fn snapshot(
        &self,
        workspace: &str,
        id: &str,
    ) -> StorageResult<Option<SnapshotRow>> {
        match self.get_item(snapshot_key(workspace, id), None).await? {
            Some(item) => snapshot_from_item(workspace, &item).map(Some),
            None => Ok(None),
        }
    }

    /// A backwards `Query` of the workspace's `P#` items, filtered by session
    /// when asked, page after page until `limit` rows match or none are left.
    pub(super) async fn query_snapshots(
        &self,
        workspace: &str,
        q: &SnapshotQuery,
    ) -> StorageResult<Vec<SnapshotRow>> {
        // Snapshot sort keys are `P#{id}`; `P$` sorts right after every one.
        let to = q.before.as_ref().map(|b| format!("P#{b}"));
        let range = SortRange {
            from: "P#",
            to: to.as_deref().unwrap_or("P$"),
            forward: false,
            skip: to.as_deref(),
        };
        let filter: Vec<(&str, &str)> = match &q.session {
            Some((session, inc)) => vec![(SESSION, session.as_str()), (INC, inc.as_str())],
            None => vec![],
        };
        let (items, _) = self
            .query_range("list snapshots", &ws_pk(workspace), range, &filter, q.limit)
            .await?;
        items
            .iter()
            .map(|item| snapshot_from_item(workspace, item))
            .collect()
    }

    pub(super) async fn remove_snapshot(&self, workspace: &str, id: &str) -> StorageResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(snapshot_key(workspace, id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| ddb_err("delete snapshot", &self.table, e))?;
        Ok(out.attributes.is_some_and(|a| a.contains_key(SK)))
    }
}
