//! The [`WorkspaceTable`] on the session table: workspaces under one
//! partition (`WS`, listed by a `Query`, never a Scan), each token twice —
//! by digest (`K#{digest}`, what a request is authenticated by) and under its
//! workspace (`W#{ws}` / `K#{id}`, what lists and revoking use) — both
//! written and deleted in one transaction. Item layout in `mod.rs`.

use super::records::{get_i64, n as num};
use super::*;
use crate::storage::{TokenDigest, TokenRow, UsageCharge, WorkspaceRow, WorkspaceTable};

const WORKSPACES_PK: &str = "WS";
const TOKEN_SK: &str = "K";
const CREATED_MS: &str = "cms";
const DIGEST: &str = "dig";

fn workspace_key(id: &str) -> Item {
    key(WORKSPACES_PK.to_owned(), id.to_owned())
}

fn token_key(digest: &TokenDigest) -> Item {
    key(format!("K#{}", digest.as_str()), TOKEN_SK.to_owned())
}

fn workspace_token_key(workspace: &str, id: &str) -> Item {
    key(ws_pk(workspace), format!("K#{}", esc(id)))
}

fn workspace_item(ws: &WorkspaceRow) -> Item {
    let mut item = workspace_key(&ws.id);
    item.insert(ID.into(), s(&ws.id));
    item.insert(CREATED_MS.into(), num(ws.created_at_ms));
    item.insert(BODY.into(), s(&ws.body));
    item
}

fn workspace_from_item(item: &Item) -> StorageResult<WorkspaceRow> {
    Ok(WorkspaceRow {
        id: get_s(item, ID)?,
        created_at_ms: get_i64(item, CREATED_MS)?,
        body: get_s(item, BODY)?,
    })
}

/// A token's attributes on either of its two items.
fn with_token(mut item: Item, t: &TokenRow) -> Item {
    item.insert(ID.into(), s(&t.id));
    item.insert(WS.into(), s(&t.workspace));
    item.insert(DIGEST.into(), s(t.digest.as_str()));
    item.insert(CREATED_MS.into(), num(t.created_at_ms));
    item.insert(BODY.into(), s(&t.body));
    item
}

fn token_from_item(item: &Item) -> StorageResult<TokenRow> {
    Ok(TokenRow {
        id: get_s(item, ID)?,
        workspace: get_s(item, WS)?,
        digest: TokenDigest::from_stored(get_s(item, DIGEST)?),
        created_at_ms: get_i64(item, CREATED_MS)?,
        body: get_s(item, BODY)?,
    })
}

impl DynamoSessionTable {
    /// The `Update` adding one charge to its workspace's counter, for
    /// `end_session`'s transaction.
    pub(super) fn add_usage_item(
        &self,
        workspace: &str,
        charge: &UsageCharge,
    ) -> StorageResult<TransactWriteItem> {
        let mut e = Expr::default();
        let update = format!(
            "ADD {} {}",
            e.n(MINUTES),
            e.v(AttributeValue::N(charge.minutes.to_string()))
        );
        Ok(TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(usage_key(workspace, &charge.period, &charge.mode)))
                    .update_expression(update)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .map_err(build_err)?,
            )
            .build())
    }

    /// The token's two items, each created only when absent.
    fn put_token_items(&self, t: &TokenRow) -> StorageResult<[TransactWriteItem; 2]> {
        Ok([
            self.put_new(with_token(token_key(&t.digest), t))?,
            self.put_new(with_token(workspace_token_key(&t.workspace, &t.id), t))?,
        ])
    }
}

#[async_trait]
impl WorkspaceTable for DynamoSessionTable {
    async fn create_workspace(&self, ws: &WorkspaceRow, token: &TokenRow) -> StorageResult<()> {
        let mut items = vec![self.put_new(workspace_item(ws))?];
        items.extend(self.put_token_items(token)?);
        match self.transact("create workspace", items).await? {
            None => Ok(()),
            Some(reasons) if reasons.is_empty() || (0..3).any(|i| failed(&reasons, i)) => Err(
                StorageError::AlreadyExists(format!("workspace {} (or its token)", ws.id)),
            ),
            Some(reasons) => Err(cancelled("create workspace", &reasons)),
        }
    }

