//! The control-plane and mirror functions' app fed real event JSON — API
//! Gateway HTTP API (v2) events, a named stage's and `$default`'s, and a
//! Function URL event, from `tests/data/` of each function — through
//! `lambda_http::request::from_str`, on S3 + DynamoDB (the emulator the test
//! command starts): a session created, a mirror request routed by the host
//! header of the wildcard domain, by its path, and by its key under a named
//! stage, a reset and a delete; each function refusing the other's requests.

use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use shared::lambda::{app_with, Plane, Settings};
use shared::traces::TraceSettings;
use tower::ServiceExt;

const TOKEN: &str = "lambda-test-token";

/// The app of each function over one bucket and table of the emulator, or
/// `None` (skip) outside CI when no emulator runs.
async fn functions(test: &str) -> Option<(Router, Router)> {
    let env = mirra_tests::cloud_env(test)?;
    let var = |k: &str| env.var(k);
    env.export_aws();
    let settings = Settings {
        bucket: var("MIRRA_S3_BUCKET"),
        table: var("MIRRA_DYNAMODB_TABLE"),
        token: TOKEN.into(),
        public_url: "https://api.mirra.example.com".into(),
        traces: TraceSettings::default(),
        due_queue_url: None,
        create_resources: true,
    };
    let control = app_with(Plane::Control, settings.clone())
        .await
        .expect("control-plane app");
    let mirrors = app_with(Plane::Mirrors, settings)
        .await
        .expect("mirror app");
    Some((control, mirrors))
}

/// A fixture of `function`'s `tests/data/`, its `${NAME}`s filled in.
fn event(function: &str, name: &str, vars: &[(&str, &str)]) -> lambda_http::Request {
    lambda_http::request::from_str(&mirra_tests::lambda_fixture(function, name, vars))
        .expect("a Lambda event")
}

