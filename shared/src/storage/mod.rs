//! Durable storage behind two traits: [`ObjectStore`] (images, snapshots) and
//! [`SessionTable`] (sessions, commit log, tombstones, snapshot index, due-work
//! index, usage) and [`WorkspaceTable`] (workspaces, API tokens). The embedded defaults are
//! [`fs::FsObjectStore`] and [`sqlite::SqliteSessionTable`]; every implementation
//! runs the suites in [`conformance`].

pub mod conformance;
pub mod dynamodb;
mod error;
pub mod fs;
mod object_store;
pub mod s3;
mod session_table;
pub mod sqlite;
mod workspace_table;

pub use error::{StorageError, StorageResult};
pub use object_store::{valid_key, ObjectStore};
pub use session_table::{
    Checkpoint, CredentialKey, CredentialOwner, DueWork, LogKey, LogRecord, SessionRow,
    SessionTable, SnapshotQuery, SnapshotRow, Tombstone, UsageCharge,
};
pub use workspace_table::{TokenDigest, TokenRow, WorkspaceRow, WorkspaceTable};
