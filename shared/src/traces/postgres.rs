//! PostgreSQL: durable trace history. The schema is the migrations under
//! `infra/migrations/traces/` (embedded at build time, run when the sink
//! first reaches the database, so a database that is down does not stop the
//! server starting). A batch is one multi-row `INSERT … SELECT FROM UNNEST`
//! with `ON CONFLICT (id) DO NOTHING`: one round trip, and a record delivered
//! twice (a retry after a lost answer, the mover's at-least-once delivery)
//! is one row.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, QueryBuilder, Row};

use super::record::TraceRecord;
use super::sink::{TraceError, TracePage, TraceQuery, TraceSink};

/// The schema `mirra serve` keeps its tables in.
pub const SCHEMA: &str = "mirra";

/// The migrations, in order.
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "traces",
    include_str!("../../../infra/migrations/traces/0001_traces.sql"),
)];

pub struct PgSink {
    pool: PgPool,
    schema: String,
    migrated: tokio::sync::Mutex<bool>,
}

impl From<sqlx::Error> for TraceError {
    fn from(e: sqlx::Error) -> Self {
        TraceError::Unavailable(format!("postgres: {e}"))
    }
}

impl From<sqlx::migrate::MigrateError> for TraceError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        TraceError::Unavailable(format!("postgres migrations: {e}"))
    }
}

impl PgSink {
    /// A sink on `url` (`postgres://user@host/db`) keeping its tables in
    /// `schema` (letters, digits and `_`). Connects lazily; call it inside a
    /// Tokio runtime (the pool starts its tasks there).
    pub fn new(url: &str, schema: &str) -> Result<Self, TraceError> {
        if schema.is_empty()
            || !schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(TraceError::Unavailable(format!(
                "postgres schema {schema:?}: lowercase letters, digits and _ only"
            )));
        }
        let options = PgConnectOptions::from_str(url)?
            .options([("search_path", schema)])
            .application_name("mirra-traces");
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(2))
            .connect_lazy_with(options);
        Ok(PgSink {
            pool,
            schema: schema.to_string(),
            migrated: tokio::sync::Mutex::new(false),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the schema and runs the migrations, once per process (again
    /// after a failure).
    pub async fn migrate(&self) -> Result<(), TraceError> {
        let mut done = self.migrated.lock().await;
        if *done {
            return Ok(());
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{}\"",
            self.schema
        )))
        .execute(&self.pool)
        .await?;
        let migrations = MIGRATIONS
            .iter()
            .map(|(version, name, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*name),
                    MigrationType::Simple,
                    sqlx::SqlSafeStr::into_sql_str(*sql),
                    false,
                )
            })
            .collect();
        let mut migrator = Migrator::with_migrations(migrations);
        migrator.table_name = Cow::Borrowed("mirra_migrations");
        migrator.run(&self.pool).await?;
        *done = true;
        Ok(())
    }

    /// Rows stored (for tests and the benchmark).
    pub async fn count(&self) -> Result<i64, TraceError> {
        self.migrate().await?;
        Ok(sqlx::query_scalar("SELECT count(*) FROM mirra_traces")
            .fetch_one(&self.pool)
            .await?)
    }
}

