//! `mirra workspaces …` and `mirra tokens …`: hosted use's workspaces and
//! their API tokens, a thin edge over `/v1/workspaces` and `/v1/tokens`.

use serde_json::{json, Map, Value};

use super::{Ctx, Output};
use crate::cli::{Limit, LimitArgs, TokensAction, WorkspacesAction};
use crate::error::CliError;
use crate::output::{field, table};

pub fn workspaces(ctx: &Ctx, action: &WorkspacesAction) -> Result<Output, CliError> {
    let c = &ctx.client;
    let (body, human) = match action {
        WorkspacesAction::Create {
            id, plan, limits, ..
        } => {
            let body = json!({"id": id, "plan": plan.as_str(), "limits": limit_changes(limits)});
            let ws = c.post(&["v1", "workspaces"], &body)?;
            let human = format!(
                "{}\nadmin token (shown once; keep it secret):\n  {}\n",
                workspace_table(&ws).trim_end(),
                field(&ws["token"], "token")
            );
            (ws, human)
        }
        WorkspacesAction::Ls { .. } => {
            let list = c.get_all(&["v1", "workspaces"], &[])?;
            let mut rows = vec![vec![
                "ID".into(),
                "PLAN".into(),
                "CONCURRENT".into(),
                "MINUTES/MONTH".into(),
                "CREATED".into(),
            ]];
            for w in list["data"].as_array().into_iter().flatten() {
                rows.push(vec![
                    field(w, "id"),
                    field(w, "plan"),
                    limit(&w["limits"], "concurrent_sessions"),
                    limit(&w["limits"], "minutes_per_month"),
                    field(w, "created_at"),
                ]);
            }
            (list, table(&rows))
        }
        WorkspacesAction::Show { id, .. } => {
            let ws = c.get(&["v1", "workspaces", id])?;
            let human = workspace_table(&ws);
            (ws, human)
        }
        WorkspacesAction::Set {
            id, plan, limits, ..
        } => {
            let mut body = json!({"limits": limit_changes(limits)});
            if let Some(p) = plan {
                body["plan"] = p.as_str().into();
            }
            let ws = c.post(&["v1", "workspaces", id], &body)?;
            let human = workspace_table(&ws);
            (ws, human)
        }
    };
    Ok(Output { body, human })
}

pub fn tokens(ctx: &Ctx, action: &TokensAction) -> Result<Output, CliError> {
    let c = &ctx.client;
    let (body, human) = match action {
        TokensAction::Create { name, scope, .. } => {
            let t = c.post(
                &["v1", "tokens"],
                &json!({"name": name, "scope": scope.as_str()}),
            )?;
            let human = format!(
                "{} ({} scope) for workspace {}; shown once, keep it secret:\n  {}\n",
                field(&t, "id"),
                field(&t, "scope"),
                field(&t, "workspace"),
                field(&t, "token")
            );
            (t, human)
        }
        TokensAction::Ls { .. } => {
            let list = c.get(&["v1", "tokens"])?;
            let mut rows = vec![vec![
                "ID".into(),
                "NAME".into(),
                "SCOPE".into(),
                "ENDS IN".into(),
                "CREATED".into(),
            ]];
            for t in list["data"].as_array().into_iter().flatten() {
                rows.push(vec![
                    field(t, "id"),
                    field(t, "name"),
                    field(t, "scope"),
                    format!("…{}", field(t, "last4")),
                    field(t, "created_at"),
                ]);
            }
            (list, table(&rows))
        }
        TokensAction::Revoke { ids, .. } => {
            let mut human = String::new();
            let mut revoked = Vec::new();
            for id in ids {
                match c.delete(&["v1", "tokens", id]) {
                    Ok(reply) => {
                        human.push_str(&format!("revoked {id}\n"));
                        revoked.push(reply.json);
                    }
                    Err(e) => {
                        // Say which ones are revoked already before failing.
                        eprint!("{human}");
                        return Err(e);
                    }
                }
            }
            let raw = if revoked.len() == 1 {
                revoked.remove(0)
            } else {
                json!({"object": "list", "data": revoked, "has_more": false})
            };
            (crate::client::Reply::from_json(raw), human)
        }
    };
    Ok(Output { body, human })
}

/// The `limits` object of a request: only the flags given.
fn limit_changes(l: &LimitArgs) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<Limit>| {
        if let Some(Limit(v)) = v {
            m.insert(k.into(), v.map_or(Value::Null, Value::from));
        }
    };
    put("max_timeout_seconds", l.max_timeout);
    put("concurrent_sessions", l.concurrent_sessions);
    put("minutes_per_month", l.minutes_per_month);
    if let Some(p) = l.persistent_sessions {
        m.insert("persistent_sessions".into(), p.into());
    }
    Value::Object(m)
}

fn limit(limits: &Value, key: &str) -> String {
    match limits.get(key) {
        Some(Value::Null) | None => "unlimited".into(),
        Some(v) => v.to_string(),
    }
}

fn workspace_table(ws: &Value) -> String {
    let l = &ws["limits"];
    table(&[
        vec!["workspace".into(), field(ws, "id")],
        vec!["plan".into(), field(ws, "plan")],
        vec![
            "longest timeout (s)".into(),
            limit(l, "max_timeout_seconds"),
        ],
        vec![
            "persistent sessions".into(),
            field(l, "persistent_sessions"),
        ],
        vec![
            "concurrent sessions".into(),
            limit(l, "concurrent_sessions"),
        ],
        vec!["minutes per month".into(), limit(l, "minutes_per_month")],
        vec!["created".into(), field(ws, "created_at")],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_limit_flags_given_are_sent_and_none_lifts_one() {
        let l = LimitArgs {
            concurrent_sessions: Some(Limit(Some(3))),
            minutes_per_month: Some(Limit(None)),
            ..LimitArgs::default()
        };
        assert_eq!(
            limit_changes(&l),
            json!({"concurrent_sessions": 3, "minutes_per_month": null})
        );
        assert_eq!(limit_changes(&LimitArgs::default()), json!({}));
    }

    #[test]
    fn a_workspace_prints_its_plan_and_limits() {
        let ws = json!({"id":"acme","plan":"free","created_at":"2026-12-04T12:00:00.000Z",
            "limits":{"max_timeout_seconds":3600,"persistent_sessions":false,
                      "concurrent_sessions":5,"minutes_per_month":null}});
        let out = workspace_table(&ws);
        assert!(out.contains("concurrent sessions  5\n"), "{out}");
        assert!(out.contains("minutes per month    unlimited\n"), "{out}");
        assert!(out.contains("persistent sessions  false\n"), "{out}");
    }
}
