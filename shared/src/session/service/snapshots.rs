//! Snapshots: take, list (a session incarnation's, or the workspace's), delete,
//! and restore into any live session of the workspace.
//!
//! A snapshot belongs to the session *incarnation* that took it: a later
//! session that happens to reuse the id never lists it. Its bytes live in the
//! object store (`snapshots/{ws}/{id}/{mirror}.sqlite`, under `ephemeral/`
//! when it goes with its ephemeral session), its record in the
//! session table's snapshot index. When an ephemeral session ends, the
//! snapshots it took go with it unless taken with `keep`; a persistent
//! session's snapshots (its final one included) stay until deleted.

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;

use super::{mirror_key, ms, page_limit, Sessions};
use crate::session::id::{is_snapshot_id, new_snapshot_id};
use crate::session::{
    ListSnapshots, Mode, Page, RestoreReport, Session, SessionError, SessionResult, Snapshot,
    SnapshotDeleted, SnapshotMirror,
};
use crate::state::{LogEntry, EPHEMERAL_PREFIX};
use crate::storage::{SnapshotQuery, SnapshotRow, StorageError};

impl Sessions {
    pub async fn snapshot(
        &self,
        workspace: &str,
        id_or_name: &str,
        keep: bool,
    ) -> SessionResult<Snapshot> {
        let session = self.get(workspace, id_or_name).await?;
        self.take_snapshot(&session, keep).await
    }

    /// The snapshots this very session (incarnation) took, newest first.
    pub async fn snapshots(
        &self,
        workspace: &str,
        id_or_name: &str,
        page: &ListSnapshots,
    ) -> SessionResult<Page<Snapshot>> {
        let session = self.get(workspace, id_or_name).await?;
        let scope = Some((session.id.clone(), session.incarnation.clone()));
        self.snapshot_page(workspace, scope, page).await
    }

    /// Every snapshot of the workspace, also those of ended sessions, newest first.
    pub async fn workspace_snapshots(
        &self,
        workspace: &str,
        page: &ListSnapshots,
    ) -> SessionResult<Page<Snapshot>> {
        self.snapshot_page(workspace, None, page).await
    }

    /// Deletes a snapshot: its record first (so nothing finds it any more), then
    /// its bytes. Sessions restored from it are unaffected: a restore works from
    /// its own copy (see [`StateEngine::replace`](crate::state::StateEngine::replace)).
    pub async fn delete_snapshot(
        &self,
        workspace: &str,
        snapshot: &str,
    ) -> SessionResult<SnapshotDeleted> {
        let row = self.snapshot_row(workspace, snapshot).await?;
        if !self.table.delete_snapshot(workspace, snapshot).await? {
            return Err(no_snapshot(snapshot));
        }
        self.delete_snapshot_objects(&row).await;
        Ok(SnapshotDeleted {
            id: snapshot.to_string(),
            deleted: true,
        })
    }

    pub async fn restore(
        &self,
        workspace: &str,
        id_or_name: &str,
        snapshot: &str,
    ) -> SessionResult<RestoreReport> {
        let started = Instant::now();
        let session = self.get(workspace, id_or_name).await?;
        let meta: Snapshot =
            serde_json::from_str(&self.snapshot_row(workspace, snapshot).await?.body)?;
        let mut report = BTreeMap::new();
        for (m, snap) in &meta.mirrors {
            let Some(state) = session.mirrors.get(m) else {
                continue;
            };
            let t0 = Instant::now();
            let key = mirror_key(&session, m, &state.image);
            let entry = LogEntry::Restore {
                object: snap.object.clone(),
            };
            match self.engine.replace(&key, entry).await {
                Ok(()) => {}
                // Deleted between reading its record and reading its bytes.
                Err(crate::state::StateError::Storage(StorageError::NotFound(_))) => {
                    return Err(no_snapshot(snapshot))
                }
                Err(e) => return Err(e.into()),
            }
            report.insert(m.clone(), ms(t0));
        }
        if report.is_empty() {
            return Err(SessionError::Invalid(format!(
                "snapshot {snapshot} holds none of the mirrors of session {}",
                session.id
            )));
        }
        self.observe(
            &session,
            "state.restored",
            serde_json::json!({"snapshot": meta.id, "mirrors": report.keys().collect::<Vec<_>>()}),
        );
        Ok(RestoreReport {
            session: session.id,
            snapshot: meta.id,
            mirrors: report,
            total_ms: ms(started),
        })
    }