#[async_trait]
impl TraceSink for PgSink {
    async fn append(&self, records: &[TraceRecord]) -> Result<(), TraceError> {
        if records.is_empty() {
            return Ok(());
        }
        self.migrate().await?;
        let text = |f: fn(&TraceRecord) -> Option<&String>| -> Vec<Option<String>> {
            records.iter().map(|r| f(r).cloned()).collect()
        };
        let json = records
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()?;
        sqlx::query(
            "INSERT INTO mirra_traces \
               (id, session, incarnation, workspace, kind, mirror, time_ms, method, path, status, record) \
             SELECT id, session, incarnation, workspace, kind, mirror, time_ms, method, path, status, record::json \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                         $7::int8[], $8::text[], $9::text[], $10::int4[], $11::text[]) \
               AS t(id, session, incarnation, workspace, kind, mirror, time_ms, method, path, status, record) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(records.iter().map(|r| r.id.clone()).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.session.clone()).collect::<Vec<_>>())
        .bind(text(|r| r.incarnation.as_ref()))
        .bind(text(|r| r.workspace.as_ref()))
        .bind(records.iter().map(|r| r.kind.clone()).collect::<Vec<_>>())
        .bind(text(|r| r.mirror.as_ref()))
        .bind(records.iter().map(|r| r.time_ms).collect::<Vec<_>>())
        .bind(text(|r| r.method.as_ref()))
        .bind(text(|r| r.path.as_ref()))
        .bind(
            records
                .iter()
                .map(|r| r.status.map(i32::from))
                .collect::<Vec<_>>(),
        )
        .bind(json)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list(&self, q: &TraceQuery) -> Result<TracePage, TraceError> {
        self.migrate().await?;
        let limit = q.limit.max(1);
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT record::text AS record FROM mirra_traces WHERE session = ",
        );
        sql.push_bind(&q.session);
        let mut eq = |column: &str, value: &Option<String>, fold: bool| {
            if let Some(v) = value {
                if fold {
                    sql.push(format!(" AND lower({column}) = lower("));
                    sql.push_bind(v.clone()).push(")");
                } else {
                    sql.push(format!(" AND {column} = "));
                    sql.push_bind(v.clone());
                }
            }
        };
        eq("workspace", &q.workspace, false);
        eq("incarnation", &q.incarnation, false);
        eq("kind", &q.kind, false);
        eq("mirror", &q.mirror, true);
        eq("method", &q.method, true);
        if let Some(after) = &q.after {
            sql.push(" AND id > ").push_bind(after.clone());
        }
        if let Some(status) = &q.status {
            match status.strip_suffix("xx").map(str::parse::<i32>) {
                Some(Ok(class)) => {
                    sql.push(" AND status >= ").push_bind(class * 100);
                    sql.push(" AND status < ").push_bind(class * 100 + 100);
                }
                _ => {
                    // Not a code: nothing matches, as with the other sinks.
                    let code = status.parse::<i32>().unwrap_or(-1);
                    sql.push(" AND status = ").push_bind(code);
                }
            }
        }
        if let Some(prefix) = &q.path_prefix {
            // The whole path, or the mirror's own (as `TraceQuery::matches`).
            let column = if prefix.starts_with("/m/") {
                "path"
            } else {
                "substring(path from '^/m/[^/]+/[^/]+(/.*)$')"
            };
            sql.push(format!(" AND starts_with({column}, "))
                .push_bind(prefix.clone())
                .push(")");
        }
        if let Some(t) = q.since_ms {
            sql.push(" AND time_ms >= ").push_bind(t);
        }
        if let Some(t) = q.until_ms {
            sql.push(" AND time_ms <= ").push_bind(t);
        }
        sql.push(" ORDER BY id LIMIT ")
            .push_bind(i64::try_from(limit + 1).unwrap_or(i64::MAX));
        let rows = sql.build().fetch_all(&self.pool).await?;
        let mut data = rows
            .iter()
            .map(|row| {
                let text: String = row.try_get("record")?;
                Ok(serde_json::from_str(&text)?)
            })
            .collect::<Result<Vec<TraceRecord>, TraceError>>()?;
        let next = if data.len() > limit {
            data.truncate(limit);
            data.last().map(|r| r.id.clone())
        } else {
            None
        };
        Ok(TracePage { data, next })
    }

    async fn get(&self, session: &str, id: &str) -> Result<Option<TraceRecord>, TraceError> {
        self.migrate().await?;
        let text: Option<String> = sqlx::query_scalar(
            "SELECT record::text FROM mirra_traces WHERE session = $1 AND id = $2",
        )
        .bind(session)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        text.map(|t| serde_json::from_str(&t).map_err(TraceError::from))
            .transpose()
    }
}
