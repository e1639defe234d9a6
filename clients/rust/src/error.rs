//! Errors of the client: the server refused (its status and `code`), or could
//! not be reached or started.

/// What a call to the control plane can end in.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The control plane answered 4xx/5xx with its JSON error.
    #[error("{status} from Mirra: {message}")]
    Refused {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// No server answered, or its answer was not Mirra's JSON.
    #[error("Mirra at {url} could not be reached: {reason}")]
    Unreachable { url: String, reason: String },
    /// No server to use, and none could be started.
    #[error("{0}")]
    NoServer(String),
}

impl Error {
    /// The HTTP status of a refusal, if it was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}
