#!/usr/bin/env python3
"""Drives a live Mirra Twilio mirror's Verify v2 with the OFFICIAL `twilio`
Python SDK, pointed at the session the way twilio-python allows: the Verify
domain's and the API domain's `base_url` (`client.verify.base_url = url`,
`client.api.base_url = url`), the session's Account SID and auth token.

Environment:
  TWILIO_BASE_URL      the session's Twilio base URL (…/m/ses_xxxx/twilio)
  TWILIO_ACCOUNT_SID   the session's Account SID
  TWILIO_AUTH_TOKEN    its auth token

Exercises services (create, fetch, list, update, delete), a verification
whose code is read back from the session with `client.messages.list(to=…)`,
a wrong code (`status == "pending"`), the right one (`approved`), what Twilio
forgets (20404), a canceled verification, an email verification, an unknown
channel (60200), five wrong codes then 60202, five sends then 60203.
Exits non-zero with a message on the first failure; prints one summary line.
"""

import twilio
from checks import PASSED, check, env, run, twilio_refused
from twilio.rest import Client

TO = "+14155552671"


def refused(code, status, fn, what):
    """Calls fn, which must raise TwilioRestException with `code` and `status`."""
    return twilio_refused(code, fn, what, status=status)


def code_sent_to(client, to):
    """The code in the newest message to `to`, as the Messages API lists it."""
    sent = client.messages.list(to=to, limit=1)
    check(len(sent) == 1, f"a message to {to} is listed")
    body = sent[0].body
    check(" verification code is: " in body, f"the message carries a code: {body!r}")
    return body.rsplit(" ", 1)[1]


def wrong(code):
    return "".join("1" if c == "0" else "0" for c in code)


def main():
    url = env("TWILIO_BASE_URL")
    client = Client(env("TWILIO_ACCOUNT_SID"), env("TWILIO_AUTH_TOKEN"))
    client.verify.base_url = url
    client.api.base_url = url

    # -- services
    services = client.verify.v2.services
    svc = services.create(friendly_name="Acme")
    check(svc.sid.startswith("VA") and len(svc.sid) == 34, "create answers a VA sid")
    check(svc.code_length == 6, f"the default code length is 6, got {svc.code_length}")
    check(svc.url == f"{url}/v2/Services/{svc.sid}", f"url leads back to the mirror: {svc.url}")
    check(svc.date_created is not None, "date_created parses as a date")
    check(services(svc.sid).fetch().friendly_name == "Acme", "fetch reads the service back")
    check(svc.sid in [s.sid for s in services.list()], "list has the service")
    check(services(svc.sid).update(code_length=8).code_length == 8, "update sets code_length")
    services(svc.sid).update(code_length=6)
    refused(60200, 400, lambda: services.create(friendly_name="Acme", code_length=11),
            "a code length over 10")
    verify = services(svc.sid)

    # -- start, read the code back, a wrong code, the right one
    v = verify.verifications.create(to=TO, channel="sms")
    check(v.sid.startswith("VE") and v.status == "pending", f"a pending VE verification: {v.status}")
    check(len(v.send_code_attempts) == 1, "one send attempt")
    code = code_sent_to(client, TO)
    check(len(code) == 6 and code.isdigit(), f"the code has 6 digits: {code}")
    denied = verify.verification_checks.create(to=TO, code=wrong(code))
    check(denied.status == "pending" and denied.valid is False, f"a wrong code is pending: {denied.status}")
    check(verify.verifications(v.sid).fetch().status == "pending", "fetch: still pending")
    ok = verify.verification_checks.create(to=TO, code=code)
    check(ok.status == "approved" and ok.valid is True, f"the right code approves: {ok.status}")
    refused(20404, 404, lambda: verify.verifications(v.sid).fetch(), "an approved verification")
    refused(20404, 404, lambda: verify.verification_checks.create(to=TO, code=code),
            "a check without a pending verification")

    # -- by VerificationSid, and canceled
    v = verify.verifications.create(to=TO, channel="sms")
    code = code_sent_to(client, TO)
    ok = verify.verification_checks.create(verification_sid=v.sid, code=code)
    check(ok.status == "approved", "a check by verification_sid approves")
    v = verify.verifications.create(to=TO, channel="call")
    canceled = verify.verifications(v.sid).update(status="canceled")
    check(canceled.status == "canceled", f"update(status='canceled'): {canceled.status}")

    # -- email, and a channel Verify does not have
    mail = verify.verifications.create(to="ann@test.dev", channel="email")
    check(mail.channel == "email", "an email verification")
    code = code_sent_to(client, "ann@test.dev")
    check(verify.verification_checks.create(to="ann@test.dev", code=code).status == "approved",
          "the email code approves")
    refused(60200, 400, lambda: verify.verifications.create(to=TO, channel="pigeon"),
            "an unknown channel")

    # -- five wrong codes, then 60202
    other = "+14155550123"
    verify.verifications.create(to=other, channel="sms")
    code = code_sent_to(client, other)
    for _ in range(5):
        check(verify.verification_checks.create(to=other, code=wrong(code)).status == "pending",
              "a wrong code stays pending")
    refused(60202, 429, lambda: verify.verification_checks.create(to=other, code=code),
            "the sixth check")

    # -- five sends, then 60203
    third = "+14155550124"
    first = verify.verifications.create(to=third, channel="sms")
    for n in range(2, 6):
        again = verify.verifications.create(to=third, channel="sms")
        check(again.sid == first.sid and len(again.send_code_attempts) == n,
              f"send {n} reuses the verification")
    bodies = {m.body for m in client.messages.list(to=third)}
    check(len(bodies) == 1, f"every send carries the same code: {bodies}")
    refused(60203, 429, lambda: verify.verifications.create(to=third, channel="sms"), "the sixth send")

    # -- delete
    check(services(svc.sid).delete() is True, "delete answers True")
    refused(20404, 404, lambda: services(svc.sid).fetch(), "a deleted service")

    print(f"twilio-python {twilio.__version__} Verify: {len(PASSED)} checks passed")


if __name__ == "__main__":
    run(main)
