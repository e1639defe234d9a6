//! `mirra logs`: a session's traces, one line each, readable at a glance
//! like `stripe logs tail` (`--json`: the records, one per line). With
//! `--follow` it reads the server's Server-Sent Events and reconnects with
//! the last record it printed, so nothing is printed twice or skipped.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::time::Duration;

use serde_json::Value;

use shared::traces::sink::mirror_path;

use super::Ctx;
use crate::cli::LogsArgs;
use crate::error::CliError;

pub fn run(ctx: &Ctx, args: &LogsArgs) -> Result<(), CliError> {
    let target = ctx.target(&args.target)?;
    let filters: Vec<(&str, &str)> = [
        ("mirror", &args.mirror),
        ("status", &args.status),
        ("method", &args.method),
        ("kind", &args.kind),
        ("path", &args.path),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    .collect();
    let style = Style {
        json: args.target.out.json,
        color: !args.target.out.json
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none(),
    };

    let mut records = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut query = filters.clone();
        query.push(("limit", "1000"));
        if let Some(a) = &after {
            query.push(("after", a));
        }
        let page = ctx.on_session(&target, |c, s| {
            c.get_query(&["v1", "sessions", s, "traces"], &query)
        })?;
        let data = page.json["data"].as_array().cloned().unwrap_or_default();
        after = page.json["next"].as_str().map(str::to_string);
        records.extend(data);
        if after.is_none() {
            break;
        }
    }
    // Where a follow starts: after the last record there is, whether printed or not.
    let mut last = records
        .last()
        .and_then(|r| r["id"].as_str())
        .map_or_else(|| "tr_".to_string(), str::to_string);
    let skip = args.tail.map_or(0, |n| records.len().saturating_sub(n));
    let mut out = std::io::stdout().lock();
    for r in &records[skip..] {
        print(&mut out, r, style)?;
    }
    if !args.follow {
        return Ok(());
    }
    drop(out);
    loop {
        let stream = ctx.on_session(&target, |c, s| {
            c.stream(&["v1", "sessions", s, "traces", "stream"], &filters, &last)
        })?;
        let mut out = std::io::stdout().lock();
        let ended = read_events(BufReader::new(stream), |event, id, data| {
            match event {
                "trace" => {
                    let record: Value = serde_json::from_str(data).unwrap_or(Value::Null);
                    print(&mut out, &record, style)?;
                    if let Some(id) = id {
                        last = id.to_string();
                    }
                }
                "lagged" => eprintln!("warning: this tail fell behind; some records were skipped (mirra logs without --follow lists them)"),
                "error" => eprintln!("warning: the server's trace stream failed ({data}); reconnecting"),
                _ => {}
            }
            Ok(())
        });
        match ended {
            Ok(()) => {}
            Err(CliError::Io { .. }) => {}
            Err(e) => return Err(e),
        }
        drop(out);
        // The server closed the stream (restarting, or its source failed):
        // pick up after the last record printed.
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[derive(Clone, Copy)]
struct Style {
    json: bool,
    color: bool,
}

/// Calls `each(event, id, data)` for every event of a Server-Sent Events
/// stream until it ends.
fn read_events(
    reader: impl BufRead,
    mut each: impl FnMut(&str, Option<&str>, &str) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let (mut event, mut id, mut data) = (String::new(), None::<String>, String::new());
    for line in reader.lines() {
        let line = line.map_err(|e| CliError::io("reading the trace stream", e))?;
        if line.is_empty() {
            if !data.is_empty() || !event.is_empty() {
                let kind = if event.is_empty() { "message" } else { &event };
                each(kind, id.as_deref(), &data)?;
            }
            (event, id, data) = (String::new(), None, String::new());
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((&line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = value.to_string(),
            "id" => id = Some(value.to_string()),
            "data" => {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value);
            }
            _ => {} // a comment (keep-alive) or a field we do not use
        }
    }
    Ok(())
}

fn print(out: &mut impl Write, record: &Value, style: Style) -> Result<(), CliError> {
    let line = if style.json {
        record.to_string()
    } else {
        human(record, style.color)
    };
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| CliError::io("writing to stdout", e))
}

/// One record as a line: time, status, method, the mirror's own path, the
/// mirror, latency and request id for a request; the event and what it says
/// for the rest.
pub fn human(r: &Value, color: bool) -> String {
    let time = r["time"]
        .as_str()
        .map(|t| t.replacen('T', " ", 1).trim_end_matches('Z').to_string())
        .unwrap_or_default();
    let kind = r["kind"].as_str().unwrap_or("?");
    let mirror = r["mirror"].as_str().unwrap_or("");
    let status = r["status"]
        .as_u64()
        .map(|s| paint(&format!("[{s}]"), s, color));
    let latency = r["latency_us"]
        .as_u64()
        .map(|us| format!("{:.1} ms", us as f64 / 1000.0));
    let mut parts: Vec<String> = vec![time];
    if kind == "request" {
        let path = r["path"].as_str().map(mirror_path).unwrap_or_default();
        let query = r["query"]
            .as_str()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        parts.extend(status);
        parts.push(format!(
            "{} {path}{query}",
            r["method"].as_str().unwrap_or("?")
        ));
        parts.push(mirror.to_string());
        parts.extend(latency);
        if let Some(id) = r["request_id"].as_str() {
            parts.push(format!("[{id}]"));
        }
        let raised: Vec<&str> = r["events"]
            .as_array()
            .map(|e| e.iter().filter_map(|e| e["type"].as_str()).collect())
            .unwrap_or_default();
        if !raised.is_empty() {
            parts.push(format!("→ {}", raised.join(", ")));
        }
    } else {
        parts.push(kind.to_string());
        parts.extend(status);
        if !mirror.is_empty() {
            parts.push(mirror.to_string());
        }
        let d = &r["detail"];
        if let Some(url) = d["url"].as_str() {
            parts.push(format!("→ {url}"));
            if let Some(n) = d["attempt"].as_u64() {
                parts.push(format!("attempt {n}"));
            }
            parts.extend(latency);
        } else if d.is_object() {
            parts.push(d.to_string());
        }
    }
    parts.retain(|p| !p.is_empty());
    parts.join("  ")
}

fn paint(text: &str, status: u64, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let code = match status {
        200..=299 => "32",
        400..=499 => "33",
        500.. => "31",
        _ => "0",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_reads_as_one_line() {
        let r = json!({"kind": "request", "time": "2026-12-04T06:43:49.160Z", "status": 402,
            "method": "POST", "path": "/m/ses_ab12/stripe/v1/payment_intents", "query": null,
            "mirror": "stripe", "latency_us": 1530, "request_id": "req_1",
            "events": [{"id": "evt_1", "type": "payment_intent.created"},
                       {"id": "evt_2", "type": "payment_intent.payment_failed"}]});
        assert_eq!(
            human(&r, false),
            "2026-12-04 06:43:49.160  [402]  POST /v1/payment_intents  stripe  1.5 ms  [req_1]  → payment_intent.created, payment_intent.payment_failed"
        );
        assert!(human(&r, true).contains("\x1b[33m[402]\x1b[0m"));
    }

    #[test]
    fn events_read_with_what_they_say() {
        let hook = json!({"kind": "webhook.failed", "time": "2026-12-04T06:43:49.160Z",
            "status": 500, "mirror": "stripe", "latency_us": 3000,
            "detail": {"url": "http://localhost:9/hook", "attempt": 2}});
        assert_eq!(
            human(&hook, false),
            "2026-12-04 06:43:49.160  webhook.failed  [500]  stripe  → http://localhost:9/hook  attempt 2  3.0 ms"
        );
        let reset = json!({"kind": "state.reset", "time": "2026-12-04T06:43:49.160Z",
            "detail": {"seeds": {"stripe": "default"}}});
        assert_eq!(
            human(&reset, false),
            r#"2026-12-04 06:43:49.160  state.reset  {"seeds":{"stripe":"default"}}"#
        );
    }

    #[test]
    fn server_sent_events_are_read_field_by_field() {
        let text =
            ": keep-alive\n\nid: tr_1\nevent: trace\ndata: {\"a\":1}\n\nevent: lagged\ndata: x\n\n";
        let mut seen = Vec::new();
        read_events(text.as_bytes(), |e, id, d| {
            seen.push((e.to_string(), id.map(str::to_string), d.to_string()));
            Ok(())
        })
        .expect("read");
        assert_eq!(
            seen,
            [
                ("trace".into(), Some("tr_1".into()), "{\"a\":1}".into()),
                ("lagged".into(), None, "x".into())
            ]
        );
    }
}
