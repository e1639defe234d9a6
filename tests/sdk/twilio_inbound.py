#!/usr/bin/env python3
"""An app written with the OFFICIAL `twilio` Python SDK receives an inbound
SMS from a live Mirra session: its webhook checks `X-Twilio-Signature` with
the SDK's own `RequestValidator` and answers with the SDK's
`MessagingResponse`; the reply is then read back through the SDK's
Messages API, and moves to delivered.

Environment:
  MIRRA_URL     the server's root (control plane and mirrors)
  MIRRA_TOKEN   the workspace token

The script creates its own session, whose one number's SmsUrl is the app it
runs on loopback. Exits non-zero with a message on the first failure.
"""

import http.server
import json
import threading
import time
import urllib.parse
import urllib.request

import twilio
from checks import PASSED, check, env, run
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

NUMBER = "+14155550100"
SENDER = "+14155552671"


def control(method, path, body=None):
    req = urllib.request.Request(
        env("MIRRA_URL") + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {env('MIRRA_TOKEN')}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(req, timeout=30) as res:
        text = res.read()
        return json.loads(text) if text else None


def start_app(state):
    """The app: validates each webhook, replies with TwiML naming the body."""

    class App(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            params = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
            url = f"http://127.0.0.1:{self.server.server_port}{self.path}"
            validator = RequestValidator(state["token"])
            state["valid"].append(
                validator.validate(url, params, self.headers.get("X-Twilio-Signature", ""))
            )
            state["params"].append(params)
            resp = MessagingResponse()
            resp.message(f"You said: {params.get('Body')}")
            msg = resp.message()
            msg.body("And a picture")
            msg.media("https://app.test/cat.png")
            body = str(resp).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), App)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    state = {"token": "", "valid": [], "params": []}
    app = start_app(state)
    app_url = f"http://127.0.0.1:{app.server_port}/sms"
    session = control(
        "POST",
        "/v1/sessions",
        {
            "mirrors": ["twilio"],
            "seed_files": {"twilio": {"phone_numbers": [{"phone_number": NUMBER, "sms_url": app_url}]}},
        },
    )
    creds = session["mirrors"]["twilio"]["credentials"]
    state["token"] = creds["auth_token"]
    client = Client(creds["account_sid"], creds["auth_token"])
    client.api.base_url = session["mirrors"]["twilio"]["url"]

    out = control(
        "POST",
        f"/v1/sessions/{session['id']}/twilio/inbound",
        {"from": SENDER, "to": NUMBER, "body": "hello"},
    )
    check(out["errors"] == [], f"no errors: {out['errors']}")
    check(state["valid"] == [True], f"RequestValidator accepts the webhook: {state['valid']}")
    params = state["params"][0]
    check(params["Body"] == "hello" and params["From"] == SENDER and params["To"] == NUMBER, f"webhook params {params}")
    check(params["MessageSid"] == out["message"]["sid"], "MessageSid is the inbound message")

    # The SDK reads the inbound message and both replies.
    inbound = client.messages(out["message"]["sid"]).fetch()
    check(inbound.direction == "inbound" and inbound.status == "received", f"inbound {inbound.direction} {inbound.status}")
    replies = [m for m in client.messages.list(to=SENDER) if m.direction == "outbound-reply"]
    check(len(replies) == 2, f"two replies, got {len(replies)}")
    bodies = sorted(m.body for m in replies)
    check(bodies == ["And a picture", "You said: hello"], f"reply bodies {bodies}")
    check(all(m.from_ == NUMBER for m in replies), "replies come from the number")
    pic = next(m for m in replies if m.body == "And a picture")
    media = client.messages(pic.sid).media.list()
    check(len(media) == 1 and media[0].content_type == "image/png", f"reply media {media}")

    # The replies move to delivered like any message.
    deadline = time.time() + 15
    while time.time() < deadline:
        statuses = {client.messages(m.sid).fetch().status for m in replies}
        if statuses == {"delivered"}:
            break
        time.sleep(0.2)
    check(statuses == {"delivered"}, f"replies delivered: {statuses}")
    control("DELETE", f"/v1/sessions/{session['id']}")
    app.shutdown()
    print(f"twilio-python {twilio.__version__}: inbound SMS with TwiML replies, {len(PASSED)} checks passed")


if __name__ == "__main__":
    run(main)
