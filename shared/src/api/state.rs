//! What every control-plane handler shares.

use crate::traces::Traces;
use std::sync::Arc;

use crate::mirrors::Mirror;
use crate::session::Sessions;
use crate::storage::WorkspaceTable;
use crate::workspace::Workspaces;

#[derive(Clone)]
pub struct AppState {
    pub sessions: Arc<Sessions>,
    /// Who a bearer token is: the operator, or a workspace's token.
    pub workspaces: Arc<Workspaces>,
    /// Where clients reach this server, e.g. `http://127.0.0.1:4400`; mirror URLs
    /// in session JSON are built from it.
    pub public_url: String,
    pub mirrors: Vec<Mirror>,
    /// Where mirror requests are traced; `None` records nothing.
    pub traces: Option<Arc<Traces>>,
}

impl AppState {
    /// The same state, tracing every mirror request into `traces`.
    pub fn with_traces(mut self, traces: Arc<Traces>) -> Self {
        self.traces = Some(traces);
        self
    }

    /// Workspaces beside the operator's, kept in `table` (hosted use).
    pub fn with_workspace_table(mut self, table: Arc<dyn WorkspaceTable>) -> Self {
        self.workspaces = Arc::new((*self.workspaces).clone().with_table(table));
        self
    }

    /// A single-workspace state: `token` reaches `workspace`, with no limits.
    pub fn new(
        sessions: Arc<Sessions>,
        token: &str,
        workspace: &str,
        public_url: &str,
        mirrors: Vec<Mirror>,
    ) -> Self {
        let workspaces = Workspaces::single(token, workspace, sessions.clock().clone());
        AppState {
            sessions,
            workspaces: Arc::new(workspaces),
            public_url: public_url.trim_end_matches('/').to_string(),
            mirrors,
            traces: None,
        }
    }
}
