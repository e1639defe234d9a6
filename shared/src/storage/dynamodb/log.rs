//! The commit log on DynamoDB: appends checked against the row and its
//! checkpoint in one transaction, reads in pages, checkpoints on the row
//! (item layout and the rules in `mod.rs`).

use super::*;

impl DynamoSessionTable {
    /// The log's entries after `after`, ascending: all of them, or (with a
    /// limit) the first page of at most that many.
    pub(super) async fn query_log(
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

    /// Whether the key's row exists, and its checkpoint seq for the key's mirror.
    pub(super) async fn log_state(&self, key: &LogKey) -> StorageResult<Option<u64>> {
        let item = self.get_item(row_key(&key.session), None).await?;
        log_state_of(item.as_ref(), key)
    }

    pub(super) async fn append_entry(
        &self,
        key: &LogKey,
        seq: u64,
        entry: &[u8],
    ) -> StorageResult<()> {
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

    pub(super) async fn raise_checkpoint(
        &self,
        key: &LogKey,
        checkpoint: &Checkpoint,
    ) -> StorageResult<bool> {
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

    pub(super) async fn read_checkpoint(&self, key: &LogKey) -> StorageResult<Option<Checkpoint>> {
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
}

/// `None` when the item is not the key's row; else its checkpoint seq (0 without).
pub(super) fn log_state_of(item: Option<&Item>, key: &LogKey) -> StorageResult<Option<u64>> {
    let Some(item) = item else { return Ok(None) };
    if opt_s(item, INC)?.as_deref() != Some(key.incarnation.as_str()) {
        return Ok(None);
    }
    Ok(Some(opt_u64(item, &cp_seq_attr(&key.mirror))?.unwrap_or(0)))
}
