//! `mirra snapshot`, `mirra snapshots [rm]` and `mirra restore`.

use serde_json::{json, Value};

use super::{session_label, Ctx, Output};
use crate::cli::{RestoreArgs, SnapshotArgs, SnapshotsArgs, SnapshotsRmArgs};
use crate::error::CliError;
use crate::output::{field, fmt_bytes, fmt_ms, fmt_unix, table};

pub fn create(ctx: &Ctx, args: &SnapshotArgs) -> Result<Output, CliError> {
    let target = ctx.target(&args.target)?;
    let body = json!({"keep": args.keep});
    let snap = ctx.on_session(&target, |c, s| {
        c.post(&["v1", "sessions", s, "snapshots"], &body)
    })?;
    Ok(Output {
        human: created(&snap),
        body: snap,
    })
}

pub fn list(ctx: &Ctx, args: &SnapshotsArgs) -> Result<Output, CliError> {
    let list = if args.all {
        ctx.client.get_all(&["v1", "snapshots"], &[])?
    } else {
        let target = ctx.target(&args.target)?;
        ctx.on_session(&target, |c, s| {
            c.get_all(&["v1", "sessions", s, "snapshots"], &[])
        })?
    };
    Ok(Output {
        human: listed(&list),
        body: list,
    })
}

/// Deletes each snapshot in turn; stops at the first failure, having said
/// which ones are already deleted.
pub fn remove(ctx: &Ctx, args: &SnapshotsRmArgs) -> Result<Output, CliError> {
    let mut human = String::new();
    let mut deleted = Vec::new();
    for id in &args.ids {
        match ctx.client.delete(&["v1", "snapshots", id]) {
            Ok(reply) => {
                human.push_str(&format!("deleted {id}\n"));
                deleted.push(reply.json);
            }
            Err(e) => {
                if !deleted.is_empty() {
                    eprint!("{human}");
                }
                return Err(e);
            }
        }
    }
    let body = if deleted.len() == 1 {
        deleted.remove(0)
    } else {
        json!({"object": "list", "data": deleted, "has_more": false})
    };
    Ok(Output {
        human,
        body: crate::client::Reply::from_json(body),
    })
}

pub fn restore(ctx: &Ctx, args: &RestoreArgs) -> Result<Output, CliError> {
    let target = ctx.target(&args.target)?;
    let body = json!({"snapshot": args.snapshot});
    let report = ctx.on_session(&target, |c, s| {
        c.post(&["v1", "sessions", s, "restore"], &body)
    })?;
    Ok(Output {
        human: restored(&report),
        body: report,
    })
}

/// `stripe 143.4 KB, resend 12 B`: what each snapshot holds, in one cell.
fn mirror_sizes(snap: &Value) -> String {
    snap.get("mirrors")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(name, v)| match v.get("bytes").and_then(Value::as_u64) {
                    Some(b) => format!("{name} {}", fmt_bytes(b)),
                    None => name.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".to_string())
}

fn created_at(snap: &Value) -> String {
    snap.get("created_at")
        .and_then(Value::as_i64)
        .map_or_else(|| "-".to_string(), fmt_unix)
}

fn created(snap: &Value) -> String {
    let id = field(snap, "id");
    let mut out = table(&[
        vec!["snapshot".into(), id.clone()],
        vec![
            "session".into(),
            session_label(snap, "session", "session_name"),
        ],
        vec!["created".into(), created_at(snap)],
        vec!["mirrors".into(), mirror_sizes(snap)],
    ]);
    out.push_str(&format!(
        "\nrestore it with: mirra restore --snapshot {id}\n"
    ));
    out
}

fn listed(list: &Value) -> String {
    let snaps = list
        .get("data")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if snaps.is_empty() {
        return "no snapshots; take one with `mirra snapshot`\n".to_string();
    }
    let mut rows = vec![["ID", "SESSION", "CREATED", "KEEP", "MIRRORS"]
        .map(String::from)
        .to_vec()];
    for s in snaps {
        let keep = if s.get("keep").and_then(Value::as_bool) == Some(true) {
            "yes"
        } else {
            "no"
        };
        rows.push(vec![
            field(s, "id"),
            session_label(s, "session", "session_name"),
            created_at(s),
            keep.to_string(),
            mirror_sizes(s),
        ]);
    }
    table(&rows)
}

fn restored(r: &Value) -> String {
    let mut out = format!(
        "restored {} from {} in {}\n",
        field(r, "session"),
        field(r, "snapshot"),
        fmt_ms(r.get("total_ms").and_then(Value::as_f64))
    );
    if let Some(mirrors) = r.get("mirrors").and_then(Value::as_object) {
        let mut rows = vec![vec!["MIRROR".to_string(), "TIME".to_string()]];
        for (name, ms) in mirrors {
            rows.push(vec![name.clone(), fmt_ms(ms.as_f64())]);
        }
        out.push_str(&table(&rows));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap() -> Value {
        json!({"id":"snap_x1","workspace":"local","session":"ses_ab12","session_name":"ci",
               "created_at":0,"mirrors":{"stripe":{"seed":"default","object":"o","bytes":143360}}})
    }

    #[test]
    fn created_output_tells_how_to_restore() {
        let out = created(&snap());
        assert!(
            out.starts_with(
                "snapshot  snap_x1\nsession   ses_ab12 (ci)\ncreated   1970-01-01 00:00:00 UTC\n"
            ),
            "{out}"
        );
        assert!(out.contains("mirrors   stripe 143.4 KB\n"), "{out}");
        assert!(out.ends_with("mirra restore --snapshot snap_x1\n"), "{out}");
    }

    #[test]
    fn list_and_restore_outputs() {
        let out = listed(&json!({"object":"list","data":[snap()]}));
        assert_eq!(
            out,
            "ID       SESSION        CREATED                  KEEP  MIRRORS\n\
             snap_x1  ses_ab12 (ci)  1970-01-01 00:00:00 UTC  no    stripe 143.4 KB\n"
        );
        let r = json!({"session":"ses_ab12","snapshot":"snap_x1","mirrors":{"stripe":0.41},"total_ms":0.9});
        assert_eq!(
            restored(&r),
            "restored ses_ab12 from snap_x1 in 0.90 ms\nMIRROR  TIME\nstripe  0.41 ms\n"
        );
    }
}
