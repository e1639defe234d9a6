//! S3 [`ObjectStore`]: one object per key in one bucket.
//!
//! Keys map to object keys unchanged. S3 gives most of the contract itself: a
//! `PutObject` is all-or-nothing and durable once acknowledged, and a `PutObject`
//! with `If-None-Match: *` is a conditional create (`412 Precondition Failed` when
//! the key exists). Where S3 answers a race of conditional creates with
//! `409 ConditionalRequestConflict` the create is retried, and then either wins or
//! sees the winner's object. Unlike the filesystem, S3 can hold both `a` and
//! `a/b`; the contract forbids that pair, so it never happens here either.
//!
//! A client retry of a conditional create whose first attempt did succeed (the
//! response was lost) answers `AlreadyExists`: callers treat a lost create of an
//! immutable, content-named object as done, which it is.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use aws_sdk_s3::Client;
use bytes::Bytes;

use super::{valid_key, ObjectStore, StorageError, StorageResult};

/// How often `create` retries after S3 reports a conflicting concurrent write.
const CONFLICT_RETRIES: u32 = 8;

/// Object store in an S3 bucket (or an S3-compatible emulator).
#[derive(Debug, Clone)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
}

impl S3ObjectStore {
    /// A store over an already configured client.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// A store with a client built from shared AWS settings. `path_style` puts the
    /// bucket in the path instead of the host name, which endpoint overrides
    /// (emulators such as moto, MinIO) need.
    pub fn from_sdk_config(
        sdk: &aws_config::SdkConfig,
        bucket: impl Into<String>,
        path_style: bool,
    ) -> Self {
        let conf = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .build();
        Self::new(Client::from_conf(conf), bucket)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the bucket unless it exists; `true` when this call created it.
    /// Idempotent, and safe to race with another process doing the same (in
    /// us-east-1, S3 answers the owner's repeated create with success, so racing
    /// callers may each report `true`).
    pub async fn create_bucket_if_missing(&self) -> StorageResult<bool> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => return Ok(false),
            Err(e) if status(&e) == Some(404) => {}
            Err(e) => return Err(s3_err("head bucket", &self.bucket, e)),
        }
        let mut req = self.client.create_bucket().bucket(&self.bucket);
        // us-east-1 is the one region that refuses an explicit location.
        let region = self.client.config().region().map(|r| r.as_ref().to_owned());
        if let Some(region) = region.filter(|r| r != "us-east-1") {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region.as_str()))
                    .build(),
            );
        }
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => Ok(false),
            Err(e) => Err(s3_err("create bucket", &self.bucket, e)),
        }
    }

    async fn put_object(&self, key: &str, bytes: Bytes, if_none_match: bool) -> StorageResult<()> {
        let mut attempt = 0;
        loop {
            let mut req = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(ByteStream::from(bytes.clone()));
            if if_none_match {
                req = req.if_none_match("*");
            }
            match req.send().await {
                Ok(_) => return Ok(()),
                Err(e) if if_none_match && status(&e) == Some(412) => {
                    return Err(StorageError::AlreadyExists(key.to_owned()))
                }
                // A concurrent write to the key was in flight; S3 asks to retry.
                Err(e)
                    if status(&e) == Some(409)
                        && e.code() == Some("ConditionalRequestConflict")
                        && attempt < CONFLICT_RETRIES =>
                {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) => return Err(s3_err("put", key, e)),
            }
        }
    }
}

/// Jittered exponential backoff from about 5 ms.
pub(super) fn backoff(attempt: u32) -> Duration {
    let base = 5u64 << attempt.min(6);
    Duration::from_millis(base / 2 + rand::random::<u64>() % base)
}

fn check_key(key: &str) -> StorageResult<()> {
    if valid_key(key) {
        Ok(())
    } else {
        Err(StorageError::Backend(format!("invalid object key {key:?}")))
    }
}

/// The HTTP status of a service error response, if the request got that far.
fn status<E>(e: &SdkError<E, HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// A 404 about the key, not the bucket (a missing bucket is a backend failure).
fn missing_key<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    status(e) == Some(404) && e.code() != Some("NoSuchBucket")
}

fn s3_err<E>(op: &str, key: &str, e: SdkError<E, HttpResponse>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    StorageError::Backend(format!("s3 {op} {key}: {}", sdk_error_text(&e)))
}

/// An SDK error in one line: the service's code and message when the service
/// answered, else the error and its causes (connection refused, timeout, …).
pub(super) fn sdk_error_text<E>(e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let SdkError::ServiceError(se) = e {
        let status = se.raw().status().as_u16();
        let err = se.err();
        return match (err.code(), err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message} (HTTP {status})"),
            (Some(code), None) => format!("{code} (HTTP {status})"),
            _ => format!("HTTP {status}: {err}"),
        };
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn get(&self, key: &str) -> StorageResult<Bytes> {
        check_key(key)?;
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if missing_key(&e) => return Err(StorageError::NotFound(key.to_owned())),
            Err(e) => return Err(s3_err("get", key, e)),
        };
        let body =
            out.body.collect().await.map_err(|e| {
                StorageError::Backend(format!("s3 get {key}: reading the body: {e}"))
            })?;
        Ok(body.into_bytes())
    }

    async fn put(&self, key: &str, bytes: Bytes) -> StorageResult<()> {
        check_key(key)?;
        self.put_object(key, bytes, false).await
    }

    async fn create(&self, key: &str, bytes: Bytes) -> StorageResult<()> {
        check_key(key)?;
        self.put_object(key, bytes, true).await
    }

    async fn list(&self, prefix: &str) -> StorageResult<Vec<String>> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_err("list", prefix, e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    // Objects written around this store are not keys of it.
                    .filter(|k| valid_key(k))
                    .map(str::to_owned),
            );
        }
        // S3 lists in UTF-8 byte order already; sorting keeps the contract explicit.
        keys.sort_unstable();
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> StorageResult<()> {
        check_key(key)?;
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // S3 answers 204 for a missing key; an emulator may say 404.
            Err(e) if missing_key(&e) => Ok(()),
            Err(e) => Err(s3_err("delete", key, e)),
        }
    }
}