    async fn get_workspace(&self, id: &str) -> StorageResult<WorkspaceRow> {
        match self.get_item(workspace_key(id), None).await? {
            Some(item) => workspace_from_item(&item),
            None => Err(StorageError::NotFound(format!("workspace {id}"))),
        }
    }

    async fn put_workspace(&self, ws: &WorkspaceRow) -> StorageResult<()> {
        let mut e = Expr::default();
        let update = format!("SET {} = {}", e.n(BODY), e.s(&ws.body));
        let cond = format!("attribute_exists({})", e.n(PK));
        match self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(workspace_key(&ws.id)))
            .update_expression(update)
            .condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Err(StorageError::NotFound(format!("workspace {}", ws.id)))
            }
            Err(err) => Err(ddb_err("put workspace", &self.table, err)),
        }
    }

    async fn list_workspaces(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StorageResult<Vec<WorkspaceRow>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Every id sorts below U+10FFFF: the range is "all ids above `after`".
        let from = after.unwrap_or(" ");
        let range = SortRange {
            from,
            to: "\u{10FFFF}",
            forward: true,
            skip: after,
        };
        let (items, _) = self
            .query_range("list workspaces", WORKSPACES_PK, range, &[], limit)
            .await?;
        items.iter().map(workspace_from_item).collect()
    }

    async fn create_token(&self, token: &TokenRow) -> StorageResult<()> {
        let mut e = Expr::default();
        let cond = format!("attribute_exists({})", e.n(PK));
        let check = TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(workspace_key(&token.workspace)))
                    .condition_expression(cond)
                    .set_expression_attribute_names(e.names())
                    .build()
                    .map_err(build_err)?,
            )
            .build();
        let mut items = vec![check];
        items.extend(self.put_token_items(token)?);
        match self.transact("create token", items).await? {
            None => Ok(()),
            Some(reasons) if failed(&reasons, 0) => Err(StorageError::NotFound(format!(
                "workspace {}",
                token.workspace
            ))),
            Some(reasons) if reasons.is_empty() || failed(&reasons, 1) || failed(&reasons, 2) => {
                Err(StorageError::AlreadyExists(format!(
                    "token {} of {}",
                    token.id, token.workspace
                )))
            }
            Some(reasons) => Err(cancelled("create token", &reasons)),
        }
    }

    async fn find_token(&self, digest: &TokenDigest) -> StorageResult<TokenRow> {
        match self.get_item(token_key(digest), None).await? {
            Some(item) => token_from_item(&item),
            None => Err(StorageError::NotFound("token".into())),
        }
    }

    async fn list_tokens(&self, workspace: &str) -> StorageResult<Vec<TokenRow>> {
        let range = SortRange {
            from: "K#",
            to: "K$",
            forward: true,
            skip: None,
        };
        let (items, _) = self
            .query_range("list tokens", &ws_pk(workspace), range, &[], usize::MAX)
            .await?;
        items.iter().map(token_from_item).collect()
    }

    async fn delete_token(&self, workspace: &str, id: &str) -> StorageResult<bool> {
        let Some(item) = self
            .get_item(workspace_token_key(workspace, id), None)
            .await?
        else {
            return Ok(false);
        };
        let token = token_from_item(&item)?;
        let mut e = Expr::default();
        let cond = format!("attribute_exists({})", e.n(PK));
        let delete = TransactWriteItem::builder()
            .delete(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(workspace_token_key(workspace, id)))
                    .condition_expression(cond)
                    .set_expression_attribute_names(e.names())
                    .build()
                    .map_err(build_err)?,
            )
            .build();
        let items = vec![delete, self.delete_plain(token_key(&token.digest))?];
        match self.transact("delete token", items).await? {
            None => Ok(true),
            // Deleted by a concurrent call meanwhile.
            Some(reasons) if failed(&reasons, 0) => Ok(false),
            Some(reasons) => Err(cancelled("delete token", &reasons)),
        }
    }
}
