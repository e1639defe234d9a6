//! Twilio Verify v2 with the official Twilio SDKs (twilio-python,
//! twilio-node) against a live `mirra serve`: a service, a verification whose
//! code the SDK reads back from the session's messages, approval, a wrong
//! code, and Twilio's limits, with the SDKs' own exceptions.

use std::process::Command;

use mirra_tests::{
    node_script, python_script, run_sdk_script, sdk_node, sdk_python, twilio_of, Server,
};
use serde_json::{json, Value};

/// The session's Twilio mirror as the scripts read it.
fn twilio_env(cmd: &mut Command, session: &Value) {
    let (base, creds) = twilio_of(session);
    let c = |k: &str| creds[k].as_str().expect(k).to_string();
    cmd.env("TWILIO_BASE_URL", base)
        .env("TWILIO_ACCOUNT_SID", c("account_sid"))
        .env("TWILIO_AUTH_TOKEN", c("auth_token"))
        // A region or edge would rewrite the hosts the SDKs build URLs on.
        .env_remove("TWILIO_REGION")
        .env_remove("TWILIO_EDGE");
}

/// twilio-python starts a verification, reads the code with
/// `client.messages.list`, approves it, and meets 60200, 60202, 60203 and
/// 20404 as `TwilioRestException`s.
#[test]
fn official_twilio_python_sdk_verifies_with_the_code_it_reads_back() {
    let Some(python) = sdk_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["twilio"]}));
    let mut cmd = python_script(&python, "twilio_verify.py");
    twilio_env(&mut cmd, &session);
    run_sdk_script(&mut cmd);
}

/// twilio-node does the same with its `RestException`s.
#[test]
fn official_twilio_node_sdk_verifies_with_the_code_it_reads_back() {
    let Some(sdk) = sdk_node() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let session = server.create_session(json!({"mirrors": ["twilio"]}));
    let mut cmd = node_script(&sdk, "twilio_verify.mjs", &server.url);
    twilio_env(&mut cmd, &session);
    run_sdk_script(&mut cmd);
}
