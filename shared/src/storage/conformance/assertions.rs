//! Helpers of every suite: run ids, joint awaits and assertions that name
//! the broken contract point.

use super::*;

pub(super) fn run_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Awaits all futures together, polling each in turn, and returns their outputs
/// in order. (The suites borrow the backend, so they cannot `tokio::spawn`.)
pub(super) async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *output = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// Short form of a result for messages: payloads can be megabytes.
pub(super) fn describe<T>(r: &StorageResult<T>) -> String {
    match r {
        Ok(_) => "Ok(..)".into(),
        Err(e) => format!("Err({e:?})"),
    }
}

#[track_caller]
pub(super) fn assert_not_found<T>(r: StorageResult<T>, what: &str) {
    assert!(
        matches!(r, Err(StorageError::NotFound(_))),
        "{what}: expected NotFound, got {}",
        describe(&r)
    );
}

#[track_caller]
pub(super) fn assert_exists<T>(r: StorageResult<T>, what: &str) {
    assert!(
        matches!(r, Err(StorageError::AlreadyExists(_))),
        "{what}: expected AlreadyExists, got {}",
        describe(&r)
    );
}

#[track_caller]
pub(super) fn assert_backend<T>(r: StorageResult<T>, what: &str) {
    assert!(
        matches!(r, Err(StorageError::Backend(_))),
        "{what}: expected a Backend error, got {}",
        describe(&r)
    );
}

#[track_caller]
pub(super) fn assert_bytes(r: StorageResult<Bytes>, expected: &[u8], what: &str) {
    match r {
        Ok(got) => assert!(
            got == expected,
            "{what}: got {} bytes, expected {} bytes{}",
            got.len(),
            expected.len(),
            if got.len() < 64 && expected.len() < 64 {
                format!(" ({got:?} vs {:?})", Bytes::copy_from_slice(expected))
            } else {
                String::new()
            }
        ),
        Err(e) => panic!("{what}: expected {} bytes, got Err({e:?})", expected.len()),
    }
}

#[track_caller]
pub(super) fn assert_log(r: StorageResult<Vec<LogRecord>>, expected: &[LogRecord], what: &str) {
    let got = match r {
        Ok(got) => got,
        Err(e) => panic!("{what}: read_log failed: {e:?}"),
    };
    let summary = |v: &[LogRecord]| {
        v.iter()
            .map(|r| format!("{}:{}B", r.seq, r.entry.len()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    assert!(
        got == expected,
        "{what}: got [{}], expected [{}] (seq:size; entries compared byte for byte)",
        summary(&got),
        summary(expected)
    );
}

/// Checks a race of conditional writes: exactly one `Ok`, every other result
/// `AlreadyExists`. Returns the winner's index.
#[track_caller]
pub(super) fn one_winner<T>(results: &[StorageResult<T>], what: &str) -> usize {
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert!(
        winners.len() == 1,
        "{what}: expected exactly one success, got {} (winners {winners:?})",
        winners.len()
    );
    for (i, r) in results.iter().enumerate() {
        if i != winners[0] {
            assert!(
                matches!(r, Err(StorageError::AlreadyExists(_))),
                "{what}: loser {i} must fail with AlreadyExists, got {}",
                describe(r)
            );
        }
    }
    winners[0]
}

#[track_caller]
pub(super) fn assert_flag(r: StorageResult<bool>, expected: bool, what: &str) {
    assert!(
        matches!(r, Ok(v) if v == expected),
        "{what}: expected Ok({expected}), got {r:?}"
    );
}

#[track_caller]
pub(super) fn assert_checkpoint(
    r: StorageResult<Option<Checkpoint>>,
    expected: Option<&Checkpoint>,
    what: &str,
) {
    match r {
        Ok(got) => assert!(
            got.as_ref() == expected,
            "{what}: got checkpoint {got:?}, expected {expected:?}"
        ),
        Err(e) => panic!("{what}: checkpoint failed: {e:?}"),
    }
}

/// A whole-log read under checkpoint `checkpoint`: every entry of `before` from
/// the checkpoint's own on, and of the older ones any (deleting them is the
/// backend's choice, at once or later), each unchanged and in order.
#[track_caller]
pub(super) fn assert_log_from_checkpoint(
    r: StorageResult<Vec<LogRecord>>,
    before: &[LogRecord],
    checkpoint: u64,
    what: &str,
) {
    let got = match r {
        Ok(got) => got,
        Err(e) => panic!("{what}: read_log failed: {e:?}"),
    };
    let kept: Vec<u64> = got
        .iter()
        .map(|r| r.seq)
        .filter(|&s| s < checkpoint)
        .collect();
    let expected: Vec<LogRecord> = before
        .iter()
        .filter(|r| r.seq >= checkpoint || kept.contains(&r.seq))
        .cloned()
        .collect();
    assert_log(
        Ok(got),
        &expected,
        &format!(
            "{what} (entries from checkpoint {checkpoint} on must all be there; \
             older ones may be gone)"
        ),
    );
}
