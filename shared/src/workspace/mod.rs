//! Workspaces and API tokens, for hosted use. The operator's token (the one
//! `mirra serve` prints, or `MIRRA_TOKEN` on Lambda) owns the operator's own
//! workspace (`local`), which has no limits, and creates the others; each of
//! those gets tokens of its own, stored as digests, scoped to it and to what
//! they may do. Without a [`WorkspaceTable`] there is only the operator's
//! workspace: the embedded default.

mod plan;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use plan::{LimitOverrides, Limits, Plan, PlanError};

use crate::session::id::{random_lower, random_token};
use crate::session::{fmt_ms, Clock};
use crate::storage::{StorageError, TokenDigest, TokenRow, WorkspaceRow, WorkspaceTable};

/// What a token may do, each level including the ones below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read sessions, snapshots, usage, traces.
    Read,
    /// And create, reset, snapshot, restore and end sessions.
    Write,
    /// And create, list and revoke the workspace's tokens.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

/// Who a request is: the workspace its token belongs to, and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub workspace: String,
    pub scope: Scope,
    /// The operator's token: may also manage workspaces.
    pub operator: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// This server keeps no workspaces (a table-less setup).
    #[error("this server has only its operator's workspace; workspaces need a workspace table")]
    Disabled,
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

pub type WorkspaceResult<T> = Result<T, WorkspaceError>;

/// `POST /v1/workspaces`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    pub id: String,
    #[serde(default = "default_plan")]
    pub plan: Plan,
    #[serde(default)]
    pub limits: LimitOverrides,
}

fn default_plan() -> Plan {
    Plan::Free
}

/// `POST /v1/workspaces/{id}`: a new plan (its limits replace the old ones)
/// and/or changed limits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspace {
    #[serde(default)]
    pub plan: Option<Plan>,
    #[serde(default)]
    pub limits: LimitOverrides,
}

/// `POST /v1/tokens`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "default_scope")]
    pub scope: Scope,
}

fn default_scope() -> Scope {
    Scope::Write
}

/// A workspace's stored body.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Settings {
    plan: Plan,
    limits: Limits,
}

/// A token's stored body.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenInfo {
    name: Option<String>,
    scope: Scope,
    /// The token's last four characters, so a person can tell tokens apart.
    last4: String,
}

#[derive(Clone)]
pub struct Workspaces {
    table: Option<Arc<dyn WorkspaceTable>>,
    operator: TokenDigest,
    operator_workspace: String,
    clock: Arc<dyn Clock>,
}

impl Workspaces {
    /// Only the operator's workspace, reached with `token`.
    pub fn single(token: &str, workspace: &str, clock: Arc<dyn Clock>) -> Self {
        Workspaces {
            table: None,
            operator: TokenDigest::of(token),
            operator_workspace: workspace.to_string(),
            clock,
        }
    }

    /// Workspaces kept in `table`, beside the operator's.
    pub fn with_table(mut self, table: Arc<dyn WorkspaceTable>) -> Self {
        self.table = Some(table);
        self
    }

    fn table(&self) -> WorkspaceResult<&Arc<dyn WorkspaceTable>> {
        self.table.as_ref().ok_or(WorkspaceError::Disabled)
    }

