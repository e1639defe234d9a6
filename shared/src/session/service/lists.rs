//! Paged lists of a workspace's sessions.

use super::Sessions;
use crate::session::id::is_session_id;
use crate::session::{
    ListSessions, Page, Session, SessionError, SessionResult, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT,
};
use crate::storage::{SessionRow, StorageError};

impl Sessions {
    /// A page of the workspace's stored sessions (expired ones until the reaper
    /// ends them), ordered by id, filtered by status, mode and name.
    pub async fn list(&self, workspace: &str, q: &ListSessions) -> SessionResult<Page<Session>> {
        let limit = page_limit(q.limit)?;
        let status = match q.status.as_deref() {
            None => None,
            Some(s @ ("active" | "expired")) => Some(s == "expired"),
            Some(other) => {
                return Err(SessionError::Invalid(format!(
                    "status must be active or expired, not {other:?}"
                )))
            }
        };
        if let Some(after) = &q.starting_after {
            if !is_session_id(after) {
                return Err(SessionError::Invalid(format!(
                    "starting_after: malformed session id {after:?}"
                )));
            }
        }
        let now_ms = self.clock.now_ms();
        let keep = |s: &Session| {
            status.is_none_or(|expired| s.is_expired(now_ms) == expired)
                && q.mode.is_none_or(|m| s.mode == m)
                && q.name.as_ref().is_none_or(|n| s.name.as_ref() == Some(n))
        };
        if let Some(name) = &q.name {
            // Names are unique per workspace: one lookup, no scan.
            let found = match self.table.find_session(workspace, name).await {
                Ok(row) => vec![Session::from_row(&row)?],
                Err(StorageError::NotFound(_)) => vec![],
                Err(e) => return Err(e.into()),
            };
            let data = found
                .into_iter()
                .filter(|s| keep(s) && q.starting_after.as_ref().is_none_or(|a| s.id > *a))
                .collect();
            return Ok(Page {
                data,
                has_more: false,
            });
        }
        let mut data = Vec::new();
        let mut after = q.starting_after.clone();
        // Filters may drop rows: read on until the page (and one more) is full.
        loop {
            let want = limit + 1 - data.len();
            let rows = self
                .table
                .list_sessions(workspace, after.as_deref(), want.max(DEFAULT_PAGE_LIMIT))
                .await?;
            let exhausted = rows.len() < want.max(DEFAULT_PAGE_LIMIT);
            for row in &rows {
                after = Some(row.id.clone());
                let s = Session::from_row(row)?;
                if keep(&s) {
                    data.push(s);
                    if data.len() > limit {
                        break;
                    }
                }
            }
            if data.len() > limit || exhausted {
                break;
            }
        }
        let has_more = data.len() > limit;
        data.truncate(limit);
        Ok(Page { data, has_more })
    }

    /// Every stored session of the workspace, page after page.
    pub(super) async fn all_sessions(&self, workspace: &str) -> SessionResult<Vec<Session>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let rows: Vec<SessionRow> = self
                .table
                .list_sessions(workspace, after.as_deref(), MAX_PAGE_LIMIT)
                .await?;
            for row in &rows {
                out.push(Session::from_row(row)?);
            }
            match rows.last() {
                Some(last) if rows.len() == MAX_PAGE_LIMIT => after = Some(last.id.clone()),
                _ => return Ok(out),
            }
        }
    }
}

/// A list's `limit`: [`DEFAULT_PAGE_LIMIT`] when absent, 1 to [`MAX_PAGE_LIMIT`].
pub fn page_limit(limit: Option<usize>) -> SessionResult<usize> {
    match limit.unwrap_or(DEFAULT_PAGE_LIMIT) {
        n @ 1..=MAX_PAGE_LIMIT => Ok(n),
        n => Err(SessionError::Invalid(format!(
            "limit must be between 1 and {MAX_PAGE_LIMIT}, not {n}"
        ))),
    }
}
