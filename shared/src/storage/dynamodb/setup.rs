//! Creating the DynamoDB table, its indexes and TTL from the definitions in
//! `infra/dynamodb/` (what `--create-resources` and the tests run).

use super::*;

impl DynamoSessionTable {
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
        let mut added = Vec::new();
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
                        added.push(index.index_name.clone());
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
        // Rows written before the expiry index existed lack its shard.
        if added.iter().any(|i| i == EXPIRY_INDEX) {
            let n = self.backfill_expiry().await?;
            tracing::info!(table = %self.table, rows = n, "expiry index: shards backfilled");
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