    /// Who `token` is, or `None` for a token nobody issued (or one revoked).
    pub async fn authenticate(&self, token: &str) -> WorkspaceResult<Option<Principal>> {
        let digest = TokenDigest::of(token);
        if digest == self.operator {
            return Ok(Some(Principal {
                workspace: self.operator_workspace.clone(),
                scope: Scope::Admin,
                operator: true,
            }));
        }
        let Some(table) = &self.table else {
            return Ok(None);
        };
        let row = match table.find_token(&digest).await {
            Ok(row) => row,
            Err(StorageError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let info: TokenInfo = serde_json::from_str(&row.body)
            .map_err(|e| StorageError::Backend(format!("token {}: {e}", row.id)))?;
        Ok(Some(Principal {
            workspace: row.workspace,
            scope: info.scope,
            operator: false,
        }))
    }

    /// The limits new sessions of `workspace` meet.
    pub async fn limits(&self, workspace: &str) -> WorkspaceResult<Limits> {
        Ok(self.plan_of(workspace).await?.1)
    }

    /// The workspace's plan and its limits (the operator's: unlimited).
    pub async fn plan_of(&self, workspace: &str) -> WorkspaceResult<(Plan, Limits)> {
        if workspace == self.operator_workspace {
            return Ok((Plan::Unlimited, Limits::NONE));
        }
        let row = self
            .table()?
            .get_workspace(workspace)
            .await
            .map_err(not_found)?;
        let s = self.settings(&row)?;
        Ok((s.plan, s.limits))
    }

    fn settings(&self, row: &WorkspaceRow) -> WorkspaceResult<Settings> {
        serde_json::from_str(&row.body).map_err(|e| {
            WorkspaceError::Storage(StorageError::Backend(format!("workspace {}: {e}", row.id)))
        })
    }

    fn view(&self, row: &WorkspaceRow) -> WorkspaceResult<Value> {
        let s = self.settings(row)?;
        Ok(json!({
            "id": row.id,
            "object": "workspace",
            "plan": s.plan,
            "limits": s.limits,
            "created_at": fmt_ms(row.created_at_ms),
        }))
    }

    /// Creates a workspace with an admin token, returned once in `token`.
    pub async fn create_workspace(&self, req: CreateWorkspace) -> WorkspaceResult<Value> {
        let table = self.table()?;
        if !is_workspace_id(&req.id) {
            return Err(WorkspaceError::Invalid(format!(
                "invalid workspace id {:?}: use 1-40 of a-z, 0-9 and '-', starting with a letter or digit",
                req.id
            )));
        }
        if req.id == self.operator_workspace {
            return Err(WorkspaceError::Conflict(format!(
                "workspace {} is the operator's own",
                req.id
            )));
        }
        let now = self.clock.now_ms();
        let settings = Settings {
            plan: req.plan,
            limits: req.limits.apply(req.plan.limits()),
        };
        let row = WorkspaceRow {
            id: req.id.clone(),
            created_at_ms: now,
            body: to_json(&settings)?,
        };
        let (token, secret) = self.new_token(
            &req.id,
            CreateToken {
                name: Some("admin".into()),
                scope: Scope::Admin,
            },
        )?;
        match table.create_workspace(&row, &token).await {
            Ok(()) => {}
            Err(StorageError::AlreadyExists(_)) => {
                return Err(WorkspaceError::Conflict(format!(
                    "workspace {} exists already",
                    req.id
                )))
            }
            Err(e) => return Err(e.into()),
        }
        let mut view = self.view(&row)?;
        view["token"] = self.token_view(&token, Some(&secret))?;
        Ok(view)
    }

    pub async fn get_workspace(&self, id: &str) -> WorkspaceResult<Value> {
        let row = self.table()?.get_workspace(id).await.map_err(not_found)?;
        self.view(&row)
    }

    pub async fn list_workspaces(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> WorkspaceResult<(Vec<Value>, bool)> {
        let rows = self
            .table()?
            .list_workspaces(after, limit.saturating_add(1))
            .await?;
        let more = rows.len() > limit;
        let data = rows
            .iter()
            .take(limit)
            .map(|r| self.view(r))
            .collect::<WorkspaceResult<_>>()?;
        Ok((data, more))
    }

    pub async fn update_workspace(&self, id: &str, req: UpdateWorkspace) -> WorkspaceResult<Value> {
        let table = self.table()?;
        let mut row = table.get_workspace(id).await.map_err(not_found)?;
        let mut settings = self.settings(&row)?;
        if let Some(plan) = req.plan {
            settings = Settings {
                plan,
                limits: plan.limits(),
            };
        }
        settings.limits = req.limits.apply(settings.limits);
        row.body = to_json(&settings)?;
        table.put_workspace(&row).await.map_err(not_found)?;
        self.view(&row)
    }

    fn new_token(&self, workspace: &str, req: CreateToken) -> WorkspaceResult<(TokenRow, String)> {
        if let Some(name) = &req.name {
            if name.is_empty() || name.len() > 100 {
                return Err(WorkspaceError::Invalid(
                    "a token's name is 1-100 characters".into(),
                ));
            }
        }
        let secret = format!("mirra_{}", random_token(32));
        let info = TokenInfo {
            name: req.name,
            scope: req.scope,
            last4: secret[secret.len() - 4..].to_string(),
        };
        let row = TokenRow {
            id: format!("tok_{}", random_lower(12)),
            workspace: workspace.to_string(),
            digest: TokenDigest::of(&secret),
            created_at_ms: self.clock.now_ms(),
            body: to_json(&info)?,
        };
        Ok((row, secret))
    }

    fn token_view(&self, row: &TokenRow, secret: Option<&str>) -> WorkspaceResult<Value> {
        let info: TokenInfo = serde_json::from_str(&row.body)
            .map_err(|e| StorageError::Backend(format!("token {}: {e}", row.id)))?;
        let mut v = json!({
            "id": row.id,
            "object": "token",
            "workspace": row.workspace,
            "name": info.name,
            "scope": info.scope,
            "last4": info.last4,
            "created_at": fmt_ms(row.created_at_ms),
        });
        if let Some(secret) = secret {
            v["token"] = secret.into();
        }
        Ok(v)
    }

    fn own_workspace(&self, workspace: &str) -> WorkspaceResult<()> {
        if workspace == self.operator_workspace {
            return Err(WorkspaceError::Invalid(format!(
                "workspace {workspace} is the operator's: its one token is the server's (MIRRA_TOKEN)"
            )));
        }
        Ok(())
    }

    /// A new token of `workspace`; the secret is in the answer once, never again.
    pub async fn create_token(&self, workspace: &str, req: CreateToken) -> WorkspaceResult<Value> {
        self.own_workspace(workspace)?;
        let (row, secret) = self.new_token(workspace, req)?;
        self.table()?.create_token(&row).await.map_err(not_found)?;
        self.token_view(&row, Some(&secret))
    }

    pub async fn list_tokens(&self, workspace: &str) -> WorkspaceResult<Vec<Value>> {
        self.own_workspace(workspace)?;
        self.table()?
            .list_tokens(workspace)
            .await?
            .iter()
            .map(|r| self.token_view(r, None))
            .collect()
    }

    /// Revokes a token of `workspace` at once.
    pub async fn revoke_token(&self, workspace: &str, id: &str) -> WorkspaceResult<()> {
        self.own_workspace(workspace)?;
        if self.table()?.delete_token(workspace, id).await? {
            Ok(())
        } else {
            Err(WorkspaceError::NotFound(format!(
                "no token {id} in workspace {workspace}"
            )))
        }
    }
}

fn to_json(v: &impl Serialize) -> WorkspaceResult<String> {
    serde_json::to_string(v).map_err(|e| StorageError::Backend(e.to_string()).into())
}

fn not_found(e: StorageError) -> WorkspaceError {
    match e {
        StorageError::NotFound(m) => WorkspaceError::NotFound(format!("no {m}")),
        e => e.into(),
    }
}

/// 1–40 of `[a-z0-9-]`, starting with a letter or digit.
pub fn is_workspace_id(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}
