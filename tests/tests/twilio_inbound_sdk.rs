//! Inbound SMS with apps written on the official Twilio SDKs: the webhook
//! the session sends is accepted by twilio-python's `RequestValidator` and
//! twilio-node's `validateRequest`, the TwiML their `MessagingResponse`
//! writes is carried out, and the replies are read back through each SDK.

use mirra_tests::{
    node_script, python_script, run_sdk_script, sdk_node, sdk_python, Server, TOKEN,
};

#[test]
fn a_twilio_python_app_validates_the_inbound_webhook_and_its_twiml_replies_go_out() {
    let Some(python) = sdk_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let mut cmd = python_script(&python, "twilio_inbound.py");
    cmd.env("MIRRA_URL", &server.url).env("MIRRA_TOKEN", TOKEN);
    run_sdk_script(&mut cmd);
}

#[test]
fn a_twilio_node_app_validates_the_inbound_webhook_and_its_twiml_replies_go_out() {
    let Some(sdk) = sdk_node() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let mut cmd = node_script(&sdk, "twilio_inbound.mjs", &server.url);
    cmd.env("MIRRA_TOKEN", TOKEN);
    run_sdk_script(&mut cmd);
}
