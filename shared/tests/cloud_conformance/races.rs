//! Races between two clients of one bucket or table: one winner each.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_creates_racing_from_two_clients_have_one_winner() {
    let Some(url) = endpoint() else { return };
    let one = Arc::new(bucket(&url).await);
    let two = Arc::new(same_bucket(&url, &one).await);
    conformance::object_store_create_race(one.clone(), two, 10).await;
    drop_bucket(&one).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_appends_racing_from_two_clients_have_one_winner() {
    let Some(url) = endpoint() else { return };
    let one = Arc::new(table(&url).await);
    let two = Arc::new(same_table(&url, &one).await);
    let r = row("ses_race", "ws_race", None, None);
    one.create_session(&r).await.expect("create");
    let key = log_key(&r, "stripe");
    for seq in 1..=8u64 {
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let t = Arc::clone(if i % 2 == 0 { &one } else { &two });
                let key = key.clone();
                tokio::spawn(async move { t.append_log(&key, seq, &[i as u8]).await })
            })
            .collect();
        let mut winners = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.expect("task") {
                Ok(()) => winners.push(i),
                Err(StorageError::AlreadyExists(_)) => {}
                Err(e) => panic!("append {i} of seq {seq} failed with {e:?}, not AlreadyExists"),
            }
        }
        assert_eq!(winners.len(), 1, "seq {seq}: winners {winners:?}");
        let log = two.read_log(&key, seq - 1).await.expect("read");
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].entry, [winners[0] as u8], "the winner's entry");
    }
    drop_table(&one).await;
}

/// Schedules of one (session, mirror) racing from two clients in spawned
/// tasks: the entry ends at the earliest time, whose call reports it stored it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_schedules_racing_from_two_clients_keep_the_earliest() {
    let Some(url) = endpoint() else { return };
    let one = Arc::new(table(&url).await);
    let two = Arc::new(same_table(&url, &one).await);
    let r = row("ses_due", "ws_due", None, None);
    one.create_session(&r).await.expect("create");
    for round in 0..4i64 {
        let mirror = format!("m{round}");
        // A different task is earliest each round.
        let time = move |i: i64| 1_000 + (i + 5 * round) % 12;
        let tasks: Vec<_> = (0..12i64)
            .map(|i| {
                let t = Arc::clone(if i % 2 == 0 { &one } else { &two });
                let (id, inc, mirror) = (r.id.clone(), r.incarnation.clone(), mirror.clone());
                tokio::spawn(async move { t.schedule_due(&id, &inc, &mirror, time(i)).await })
            })
            .collect();
        let mut stored = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.expect("task") {
                Ok(s) => stored.push((time(i as i64), s)),
                Err(e) => panic!("schedule {i} of round {round} failed with {e:?}"),
            }
        }
        assert!(
            stored.contains(&(1_000, true)),
            "round {round}: the earliest schedule reports it stored its time: {stored:?}"
        );
        let entries = two.due_before(i64::MAX, 100).await.expect("due_before");
        let ours: Vec<i64> = entries
            .iter()
            .filter(|w| w.mirror == mirror)
            .map(|w| w.due_at_ms)
            .collect();
        assert_eq!(
            ours,
            [1_000],
            "round {round}: one entry, at the earliest time"
        );
    }
    drop_table(&one).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_creates_of_one_name_racing_from_two_clients_have_one_winner() {
    let Some(url) = endpoint() else { return };
    let one = Arc::new(table(&url).await);
    let two = Arc::new(same_table(&url, &one).await);
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let t = Arc::clone(if i % 2 == 0 { &one } else { &two });
            tokio::spawn(async move {
                t.create_session(&row(&format!("ses_n{i}"), "ws", Some("nightly"), None))
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.expect("task") {
            Ok(()) => winners.push(i),
            Err(StorageError::AlreadyExists(_)) => {}
            Err(e) => panic!("create {i} failed with {e:?}, not AlreadyExists"),
        }
    }
    assert_eq!(winners.len(), 1, "winners {winners:?}");
    let found = one.find_session("ws", "nightly").await.expect("find");
    assert_eq!(found.id, format!("ses_n{}", winners[0]));
    assert_eq!(
        one.list_sessions("ws", None, usize::MAX)
            .await
            .expect("list")
            .len(),
        1
    );
    drop_table(&one).await;
}