    pub(super) async fn take_snapshot(
        &self,
        session: &Session,
        keep: bool,
    ) -> SessionResult<Snapshot> {
        let now_ms = self.clock.now_ms();
        let id = new_snapshot_id(now_ms);
        let keep = keep || session.mode == Mode::Persistent;
        // Goes with its ephemeral session: the bucket may expire it (see
        // EPHEMERAL_PREFIX); a restore elsewhere copies the bytes first.
        let under = if keep { "" } else { EPHEMERAL_PREFIX };
        let mut mirrors = BTreeMap::new();
        for (m, state) in &session.mirrors {
            let key = mirror_key(session, m, &state.image);
            let bytes: Bytes = self.engine.serialize(&key).await?;
            let object = format!("{under}snapshots/{}/{id}/{m}.sqlite", session.workspace);
            let size = bytes.len() as u64;
            self.store.create(&object, bytes).await?;
            mirrors.insert(
                m.clone(),
                SnapshotMirror {
                    seed: state.seed.clone(),
                    object,
                    bytes: size,
                },
            );
        }
        let meta = Snapshot {
            id: id.clone(),
            workspace: session.workspace.clone(),
            session: session.id.clone(),
            session_name: session.name.clone(),
            created_at: now_ms.div_euclid(1000),
            created_at_ms: now_ms,
            keep,
            mirrors,
        };
        self.table
            .create_snapshot(&SnapshotRow {
                id,
                workspace: session.workspace.clone(),
                session: session.id.clone(),
                incarnation: session.incarnation.clone(),
                created_at_ms: now_ms,
                keep: meta.keep,
                body: serde_json::to_string(&meta)?,
            })
            .await?;
        self.observe(
            session,
            "snapshot.created",
            serde_json::json!({"snapshot": meta.id, "keep": meta.keep}),
        );
        Ok(meta)
    }

    /// Deletes the snapshots an ended ephemeral session took without `keep`.
    /// Best effort: the session has already ended, so a failure is logged.
    pub(super) async fn drop_session_snapshots(&self, session: &Session) {
        let scope = Some((session.id.clone(), session.incarnation.clone()));
        let mut before = None;
        loop {
            let query = SnapshotQuery {
                session: scope.clone(),
                before: before.take(),
                limit: 100,
            };
            let rows = match self.table.list_snapshots(&session.workspace, &query).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, session = %session.id, "could not list the ended session's snapshots");
                    return;
                }
            };
            let Some(last) = rows.last() else { return };
            before = Some(last.id.clone());
            for row in rows.iter().filter(|r| !r.keep) {
                match self.table.delete_snapshot(&row.workspace, &row.id).await {
                    Ok(_) => self.delete_snapshot_objects(row).await,
                    Err(e) => {
                        tracing::warn!(error = %e, snapshot = %row.id, "could not delete an ended session's snapshot")
                    }
                }
            }
        }
    }

    async fn delete_snapshot_objects(&self, row: &SnapshotRow) {
        let objects = match serde_json::from_str::<Snapshot>(&row.body) {
            Ok(meta) => meta.mirrors.into_values().map(|m| m.object).collect(),
            Err(_) => Vec::new(),
        };
        for object in objects {
            if let Err(e) = self.store.delete(&object).await {
                tracing::warn!(error = %e, %object, "snapshot deleted; its bytes stay behind");
            }
        }
    }

    async fn snapshot_row(&self, workspace: &str, snapshot: &str) -> SessionResult<SnapshotRow> {
        if !is_snapshot_id(snapshot) {
            return Err(SessionError::Invalid(format!(
                "malformed snapshot id {snapshot:?}"
            )));
        }
        match self.table.get_snapshot(workspace, snapshot).await {
            Ok(row) => Ok(row),
            Err(StorageError::NotFound(_)) => Err(no_snapshot(snapshot)),
            Err(e) => Err(e.into()),
        }
    }

    async fn snapshot_page(
        &self,
        workspace: &str,
        session: Option<(String, String)>,
        page: &ListSnapshots,
    ) -> SessionResult<Page<Snapshot>> {
        let limit = page_limit(page.limit)?;
        if let Some(after) = &page.starting_after {
            if !is_snapshot_id(after) {
                return Err(SessionError::Invalid(format!(
                    "starting_after: malformed snapshot id {after:?}"
                )));
            }
        }
        let mut rows = self
            .table
            .list_snapshots(
                workspace,
                &SnapshotQuery {
                    session,
                    before: page.starting_after.clone(),
                    limit: limit + 1,
                },
            )
            .await?;
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        let data = rows
            .iter()
            .map(|r| serde_json::from_str(&r.body))
            .collect::<Result<Vec<Snapshot>, _>>()?;
        Ok(Page { data, has_more })
    }
}

fn no_snapshot(id: &str) -> SessionError {
    SessionError::NoSnapshot(format!("no such snapshot: {id}"))
}