async fn call(app: &Router, req: lambda_http::Request) -> (u16, Value) {
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn events_create_a_session_reach_its_mirror_by_host_path_and_key_then_reset_and_delete_it() {
    let Some((control, mirrors)) = functions("lambda-events").await else {
        return;
    };
    let token = [("TOKEN", TOKEN)];

    // Created through the `prod` stage: lambda_http hands over /prod/v1/sessions.
    let (status, session) = call(
        &control,
        event(
            "control-plane",
            "apigw_v2_create_session_prod_stage.json",
            &token,
        ),
    )
    .await;
    assert_eq!(status, 201, "{session}");
    let id = session["id"].as_str().expect("id").to_string();
    let (_, key) = mirra_tests::stripe_of(&session);
    let suffix = id.trim_start_matches("ses_").to_string();
    assert!(
        session["mirrors"]["stripe"]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://api.mirra.example.com/m/")),
        "{session}"
    );
    let vars = [
        ("SESSION", id.as_str()),
        ("SUFFIX", suffix.as_str()),
        ("KEY", key.as_str()),
        ("TOKEN", TOKEN),
    ];

    // Host routing on the wildcard domain.
    let (status, customer) = call(
        &mirrors,
        event("mirror", "apigw_v2_create_customer_by_host.json", &vars),
    )
    .await;
    assert_eq!(status, 200, "{customer}");
    assert_eq!(customer["email"], "lambda@example.com");
    let cus = customer["id"].as_str().expect("id").to_string();

    // Path routing through a Function URL.
    let (status, list) = call(
        &mirrors,
        event("mirror", "function_url_list_customers_by_path.json", &vars),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert!(list["data"]
        .as_array()
        .expect("data")
        .iter()
        .any(|c| c["id"] == cus.as_str()));

    // Credential routing at a named stage's root.
    let with_customer = [
        ("SESSION", id.as_str()),
        ("KEY", key.as_str()),
        ("CUSTOMER", cus.as_str()),
    ];
    let (status, read) = call(
        &mirrors,
        event(
            "mirror",
            "apigw_v2_retrieve_customer_by_key_prod_stage.json",
            &with_customer,
        ),
    )
    .await;
    assert_eq!(
        (status, &read["id"]),
        (200, &Value::from(cus.clone())),
        "{read}"
    );

    // Reset: the customer is gone.
    let (status, reset) = call(
        &control,
        event("control-plane", "apigw_v2_reset_session.json", &vars),
    )
    .await;
    assert_eq!(status, 200, "{reset}");
    let (_, list) = call(
        &mirrors,
        event("mirror", "function_url_list_customers_by_path.json", &vars),
    )
    .await;
    assert!(
        !list["data"]
            .as_array()
            .expect("data")
            .iter()
            .any(|c| c["id"] == cus.as_str()),
        "{list}"
    );

    // Deleted: its mirror answers Stripe's 410 by host.
    let (status, body) = call(
        &control,
        event("control-plane", "apigw_v2_delete_session.json", &vars),
    )
    .await;
    assert!(status == 200 || status == 204, "{status} {body}");
    let (status, gone) = call(
        &mirrors,
        event("mirror", "apigw_v2_create_customer_by_host.json", &vars),
    )
    .await;
    assert_eq!(status, 410, "{gone}");
    assert!(gone["error"]["message"].is_string(), "{gone}");
}

/// Each function answers only its own plane: a control-plane event sent to
/// the mirror function gets the control plane's JSON 404, a mirror event sent
/// to the control-plane function Stripe's 404; and the control plane wants
/// its token under any stage.
#[tokio::test]
async fn each_function_answers_only_its_own_plane_and_the_control_plane_wants_its_token() {
    let Some((control, mirrors)) = functions("lambda-planes").await else {
        return;
    };
    let (status, body) = call(
        &mirrors,
        event(
            "control-plane",
            "apigw_v2_create_session_prod_stage.json",
            &[("TOKEN", TOKEN)],
        ),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["type"], "not_found", "{body}");

    let vars = [("SUFFIX", "ab12"), ("KEY", "sk_test_whatever")];
    let (status, body) = call(
        &control,
        event("mirror", "apigw_v2_create_customer_by_host.json", &vars),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");

    let (status, body) = call(
        &control,
        event("control-plane", "apigw_v2_list_sessions_no_token.json", &[]),
    )
    .await;
    assert_eq!(status, 401, "{body}");
}

/// Hosted use through events: the operator's token creates a workspace on
/// the free plan (stored in DynamoDB), whose own token creates a session in
/// it, meets the plan's concurrent limit (402), and after the session ends
/// sees its minutes in `/v1/usage`; the operator's token sees none of it.
#[tokio::test]
async fn events_create_a_workspace_whose_token_meets_its_plan_and_sees_its_usage() {
    let Some((control, _)) = functions("lambda-workspaces").await else {
        return;
    };
    let workspace = format!("acme-{}", shared::session::id::random_lower(8));
    let (status, ws) = call(
        &control,
        event(
            "control-plane",
            "apigw_v2_create_workspace.json",
            &[("TOKEN", TOKEN), ("WORKSPACE", &workspace)],
        ),
    )
    .await;
    assert_eq!(status, 201, "{ws}");
    let ws_token = ws["token"]["token"].as_str().expect("token").to_string();
    let with_ws = [("TOKEN", ws_token.as_str())];

    let (status, session) = call(
        &control,
        event(
            "control-plane",
            "apigw_v2_create_session_prod_stage.json",
            &with_ws,
        ),
    )
    .await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["workspace"], workspace.as_str());
    let (status, refused) = call(
        &control,
        event(
            "control-plane",
            "apigw_v2_create_session_prod_stage.json",
            &with_ws,
        ),
    )
    .await;
    assert_eq!(status, 402, "{refused}");
    assert_eq!(refused["error"]["code"], "concurrent_sessions_reached");

    // The operator's own workspace does not see it.
    let id = session["id"].as_str().expect("id").to_string();
    let operator = [("TOKEN", TOKEN), ("SESSION", id.as_str())];
    let (status, _) = call(
        &control,
        event("control-plane", "apigw_v2_delete_session.json", &operator),
    )
    .await;
    assert_eq!(
        status, 404,
        "another workspace's session is not the operator's to end"
    );

    let vars = [("TOKEN", ws_token.as_str()), ("SESSION", id.as_str())];
    let (status, ended) = call(
        &control,
        event("control-plane", "apigw_v2_delete_session.json", &vars),
    )
    .await;
    assert_eq!(status, 200, "{ended}");
    let period = shared::session::metering::Period::of_ms(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as i64,
    )
    .to_string();
    let (status, usage) = call(
        &control,
        event(
            "control-plane",
            "apigw_v2_usage.json",
            &[("TOKEN", ws_token.as_str()), ("PERIOD", period.as_str())],
        ),
    )
    .await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(usage["workspace"], workspace.as_str());
    assert_eq!(usage["plan"], "free");
    assert_eq!(
        usage["ephemeral_minutes"], ended["billed_minutes"],
        "{usage}"
    );
    assert_eq!(usage["live_sessions"], 0);
}
