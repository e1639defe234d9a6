#!/usr/bin/env python3
"""The OFFICIAL Python SDKs (stripe, resend, twilio) left at their DEFAULT
base URLs — api.stripe.com, api.resend.com, api.twilio.com,
verify.twilio.com — reaching a Mirra session through `mirra proxy` only.

Environment: exactly what `mirra env --proxy` printed (HTTPS_PROXY,
REQUESTS_CA_BUNDLE, SSL_CERT_FILE, STRIPE_SECRET_KEY, RESEND_API_KEY,
TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, …) and nothing else of Mirra's.
requests (resend-python, twilio-python, and stripe-python's default client)
reads HTTPS_PROXY and REQUESTS_CA_BUNDLE itself; stripe-python verifies
against its own CA file, so it gets the one line the README gives it.
Exits non-zero with a message on the first failure; prints a summary line.
"""

import os

import resend
import stripe
from checks import PASSED, check, env, run
from checks import twilio_refused as refused
from twilio.rest import Client


def main():
    for name in ("STRIPE_API_BASE", "RESEND_BASE_URL", "RESEND_API_URL", "TWILIO_BASE_URL"):
        check(name not in os.environ, f"no base URL for the SDKs ({name} unset)")

    # The one line stripe-python needs: it pins its own CA bundle.
    stripe.ca_bundle_path = os.environ["REQUESTS_CA_BUNDLE"]
    stripe.api_key = env("STRIPE_SECRET_KEY")
    check(stripe.api_base == "https://api.stripe.com", "stripe-python at its default URL")
    customer = stripe.Customer.create(email="proxy-python@example.com")
    check(customer.id.startswith("cus_"), f"a customer through the proxy: {customer.id}")
    check(
        stripe.Customer.retrieve(customer.id).email == "proxy-python@example.com",
        "it reads back",
    )
    try:
        stripe.Customer.list(api_key="sk_test_nosuchsession")
        raise AssertionError("an unknown key was accepted")
    except stripe.AuthenticationError as e:
        check(e.http_status == 401, f"an unknown key: Stripe's 401, got {e.http_status}")

    resend.api_key = env("RESEND_API_KEY")
    sent = resend.Emails.send(
        {"from": "App <app@example.com>", "to": "delivered@resend.dev", "subject": "via proxy", "text": "hi"}
    )
    check(resend.Emails.get(sent["id"])["subject"] == "via proxy", "an email through the proxy")

    twilio = Client(env("TWILIO_ACCOUNT_SID"), env("TWILIO_AUTH_TOKEN"))
    msg = twilio.messages.create(to="+15005550010", from_="+15005550006", body="via proxy")
    check(msg.sid.startswith("SM"), f"a message through the proxy: {msg.sid}")
    service = twilio.verify.v2.services.create(friendly_name="Proxy")
    check(service.sid.startswith("VA"), "Verify on verify.twilio.com through the proxy")
    stranger = Client("AC" + "0" * 32, "nope")
    refused(
        20003,
        lambda: stranger.messages.create(to="+15005550010", from_="+15005550006", body="x"),
        "an unknown Account SID",
        401,
    )

    print(f"proxy_defaults.py: {len(PASSED)} checks passed")


run(main)
