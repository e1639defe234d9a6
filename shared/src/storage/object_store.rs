//! Object storage for images and snapshots: immutable blobs under string keys.

use async_trait::async_trait;
use bytes::Bytes;

use super::StorageResult;

/// A flat key → bytes store (local filesystem, S3).
///
/// Keys are `/`-separated paths of `[A-Za-z0-9._-]` segments (no empty, `.` or `..`
/// segments); implementations reject other keys with `Backend`. No key may be a
/// path prefix of another (`a` and `a/b`): the filesystem cannot hold both.
///
/// Contract (checked by [`conformance::object_store`](super::conformance::object_store)):
/// * `put` is atomic: a concurrent or later `get` sees either the old bytes or the
///   new bytes in full, never a prefix; once `put` returns, the bytes survive a crash.
/// * `create` is a conditional create: it stores the bytes only when the key does
///   not exist and otherwise fails with `AlreadyExists` leaving the old bytes; of
///   many concurrent `create`s of one key exactly one succeeds.
/// * `get` of a missing key fails with `NotFound`.
/// * `list` returns every key starting with `prefix`, sorted ascending.
/// * `delete` removes the key; deleting a missing key is not an error.
#[async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    async fn get(&self, key: &str) -> StorageResult<Bytes>;
    async fn put(&self, key: &str, bytes: Bytes) -> StorageResult<()>;
    async fn create(&self, key: &str, bytes: Bytes) -> StorageResult<()>;
    async fn list(&self, prefix: &str) -> StorageResult<Vec<String>>;
    async fn delete(&self, key: &str) -> StorageResult<()>;
}

/// True when `key` is a key every backend accepts (see [`ObjectStore`]).
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}
