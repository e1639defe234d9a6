#!/usr/bin/env python3
"""Drives a live Mirra Resend mirror with the OFFICIAL `resend` Python SDK,
pointed at the session the way resend-python allows: `resend.api_url` (or
RESEND_API_URL before import) and `resend.api_key`.

Environment:
  RESEND_API_URL        the session's Resend base URL (…/m/ses_xxxx/resend)
  RESEND_API_KEY        the session's API key
  RESEND_OTHER_API_KEY  another session's key (must be refused here)
  RESEND_OVER_QUOTA_API_KEY  the key of a `resend:over-quota` session

Exercises send (attachments as resend-python sends them, tags, headers),
get, list with pagination, batch (strict and permissive), scheduling with
update and cancel, idempotent replays, the SDK's error classes for a
missing field, a wrong key, an unverified domain and an unknown email, and a
webhook: registered with `resend.Webhooks.create`, its `email.sent` and
`email.delivered` deliveries (to a receiver this script runs on loopback)
verified with `resend.Webhooks.verify`, and a tampered one refused; an email
to bounced@resend.dev ends `bounced`; the over-quota seed's 429 is the SDK's
`RateLimitError`.
Sends one email with a magic link to python@test.dev for the caller to find
in the session inbox. Exits non-zero with a message on the first failure;
prints one summary line.
"""

import http.server
import json
import os
import sys
import threading
import time
import traceback
import uuid

import resend
from resend import exceptions

PASSED = []


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)
    PASSED.append(what)


def env(name):
    value = os.environ.get(name, "")
    if not value:
        raise CheckFailed(f"environment variable {name} is not set")
    return value


def raises(cls, fn, what):
    """Calls fn, which must raise `cls`; returns the error."""
    try:
        fn()
    except cls as e:
        check(400 <= int(e.code) < 500, f"{what}: a 4xx, got {e.code}")
        return e
    except Exception as e:  # noqa: BLE001 - report what came instead
        raise CheckFailed(f"{what}: expected {cls.__name__}, got {type(e).__name__}: {e}")
    raise CheckFailed(f"{what}: expected {cls.__name__}, nothing raised")


FROM = "Acme <hello@example.com>"


def start_receiver():
    """A webhook receiver on loopback: its URL and the (headers, body) it got."""
    got = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/hook", got


def webhooks_verify():
    """Registers a webhook, sends to delivered@resend.dev, and verifies the
    `email.sent` and `email.delivered` deliveries with the SDK's verifier."""
    url, got = start_receiver()
    hook = resend.Webhooks.create({"endpoint": url, "events": ["email.sent", "email.delivered"]})
    secret = hook["signing_secret"]
    check(secret.startswith("whsec_"), "a webhook has a whsec_ signing secret")
    sent = resend.Emails.send({"from": FROM, "to": "delivered@resend.dev", "subject": "hook", "text": "h"})
    # Emails sent earlier in this script are delivered meanwhile too: keep
    # this one's deliveries.
    def ours():
        return [(h, b) for h, b in got if json.loads(b)["data"]["email_id"] == sent["id"]]

    deadline = time.time() + 30
    while len(ours()) < 2 and time.time() < deadline:
        time.sleep(0.1)
    mine = ours()
    check(len(mine) == 2, f"two deliveries arrive (sent, then delivered), got {len(mine)}")
    types = []
    for headers, body in mine:
        event = resend.Webhooks.verify(
            {
                "payload": body,
                "headers": {
                    "id": headers["svix-id"],
                    "timestamp": headers["svix-timestamp"],
                    "signature": headers["svix-signature"],
                },
                "webhook_secret": secret,
            }
        )
        check(event["data"]["email_id"] == sent["id"], "a delivery names the email")
        types.append(event["type"])
    check(types == ["email.sent", "email.delivered"], f"sent, then delivered: {types}")
    headers, body = mine[0]
    tampered = json.dumps({**json.loads(body), "type": "email.bounced"})
    try:
        resend.Webhooks.verify(
            {
                "payload": tampered,
                "headers": {
                    "id": headers["svix-id"],
                    "timestamp": headers["svix-timestamp"],
                    "signature": headers["svix-signature"],
                },
                "webhook_secret": secret,
            }
        )
    except ValueError:
        PASSED.append("a tampered delivery fails verification")
    else:
        raise CheckFailed("a tampered delivery passed verification")


