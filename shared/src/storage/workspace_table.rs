//! Workspaces and their API tokens, for hosted use: who may call the control
//! plane, for which workspace, with what plan. Stored beside the sessions
//! (the same SQLite file, the same DynamoDB table), behind their own trait.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StorageResult;

/// One workspace. `body` is its JSON (plan, limits), opaque to storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceRow {
    /// The workspace's name, unique: `acme`, `team-a`.
    pub id: String,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    pub body: String,
}

/// One API token of a workspace, as stored: its digest, never the token.
/// `body` is its JSON (name, scope, last four characters), opaque to storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    /// `tok_…`, what lists show and revoking names.
    pub id: String,
    pub workspace: String,
    pub digest: TokenDigest,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    pub body: String,
}

/// A token as the table keeps it: the SHA-256 (hex) of the token. Tokens are
/// 190 random bits, so a plain digest cannot be reversed or guessed, and a
/// lookup is one key read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TokenDigest(String);

impl TokenDigest {
    pub fn of(token: &str) -> Self {
        TokenDigest(hex::encode(Sha256::digest(token.as_bytes())))
    }

    /// 64 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A digest a backend stored (from [`as_str`](Self::as_str)).
    pub(crate) fn from_stored(digest: String) -> Self {
        TokenDigest(digest)
    }
}

/// Workspaces and their tokens (SQLite, DynamoDB).
///
/// Contract (checked by [`conformance::workspace_table`](super::conformance::workspace_table)):
/// * `create_workspace(ws, token)` stores a workspace with its first token in
///   one atomic step. It is a conditional create: `AlreadyExists` when the id
///   is taken, or the token's digest is, or its id in that workspace; then
///   nothing is stored. Of concurrent creates of one id exactly one succeeds.
/// * `get_workspace` of a missing id fails with `NotFound`. `put_workspace`
///   replaces an existing workspace and fails with `NotFound` when there is
///   none; it never creates.
/// * `list_workspaces(after, limit)` returns up to `limit` workspaces with
///   ids above `after` (all with `None`), ordered by id.
/// * `create_token` needs its workspace (`NotFound` without it, nothing
///   stored) and fails with `AlreadyExists` when its digest, or its id in
///   that workspace, is taken.
/// * `find_token(digest)` returns the token with that digest, or `NotFound`
///   (also once it is deleted: revoking takes effect at once).
/// * `list_tokens(ws)` returns the workspace's tokens, ordered by id.
/// * `delete_token(ws, id)` deletes that token of that workspace and returns
///   `true`; it returns `false` and changes nothing when the workspace has
///   no such token (another workspace's token id deletes nothing).
#[async_trait]
pub trait WorkspaceTable: Send + Sync + 'static {
    async fn create_workspace(&self, ws: &WorkspaceRow, token: &TokenRow) -> StorageResult<()>;
    async fn get_workspace(&self, id: &str) -> StorageResult<WorkspaceRow>;
    async fn put_workspace(&self, ws: &WorkspaceRow) -> StorageResult<()>;
    async fn list_workspaces(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StorageResult<Vec<WorkspaceRow>>;
    async fn create_token(&self, token: &TokenRow) -> StorageResult<()>;
    async fn find_token(&self, digest: &TokenDigest) -> StorageResult<TokenRow>;
    async fn list_tokens(&self, workspace: &str) -> StorageResult<Vec<TokenRow>>;
    async fn delete_token(&self, workspace: &str, id: &str) -> StorageResult<bool>;
}
