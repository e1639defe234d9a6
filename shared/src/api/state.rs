//! What every control-plane handler shares.

use crate::traces::Traces;
use std::collections::HashMap;
use std::sync::Arc;

use crate::mirrors::Mirror;
use crate::session::Sessions;

#[derive(Clone)]
pub struct AppState {
    pub sessions: Arc<Sessions>,
    /// Workspace token → workspace name.
    pub tokens: Arc<HashMap<String, String>>,
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

    /// A single-workspace state, as `mirra serve` runs it.
    pub fn new(
        sessions: Arc<Sessions>,
        token: &str,
        workspace: &str,
        public_url: &str,
        mirrors: Vec<Mirror>,
    ) -> Self {
        let tokens = HashMap::from([(token.to_string(), workspace.to_string())]);
        AppState {
            sessions,
            tokens: Arc::new(tokens),
            public_url: public_url.trim_end_matches('/').to_string(),
            mirrors,
            traces: None,
        }
    }
}
