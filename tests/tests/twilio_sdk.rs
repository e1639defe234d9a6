//! The official Twilio SDKs (twilio-python, twilio-node) against a live
//! `mirra serve`: the mirror is right when the vendor's own clients work
//! against it unchanged — their domains' base URLs pointed at the session,
//! or at the server's root, routed by the Account SID.

use mirra_tests::{
    node_script, python_script, run_sdk_script, sdk_node, sdk_python, twilio_of, Server, TOKEN,
};
use serde_json::json;

/// Credentials of a session's Twilio mirror as the scripts read them.
fn twilio_env(cmd: &mut std::process::Command, session: &serde_json::Value, root: &str) {
    let (base, creds) = twilio_of(session);
    let c = |k: &str| creds[k].as_str().expect(k).to_string();
    cmd.env("TWILIO_BASE_URL", base)
        .env("TWILIO_ACCOUNT_SID", c("account_sid"))
        .env("TWILIO_AUTH_TOKEN", c("auth_token"))
        .env("TWILIO_API_KEY", c("api_key_sid"))
        .env("TWILIO_API_SECRET", c("api_key_secret"))
        .env("MIRRA_URL", root)
        .env_remove("TWILIO_REGION")
        .env_remove("TWILIO_EDGE");
}

/// twilio-python sends, fetches, pages, meets every magic number's code,
/// validates each status callback with its own `RequestValidator`, redacts,
/// deletes, uses the API key, and reaches the server's root by Account SID.
#[test]
fn official_twilio_python_sdk_sends_messages_and_validates_their_callbacks() {
    let Some(python) = sdk_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["twilio"]}));
    let mut cmd = python_script(&python, "twilio_messages.py");
    twilio_env(&mut cmd, &session, &server.url);
    run_sdk_script(&mut cmd);
}

/// twilio-node does the same, its `validateRequest` checking the callbacks.
#[test]
fn official_twilio_node_sdk_sends_messages_and_validates_their_callbacks() {
    let Some(sdk) = sdk_node() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["twilio"]}));
    let mut cmd = node_script(&sdk, "twilio_messages.mjs", &server.url);
    twilio_env(&mut cmd, &session, &server.url);
    run_sdk_script(&mut cmd);
}

/// twilio-python buys numbers from the catalogue (and meets Twilio's test
/// refusals), sets SmsUrl, makes a messaging service with a bought number
/// as its sender, sends and schedules through it, gets inbound webhooks at
/// its URL (validated with `RequestValidator`), and releases the number.
#[test]
fn official_twilio_python_sdk_buys_numbers_and_runs_a_messaging_service() {
    let Some(python) = sdk_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["twilio"]}));
    let mut cmd = python_script(&python, "twilio_numbers.py");
    twilio_env(&mut cmd, &session, &server.url);
    cmd.env("MIRRA_TOKEN", TOKEN);
    run_sdk_script(&mut cmd);
}

/// twilio-node does the same, `validateRequest` checking the webhooks.
#[test]
fn official_twilio_node_sdk_buys_numbers_and_runs_a_messaging_service() {
    let Some(sdk) = sdk_node() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["twilio"]}));
    let mut cmd = node_script(&sdk, "twilio_numbers.mjs", &server.url);
    twilio_env(&mut cmd, &session, &server.url);
    cmd.env("MIRRA_TOKEN", TOKEN);
    run_sdk_script(&mut cmd);
}