def main():
    resend.api_url = env("RESEND_API_URL")
    resend.api_key = env("RESEND_API_KEY")
    other_key = env("RESEND_OTHER_API_KEY")

    # -- send and read back
    sent = resend.Emails.send(
        {
            "from": FROM,
            "to": ["python@test.dev"],
            "subject": "Your magic link",
            "html": '<p><a href="https://app.test/magic?token=py-123">Sign in</a></p>',
            "text": "https://app.test/magic?token=py-123",
            "headers": {"X-Test": "python"},
            "tags": [{"name": "flow", "value": "signin"}],
            "attachments": [{"filename": "hello.txt", "content": list(b"hello")}],
        }
    )
    check(uuid.UUID(sent["id"]).version == 4, "send answers a UUID id")
    got = resend.Emails.get(sent["id"])
    check(got["object"] == "email", "get answers an email")
    check(got["last_event"] == "sent", "a sent email's last_event is sent")
    check(got["to"] == ["python@test.dev"], "to reads back as a list")
    check(got["subject"] == "Your magic link", "subject reads back")
    check(got["tags"] == [{"name": "flow", "value": "signin"}], "tags read back")

    # -- list and pages
    for i in range(3):
        resend.Emails.send({"from": FROM, "to": f"list{i}@test.dev", "subject": f"n{i}", "text": "x"})
    page = resend.Emails.list({"limit": 2})
    check(page["object"] == "list" and page["has_more"] is True, "a first page of 2 has more")
    after = resend.Emails.list({"limit": 2, "after": page["data"][-1]["id"]})
    check(len(after["data"]) == 2, "the next page follows the cursor")
    seen = {e["id"] for e in page["data"]} | {e["id"] for e in after["data"]}
    check(len(seen) == 4 and sent["id"] in seen, "pages neither repeat nor skip")

    # -- batch: strict is all or nothing, permissive sends the good ones
    batch = resend.Batch.send(
        [
            {"from": FROM, "to": "b1@test.dev", "subject": "b1", "text": "1"},
            {"from": FROM, "to": "b2@test.dev", "subject": "b2", "text": "2"},
        ]
    )
    check(len(batch["data"]) == 2, "a batch of two sends two")
    bad = {"from": "me@unverified.test", "to": "b3@test.dev", "subject": "b3", "text": "3"}
    good = {"from": FROM, "to": "b4@test.dev", "subject": "b4", "text": "4"}
    raises(exceptions.ResendError, lambda: resend.Batch.send([good, bad]), "strict batch with a bad email")
    mixed = resend.Batch.send([good, bad], {"batch_validation": "permissive"})
    check(len(mixed["data"]) == 1 and mixed["errors"][0]["index"] == 1, "permissive batch reports the bad one")

    # -- scheduled: update, cancel
    later = resend.Emails.send(
        {"from": FROM, "to": "later@test.dev", "subject": "later", "text": "l", "scheduled_at": "in 1 hour"}
    )
    check(resend.Emails.get(later["id"])["last_event"] == "scheduled", "a scheduled email is scheduled")
    moved = resend.Emails.update({"id": later["id"], "scheduled_at": "in 2 hours"})
    check(moved["id"] == later["id"], "update answers the email's id")
    canceled = resend.Emails.cancel(later["id"])
    check(canceled["id"] == later["id"], "cancel answers the email's id")
    check(resend.Emails.get(later["id"])["last_event"] == "canceled", "a canceled email is canceled")

    # -- idempotency
    opts = {"idempotency_key": f"py-{uuid.uuid4()}"}
    params = {"from": FROM, "to": "idem@test.dev", "subject": "once", "text": "once"}
    first = resend.Emails.send(params, opts)
    again = resend.Emails.send(params, opts)
    check(first["id"] == again["id"], "the same key and body replay the first email")
    e = raises(
        exceptions.ResendError,
        lambda: resend.Emails.send({**params, "subject": "other"}, opts),
        "the same key with another body",
    )
    check(e.error_type == "invalid_idempotent_request" and str(e.code) == "409", "reuse is a 409")

    # -- errors in the SDK's classes
    raises(
        exceptions.MissingRequiredFieldsError,
        lambda: resend.Emails.send({"from": FROM, "subject": "no to", "text": "x"}),
        "a missing `to`",
    )
    e = raises(
        exceptions.ResendError,
        lambda: resend.Emails.send({"from": "me@gmail.com", "to": "a@test.dev", "subject": "s", "text": "t"}),
        "an unverified domain",
    )
    check("not verified" in e.message and str(e.code) == "403", "an unverified domain is Resend's 403")
    raises(exceptions.ResendError, lambda: resend.Emails.get(str(uuid.uuid4())), "an unknown email")
    # Another session, reached at the server's root by its key (credential routing).
    resend.api_key = env("RESEND_OVER_QUOTA_API_KEY")
    resend.api_url = env("RESEND_API_URL").split("/m/")[0]
    try:
        e = raises(
            exceptions.RateLimitError,
            lambda: resend.Emails.send({"from": FROM, "to": "a@test.dev", "subject": "s", "text": "t"}),
            "a send past the daily quota",
        )
        check(e.error_type == "daily_quota_exceeded", "the quota's 429 is daily_quota_exceeded")
    finally:
        resend.api_key = env("RESEND_API_KEY")
        resend.api_url = env("RESEND_API_URL")

    bounced = resend.Emails.send({"from": FROM, "to": "bounced@resend.dev", "subject": "b", "text": "b"})

    resend.api_key = other_key
    try:
        raises(exceptions.InvalidApiKeyError, lambda: resend.Emails.get(sent["id"]), "another session's key")
    finally:
        resend.api_key = env("RESEND_API_KEY")

    webhooks_verify()
    # Sent before the webhook's wait, so its 5 seconds have passed.
    check(resend.Emails.get(bounced["id"])["last_event"] == "bounced", "bounced@resend.dev bounces")

    print(f"resend-python {resend.__version__}: "
          f"{len(PASSED)} checks passed; magic link email {sent['id']}")


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001 - the test reads the message
        traceback.print_exc()
        sys.exit(1)
