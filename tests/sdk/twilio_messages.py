#!/usr/bin/env python3
"""Drives a live Mirra Twilio mirror with the OFFICIAL `twilio` Python SDK,
pointed at the session the way twilio-python allows: each domain's
`base_url` (`client.api.base_url = url`; Verify and Messaging alike), the
session's Account SID and auth token (or its API key and secret).

Environment:
  TWILIO_BASE_URL      the session's Twilio base URL (…/m/ses_xxxx/twilio)
  TWILIO_ACCOUNT_SID   the session's Account SID
  TWILIO_AUTH_TOKEN    its auth token
  TWILIO_API_KEY       the session's API key SID (SK…)
  TWILIO_API_SECRET    its secret
  MIRRA_URL            the server's root (credential routing)

Exercises create (with MediaUrl and StatusCallback), fetch, list with paging
through `stream`, every magic test number's TwilioRestException code, the
status callbacks of queued → sending → sent → delivered, each validated with
the SDK's own `RequestValidator`, redaction and deletion once delivered, the
API key as credentials, and the server's root reached by the Account SID.
Exits non-zero with a message on the first failure; prints one summary line.
"""

import http.server
import threading
import time
import urllib.parse

import twilio
from checks import PASSED, check, env, run
from checks import twilio_refused as refused
from twilio.request_validator import RequestValidator
from twilio.rest import Client

FROM = "+15005550006"


def client_for(url, user, password, account_sid=None):
    """A client whose every domain is the mirror at `url`."""
    c = Client(user, password, account_sid)
    c.api.base_url = url
    c.verify.base_url = url
    c.messaging.base_url = url
    return c



def start_receiver():
    """A status-callback receiver on loopback: its URL and the (headers, body) it got."""
    got = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/status", got


def wait_for(cond, what, seconds=30):
    deadline = time.time() + seconds
    while not cond() and time.time() < deadline:
        time.sleep(0.1)
    check(cond(), what)


def main():
    url = env("TWILIO_BASE_URL")
    sid, token = env("TWILIO_ACCOUNT_SID"), env("TWILIO_AUTH_TOKEN")
    c = client_for(url, sid, token)

    # -- create, fetch, list
    hook, got = start_receiver()
    m = c.messages.create(
        to="+14155552671",
        from_=FROM,
        body="Your code is 123456",
        media_url=["https://demo.test/a.jpg", "https://demo.test/b.png"],
        status_callback=hook,
    )
    check(m.sid.startswith("SM") and len(m.sid) == 34, "create answers an SM sid")
    check(m.status == "queued", f"a new message is queued, got {m.status}")
    check(m.account_sid == sid, "the message is the session account's")
    check(m.num_media == "2", f"two media, got {m.num_media}")
    check(m.date_created is not None, "date_created parses as a date")
    media = m.media.list()
    check(len(media) == 2, f"the message's media list has 2, got {len(media)}")
    check(c.messages(m.sid).fetch().body == "Your code is 123456", "fetch reads the body back")

    # -- the status callbacks, validated by the SDK
    wait_for(lambda: len(got) >= 3, "three status callbacks arrive (sending, sent, delivered)")
    validator = RequestValidator(token)
    statuses = []
    for headers, body in got:
        params = dict(urllib.parse.parse_qsl(body))
        check(validator.validate(hook, params, headers["x-twilio-signature"]),
              "RequestValidator accepts the callback's X-Twilio-Signature")
        statuses.append(params["MessageStatus"])
    check(statuses == ["sending", "sent", "delivered"], f"statuses in order: {statuses}")
    params = dict(urllib.parse.parse_qsl(got[0][1]))
    params["MessageStatus"] = "failed"
    check(not validator.validate(hook, params, got[0][0]["x-twilio-signature"]),
          "RequestValidator refuses a tampered callback")
    done = c.messages(m.sid).fetch()
    check(done.status == "delivered", f"the message ends delivered, got {done.status}")
    check(done.date_sent is not None and done.price is not None, "a sent message has date_sent and price")

    # -- paging through stream()
    for i in range(5):
        c.messages.create(to="+14155550101", from_=FROM, body=f"page {i}")
    listed = list(c.messages.stream(to="+14155550101", page_size=2))
    check([x.body for x in listed] == [f"page {i}" for i in range(4, -1, -1)],
          f"stream pages through every message newest first: {[x.body for x in listed]}")
    check(len(c.messages.list(to="+14155550101", limit=3)) == 3, "list(limit=3) answers 3")
    page = c.messages.page(to="+14155550101", page_size=2)
    nxt = page.next_page()
    check(nxt is not None and len(list(nxt)) == 2, "page().next_page() follows next_page_uri")

    # -- magic test numbers
    for to, code in [("+15005550001", 21211), ("+15005550002", 21612), ("+15005550003", 21408),
                     ("+15005550004", 21610), ("+15005550009", 21614)]:
        refused(code, lambda: c.messages.create(to=to, from_=FROM, body="x"), f"To {to}")
    for frm, code in [("+15005550001", 21212), ("+15005550007", 21606), ("+15005550008", 21611)]:
        refused(code, lambda: c.messages.create(to="+14155552671", from_=frm, body="x"), f"From {frm}")
    refused(21602, lambda: c.messages.create(to="+14155552671", from_=FROM), "no Body")

    # -- redact, then delete, once delivered
    redacted = c.messages(m.sid).update(body="")
    check(redacted.body == "", "update(body='') redacts a delivered message")
    check(c.messages(m.sid).delete() is True, "delete answers True")
    refused(20404, lambda: c.messages(m.sid).fetch(), "a deleted message")

    # -- the API key as credentials
    keyed = client_for(url, env("TWILIO_API_KEY"), env("TWILIO_API_SECRET"), sid)
    check(len(keyed.messages.list(limit=1)) == 1, "the API key and secret are accepted")
    bad = client_for(url, sid, "wrong-token")
    # (A list answers a refusal as TwilioException "Unable to fetch page"; a fetch raises the code.)
    refused(20003, lambda: bad.api.v2010.accounts(sid).fetch(), "a wrong auth token")

    # -- the server's root, routed by the Account SID
    root = client_for(env("MIRRA_URL"), sid, token)
    check(len(root.messages.list(to="+14155550101")) == 5, "the server's root reaches the session")

    print(f"twilio-python {twilio.__version__}: {len(PASSED)} checks passed")


if __name__ == "__main__":
    run(main)
