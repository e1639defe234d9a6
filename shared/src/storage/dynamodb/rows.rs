//! Building blocks of the session rows: single items, transactions, name
//! reservations, credentials, workspace members and batched reads and deletes
//! (item layout and the rules in `mod.rs`).

use super::*;

impl DynamoSessionTable {
    pub(super) async fn get_item(
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
    pub(super) async fn row(&self, id: &str) -> StorageResult<Option<SessionRow>> {
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
    pub(super) async fn transact(
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
    pub(super) async fn name_holder(
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
    pub(super) async fn drop_stale_name(
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
    pub(super) async fn resolve_taken_name(
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
    pub(super) async fn put_renamed(
        &self,
        row: &SessionRow,
        old: &SessionRow,
    ) -> StorageResult<bool> {
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
        expiry_updates(&mut e, &row.id, row.expires_at, &mut set, &mut remove);
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
    pub(super) fn put_name(
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
    pub(super) fn put_credential(
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

    /// A `Put` that fails its transaction when the item exists.
    pub(super) fn put_new(&self, item: Item) -> StorageResult<TransactWriteItem> {
        let mut e = Expr::default();
        let cond = format!("attribute_not_exists({})", e.n(PK));
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression(cond)
                    .set_expression_attribute_names(e.names())
                    .build()
                    .map_err(build_err)?,
            )
            .build())
    }

    pub(super) fn put_plain(&self, item: Item) -> StorageResult<TransactWriteItem> {
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

    pub(super) fn delete_plain(&self, key: Item) -> StorageResult<TransactWriteItem> {
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
    pub(super) async fn member_ids(
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
    pub(super) async fn query_range(
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

    /// The rows of these ids (that still belong to `workspace`, when given),
    /// in no order; ids without a row are skipped.
    pub(super) async fn rows_of(
        &self,
        workspace: Option<&str>,
        ids: &[String],
    ) -> StorageResult<Vec<SessionRow>> {
        let items = self.row_items(ids, row_projection).await?;
        let mut rows = Vec::with_capacity(items.len());
        for item in &items {
            let row = row_from_item(item)?;
            // A member item can outlive a row a TTL deleted.
            if workspace.is_none_or(|ws| row.workspace == ws) {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    /// How many of these ids' rows belong to `workspace` and have no expiry
    /// or one after `now`, reading only those two attributes.
    pub(super) async fn live_among(
        &self,
        workspace: &str,
        ids: &[String],
        now: i64,
    ) -> StorageResult<usize> {
        let items = self
            .row_items(ids, |e| format!("{}, {}", e.n(WS), e.n(EXP)))
            .await?;
        let mut n = 0;
        for item in &items {
            let exp = match item.get(EXP) {
                Some(AttributeValue::N(v)) => Some(
                    v.parse::<i64>()
                        .map_err(|_| corrupt(EXP, &AttributeValue::N(v.clone())))?,
                ),
                _ => None,
            };
            if get_s(item, WS)? == workspace && exp.is_none_or(|t| t > now) {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The row items of these ids, with the attributes `projection` names,
    /// in consistent `BatchGetItem`s of [`BATCH_GET`]; ids without a row are
    /// skipped.
    async fn row_items(
        &self,
        ids: &[String],
        projection: impl Fn(&mut Expr) -> String,
    ) -> StorageResult<Vec<Item>> {
        let mut keys: Vec<Item> = ids.iter().map(|id| row_key(id)).collect();
        let mut items = Vec::with_capacity(keys.len());
        let mut attempt = 0;
        while !keys.is_empty() {
            let rest = keys.split_off(keys.len().min(BATCH_GET));
            let batch = std::mem::replace(&mut keys, rest);
            let mut e = Expr::default();
            let projection = projection(&mut e);
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
                .map_err(|e| ddb_err("read session rows", &self.table, e))?;
            items.extend(
                out.responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default(),
            );
            if let Some(left) = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|ka| ka.keys)
                .filter(|k| !k.is_empty())
            {
                attempt += 1;
                if attempt > RETRIES {
                    return Err(StorageError::Backend(format!(
                        "dynamodb read session rows ({}): keys still unprocessed",
                        self.table
                    )));
                }
                tokio::time::sleep(backoff(attempt)).await;
                keys.extend(left);
            }
        }
        Ok(items)
    }

    /// Keys (`pk`, `sk`) of a partition's items whose sort keys are in `range`,
    /// every page.
    pub(super) async fn query_keys(
        &self,
        pk: &str,
        range: SkRange<'_>,
    ) -> StorageResult<Vec<Item>> {
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
    pub(super) async fn delete_keys(&self, keys: Vec<Item>) -> StorageResult<()> {
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
}

/// Which sort keys of a partition a query wants.
/// Sort keys `from..=to` of a partition, ascending or descending, without the
/// one equal to `skip` (a page cursor).
pub(super) struct SortRange<'a> {
    pub(super) from: &'a str,
    pub(super) to: &'a str,
    pub(super) forward: bool,
    pub(super) skip: Option<&'a str>,
}

pub(super) enum SkRange<'a> {
    All,
    Between(&'a str, &'a str),
}

pub(super) enum Holder {
    Held(SessionRow),
    Stale { id: String, token: String },
    Gone,
}
