//! The contract of [`TraceSink`](super::TraceSink), checked against any
//! implementation: every sink's tests call [`run`] with a fresh, empty one.

use super::record::{RaisedEvent, TraceRecord};
use super::sink::{TraceQuery, TraceSink};

/// A request record of `session` (what sink tests store).
pub fn record(session: &str, id: &str, time_ms: i64, status: u16, mirror: &str) -> TraceRecord {
    TraceRecord {
        id: id.to_string(),
        incarnation: Some("inc".into()),
        workspace: Some("ws".into()),
        mirror: Some(mirror.into()),
        method: Some("POST".into()),
        path: Some(format!("/m/{session}/{mirror}/v1/customers")),
        status: Some(status),
        latency_us: Some(100),
        request_body: Some("email=a%40test.dev".into()),
        response_body: Some("{}".into()),
        ..TraceRecord::new("request", session, time_ms)
    }
}

/// Runs every check of the contract on `sink`, which must start empty.
pub async fn run(sink: &dyn TraceSink) {
    let day = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    let a = record(
        "ses_aaaa",
        "tr_0000000000001aaaaaaaa",
        day - 1,
        200,
        "stripe",
    );
    let mut b = record(
        "ses_aaaa",
        "tr_0000000000002aaaaaaaa",
        day + 1,
        402,
        "stripe",
    );
    b.events = vec![RaisedEvent {
        id: "evt_1".into(),
        kind: "payment_intent.payment_failed".into(),
    }];
    let c = record(
        "ses_aaaa",
        "tr_0000000000003aaaaaaaa",
        day + 2,
        201,
        "resend",
    );
    let other = record(
        "ses_bbbb",
        "tr_0000000000004bbbbbbbb",
        day + 3,
        200,
        "stripe",
    );
    sink.append(&[a.clone(), b.clone()]).await.expect("append");
    sink.append(&[c.clone(), other.clone(), b.clone()])
        .await
        .expect("append again");

    let q = |limit| TraceQuery {
        session: "ses_aaaa".into(),
        limit,
        ..TraceQuery::default()
    };
    let all = sink.list(&q(10)).await.expect("list");
    assert_eq!(
        all.data.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [a.id.as_str(), b.id.as_str(), c.id.as_str()],
        "one session's records in id order, a repeated append listed once"
    );
    assert_eq!(all.data[1], b, "a record reads back as it was written");
    assert_eq!(all.next, None);

    let first = sink.list(&q(2)).await.expect("page");
    assert_eq!(first.data.len(), 2);
    assert_eq!(first.next.as_deref(), Some(b.id.as_str()));
    let rest = sink
        .list(&TraceQuery {
            after: first.next.clone(),
            ..q(2)
        })
        .await
        .expect("next page");
    assert_eq!(rest.data, vec![c.clone()]);
    assert_eq!(rest.next, None);

    let failed = sink
        .list(&TraceQuery {
            status: Some("4xx".into()),
            ..q(10)
        })
        .await
        .expect("by status class");
    assert_eq!(failed.data, vec![b.clone()]);
    let resend = sink
        .list(&TraceQuery {
            mirror: Some("resend".into()),
            ..q(10)
        })
        .await
        .expect("by mirror");
    assert_eq!(resend.data, vec![c.clone()]);
    let since = sink
        .list(&TraceQuery {
            since_ms: Some(day),
            ..q(10)
        })
        .await
        .expect("by time");
    assert_eq!(since.data.len(), 2);

    for prefix in ["/m/ses_aaaa/resend/v1/cus", "/v1/customers"] {
        let by_path = sink
            .list(&TraceQuery {
                path_prefix: Some(prefix.into()),
                mirror: Some("resend".into()),
                ..q(10)
            })
            .await
            .expect("by path");
        assert_eq!(by_path.data, vec![c.clone()], "{prefix}");
    }
    let elsewhere = sink
        .list(&TraceQuery {
            path_prefix: Some("/v1/charges".into()),
            ..q(10)
        })
        .await
        .expect("by path");
    assert!(elsewhere.data.is_empty());

    assert_eq!(sink.get("ses_aaaa", &c.id).await.expect("get"), Some(c));
    assert_eq!(
        sink.get("ses_aaaa", &other.id).await.expect("get"),
        None,
        "another session's"
    );
    assert_eq!(sink.get("ses_aaaa", "tr_nothing").await.expect("get"), None);
}
