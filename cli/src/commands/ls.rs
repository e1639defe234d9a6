//! `mirra ls`: the workspace's sessions as a table, every page of them.

use serde_json::Value;

use super::{Ctx, Output};
use crate::cli::LsArgs;
use crate::error::CliError;
use crate::output::{field, fmt_expires, now_unix, table};

pub fn run(ctx: &Ctx, args: &LsArgs) -> Result<Output, CliError> {
    let filters: Vec<(&str, &str)> = [
        ("status", &args.status),
        ("mode", &args.mode),
        ("name", &args.name),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    .collect();
    let list = ctx.client.get_all(&["v1", "sessions"], &filters)?;
    Ok(Output {
        human: human(&list, now_unix()),
        body: list,
    })
}

fn human(list: &Value, now: i64) -> String {
    let sessions = list
        .get("data")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if sessions.is_empty() {
        return "no live sessions; start one with `mirra up`\n".to_string();
    }
    let mut rows = vec![["ID", "NAME", "MODE", "STATUS", "MIRRORS", "EXPIRES"]
        .map(String::from)
        .to_vec()];
    for s in sessions {
        let mirrors = s
            .get("mirrors")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect::<Vec<_>>().join(","))
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "-".to_string());
        rows.push(vec![
            field(s, "id"),
            field(s, "name"),
            field(s, "mode"),
            field(s, "status"),
            mirrors,
            fmt_expires(s.get("expires_at"), now, false),
        ]);
    }
    table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_has_one_row_per_session() {
        let list = json!({"object":"list","data":[
            {"id":"ses_ab12","name":null,"mode":"ephemeral","status":"active","expires_at":3600,"mirrors":{"stripe":{}}},
            {"id":"ses_cd34","name":"keep","mode":"persistent","status":"active","expires_at":null,"mirrors":{"resend":{},"stripe":{}}}
        ]});
        assert_eq!(
            human(&list, 0),
            "ID        NAME  MODE        STATUS  MIRRORS        EXPIRES\n\
             ses_ab12  -     ephemeral   active  stripe         in 1h00m\n\
             ses_cd34  keep  persistent  active  resend,stripe  never\n"
        );
        assert!(human(&json!({"object":"list","data":[]}), 0).contains("mirra up"));
    }
}
