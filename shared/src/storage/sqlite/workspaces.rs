//! The [`WorkspaceTable`] on the session table's SQLite file: workspaces and
//! token digests, each change one statement or one immediate transaction.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};

use super::{clamp, SqliteSessionTable};
use crate::storage::{
    StorageError, StorageResult, TokenDigest, TokenRow, WorkspaceRow, WorkspaceTable,
};

fn workspace_from_row(r: &Row<'_>) -> rusqlite::Result<WorkspaceRow> {
    Ok(WorkspaceRow {
        id: r.get(0)?,
        created_at_ms: r.get(1)?,
        body: r.get(2)?,
    })
}

fn token_from_row(r: &Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        digest: TokenDigest::from_stored(r.get(0)?),
        id: r.get(1)?,
        workspace: r.get(2)?,
        created_at_ms: r.get(3)?,
        body: r.get(4)?,
    })
}

fn insert_token(c: &rusqlite::Connection, t: &TokenRow) -> rusqlite::Result<usize> {
    c.prepare_cached(
        "INSERT INTO tokens (digest, id, workspace, created_at_ms, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        t.digest.as_str(),
        t.id,
        t.workspace,
        t.created_at_ms,
        t.body
    ])
}

#[async_trait]
impl WorkspaceTable for SqliteSessionTable {
    async fn create_workspace(&self, ws: &WorkspaceRow, token: &TokenRow) -> StorageResult<()> {
        self.write(
            || format!("workspace {} (or its token)", ws.id),
            |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.prepare_cached(
                    "INSERT INTO workspaces (id, created_at_ms, body) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![ws.id, ws.created_at_ms, ws.body])?;
                insert_token(&tx, token)?;
                tx.commit()
            },
        )
    }

    async fn get_workspace(&self, id: &str) -> StorageResult<WorkspaceRow> {
        self.read(|c| {
            c.prepare_cached("SELECT id, created_at_ms, body FROM workspaces WHERE id = ?1")?
                .query_row([id], workspace_from_row)
                .optional()
        })?
        .ok_or_else(|| StorageError::NotFound(format!("workspace {id}")))
    }

    async fn put_workspace(&self, ws: &WorkspaceRow) -> StorageResult<()> {
        let n = self.write(
            || format!("workspace {}", ws.id),
            |c| {
                c.prepare_cached("UPDATE workspaces SET body = ?2 WHERE id = ?1")?
                    .execute(params![ws.id, ws.body])
            },
        )?;
        if n == 0 {
            return Err(StorageError::NotFound(format!("workspace {}", ws.id)));
        }
        Ok(())
    }

    async fn list_workspaces(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StorageResult<Vec<WorkspaceRow>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT id, created_at_ms, body FROM workspaces WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?
            .query_map(
                params![after.unwrap_or(""), clamp(limit as u64)],
                workspace_from_row,
            )?
            .collect()
        })
    }

    async fn create_token(&self, token: &TokenRow) -> StorageResult<()> {
        let stored = self.write(
            || format!("token {} of {}", token.id, token.workspace),
            |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let exists = tx
                    .prepare_cached("SELECT 1 FROM workspaces WHERE id = ?1")?
                    .exists([&token.workspace])?;
                if !exists {
                    return Ok(false);
                }
                insert_token(&tx, token)?;
                tx.commit()?;
                Ok(true)
            },
        )?;
        if !stored {
            return Err(StorageError::NotFound(format!(
                "workspace {}",
                token.workspace
            )));
        }
        Ok(())
    }

    async fn find_token(&self, digest: &TokenDigest) -> StorageResult<TokenRow> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT digest, id, workspace, created_at_ms, body FROM tokens WHERE digest = ?1",
            )?
            .query_row([digest.as_str()], token_from_row)
            .optional()
        })?
        .ok_or_else(|| StorageError::NotFound("token".into()))
    }

    async fn list_tokens(&self, workspace: &str) -> StorageResult<Vec<TokenRow>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT digest, id, workspace, created_at_ms, body FROM tokens
                 WHERE workspace = ?1 ORDER BY id",
            )?
            .query_map([workspace], token_from_row)?
            .collect()
        })
    }

    async fn delete_token(&self, workspace: &str, id: &str) -> StorageResult<bool> {
        let n = self.write(
            || format!("token {id}"),
            |c| {
                c.prepare_cached("DELETE FROM tokens WHERE workspace = ?1 AND id = ?2")?
                    .execute([workspace, id])
            },
        )?;
        Ok(n > 0)
    }
}
