#!/usr/bin/env python3
"""Runs a newsletter on a live Mirra Resend mirror with the OFFICIAL `resend`
Python SDK (`resend.api_url` pointed at the session): API keys, segments
and audiences, contacts in them, and a broadcast sent to them.

Environment:
  RESEND_API_URL   the session's Resend base URL (…/m/ses_xxxx/resend)
  RESEND_API_KEY   the session's API key
  MIRRA_URL, MIRRA_TOKEN   the server's root and workspace token (inbox)

Exercises ApiKeys (a sending-only key sends and is refused elsewhere with the
SDK's error; a deleted key is refused), Segments, Audiences and contacts
given an `audience_id` (the deprecated paths the SDK still calls), contacts
created in segments and added to one, listed per segment, and Broadcasts:
create, update, send; each subscribed contact's email read back from the
session inbox personalized, its unsubscribe link opened without a key, a
scheduled broadcast canceled, a draft removed. Exits non-zero on the first
failure; prints one summary line.
"""

import json
import urllib.request

import resend
from checks import PASSED, CheckFailed, check, env, run
from resend import exceptions


def refused(cls, fn, what):
    try:
        fn()
    except cls as e:
        check(True, what)
        return e
    except Exception as e:  # noqa: BLE001 - say what was raised instead
        raise CheckFailed(f"{what}: expected {cls.__name__}, got {type(e).__name__}: {e}") from e
    raise CheckFailed(f"{what}: expected {cls.__name__}, nothing raised")


def inbox(session, to):
    req = urllib.request.Request(
        f"{env('MIRRA_URL')}/v1/sessions/{session}/inbox?to={to}",
        headers={"Authorization": f"Bearer {env('MIRRA_TOKEN')}"},
    )
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read())["data"]


def main():
    url, key = env("RESEND_API_URL"), env("RESEND_API_KEY")
    session = url.rstrip("/").split("/")[-2]
    resend.api_url = url
    resend.api_key = key

    # -- API keys
    made = resend.ApiKeys.create({"name": "CI sender", "permission": "sending_access"})
    check(made["token"].startswith("re_") and made["id"], "a key is made, its token shown once")
    check([k["name"] for k in resend.ApiKeys.list()["data"]] == ["CI sender"], "keys listed, no token")
    resend.api_key = made["token"]
    sent = resend.Emails.send({"from": "hi@example.com", "to": "k@test.dev", "subject": "s", "text": "t"})
    check(bool(sent["id"]), "the sending key sends")
    refused(exceptions.ResendError, lambda: resend.Domains.list(), "the sending key may not list domains")
    resend.api_key = key
    resend.ApiKeys.remove(made["id"])
    resend.api_key = made["token"]
    refused(exceptions.ResendError, lambda: resend.Emails.send(
        {"from": "hi@example.com", "to": "k@test.dev", "subject": "s", "text": "t"}), "a deleted key")
    resend.api_key = key

    # -- segments, audiences, contacts
    news = resend.Segments.create({"name": "News"})
    check(news["id"] and resend.Segments.get(news["id"])["name"] == "News", "segment made and read")
    resend.Contacts.create({"email": "ann@test.dev", "first_name": "Ann", "segments": [{"id": news["id"]}]})
    resend.Contacts.create({"email": "bob@test.dev"})
    resend.Contacts.Segments.add({"segment_id": news["id"], "email": "bob@test.dev"})
    resend.Contacts.create({"email": "cy@test.dev", "unsubscribed": True, "segments": [{"id": news["id"]}]})
    members = sorted(c["email"] for c in resend.Contacts.list(segment_id=news["id"])["data"])
    check(members == ["ann@test.dev", "bob@test.dev", "cy@test.dev"], f"the segment's contacts: {members}")
    aud = resend.Audiences.create({"name": "Legacy"})
    resend.Contacts.create({"audience_id": aud["id"], "email": "dee@test.dev"})
    check([c["email"] for c in resend.Contacts.list(audience_id=aud["id"])["data"]] == ["dee@test.dev"],
          "a contact made given an audience_id is in that audience")
    check(resend.Contacts.get(audience_id=aud["id"], email="dee@test.dev")["email"] == "dee@test.dev",
          "read through its audience")

    # -- a broadcast
    b = resend.Broadcasts.create({
        "segment_id": news["id"],
        "from": "Acme <news@example.com>",
        "subject": "Hello {{{FIRST_NAME|there}}}",
        "html": '<p>Hi</p><a href="{{{RESEND_UNSUBSCRIBE_URL}}}">Unsubscribe</a>',
        "name": "November",
    })
    resend.Broadcasts.update({"broadcast_id": b["id"], "name": "November news"})
    check(resend.Broadcasts.get(b["id"])["status"] == "draft", "a draft")
    resend.Broadcasts.send({"broadcast_id": b["id"]})
    got = resend.Broadcasts.get(b["id"])
    check(got["status"] == "sent" and got["name"] == "November news", f"sent: {got['status']}")
    ann, bob = inbox(session, "ann@test.dev"), inbox(session, "bob@test.dev")
    check(len(ann) == 1 and ann[0]["subject"] == "Hello Ann", "Ann's email is hers")
    check(len(bob) == 1 and bob[0]["subject"] == "Hello there", "Bob's email has the fallback")
    check(inbox(session, "cy@test.dev") == [], "an unsubscribed contact gets nothing")
    with urllib.request.urlopen(ann[0]["links"][0], timeout=30) as res:
        check(res.status == 200, "the unsubscribe link opens without a key")
    check(resend.Contacts.get(email="ann@test.dev")["unsubscribed"] is True, "Ann is unsubscribed")

    later = resend.Broadcasts.create({"segment_id": news["id"], "from": "news@example.com",
                                      "subject": "Later", "text": "t", "send": True,
                                      "scheduled_at": "in 1 hour"})
    check(resend.Broadcasts.get(later["id"])["status"] == "scheduled", "scheduled")
    resend.Broadcasts.cancel(later["id"])
    check(resend.Broadcasts.get(later["id"])["status"] == "canceled", "canceled")
    draft = resend.Broadcasts.create({"audience_id": aud["id"], "from": "news@example.com", "subject": "D"})
    check(resend.Broadcasts.remove(draft["id"])["deleted"] is True, "a draft removed")
    check(len(resend.Broadcasts.list()["data"]) == 2, "two broadcasts left")

    print(f"resend-python {resend.__version__}: {len(PASSED)} checks passed")


if __name__ == "__main__":
    run(main)
