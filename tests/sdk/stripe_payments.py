#!/usr/bin/env python3
"""Drives a live Mirra Stripe mirror's payments with the OFFICIAL `stripe` Python
SDK.

Environment:
  STRIPE_API_BASE          the session's Stripe base URL (…/m/ses_xxxx/stripe)
  STRIPE_SECRET_KEY        the session's secret key
  MIRRA_SPECS_DIR          folder holding stripe.spec3.json (default:
                           <repo>/../shared/specs); error bodies are checked
                           against its `error` schema

A card payment (its charge and balance transaction, found by search), every
decline token with its code and decline_code, 3-D Secure to `requires_action`
then completed and then failed (Mirra's test helper, and the page a browser opens), manual capture
(partial), cancel, full, partial and over-refunds, a SetupIntent then an
off-session payment, and the events each change raises, in order. Every object
that comes back must have only the fields the SDK's own classes give the pinned
API version. Exits non-zero with a message on the first failure; prints one
summary line.
"""

import json
import os
import sys
import traceback
import urllib.parse
import urllib.request

import stripe
from checks import sdk_fields as fields
from checks import stripe_error_validator as error_validator

PASSED = []
ERROR = None
CARD = {"allowed_payment_method_types": ["card"]}


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






SHAPES = {
    "payment_intent": fields(stripe.PaymentIntent),
    "charge": fields(stripe.Charge),
    "refund": fields(stripe.Refund),
    "setup_intent": fields(stripe.SetupIntent),
    "balance_transaction": fields(stripe.BalanceTransaction),
}


def shaped(obj, what):
    data = obj if isinstance(obj, dict) else obj.to_dict()
    kind = data.get("object")
    extra = set(data) - SHAPES[kind]
    check(not extra, f"{what}: a {kind} with only the SDK's fields (extra {sorted(extra)})")
    return obj


def expect_error(cls, fn, what, **attrs):
    try:
        fn()
    except cls as e:
        for k, v in attrs.items():
            got = getattr(e, k) if hasattr(e, k) else getattr(e.error, k)
            check(got == v, f"{what}: {k} == {v!r} (got {got!r})")
        # The objects an error carries are the pinned version's (newer than the
        # 2020 document): they are checked against the SDK's classes instead.
        body = json.loads(json.dumps(e.json_body or {}))
        carried = {k: body.get("error", {}).pop(k, None) for k in ("payment_intent", "payment_method", "setup_intent")}
        errors = list(ERROR.iter_errors(body))
        check(not errors, f"{what}: the error body matches the spec ({errors[:1]})")
        for obj in carried.values():
            if obj and obj.get("object") in SHAPES:
                shaped(obj, f"{what}: the {obj['object']} in the error")
        return e
    except stripe.StripeError as e:
        raise CheckFailed(f"{what}: expected {cls.__name__}, got {type(e).__name__}: {e}")
    raise CheckFailed(f"{what}: expected {cls.__name__}, but the call succeeded")


class Payments:
    def __init__(self, base, key):
        self.base = base
        self.client = stripe.StripeClient(key, base_addresses={"api": base})
        self.pis = self.client.v1.payment_intents

    def pay(self, amount, pm, **extra):
        return self.pis.create(params={"amount": amount, "currency": "usd", "payment_method": pm,
                                       "confirm": True, **CARD, **extra})

    def marker(self):
        page = self.client.v1.events.list(params={"limit": 1})
        return page.data[0].id if page.data else None

    def events_since(self, marker):
        params = {"limit": 100}
        if marker:
            params["ending_before"] = marker
        return [e.type for e in reversed(self.client.v1.events.list(params=params).data)]

    def helper(self, path, **params):
        resp = self.client.raw_request("post", path, **params)
        return json.loads(resp.body)

    def card_payment(self):
        mark = self.marker()
        pi = shaped(self.pay(2000, "pm_card_visa", description="Order 1", metadata={"order": "py-1"}),
                    "card payment")
        check(pi.status == "succeeded" and pi.amount_received == 2000, "a card payment succeeds")
        check(pi.client_secret.startswith(pi.id + "_secret_"), "with a client secret")
        charge = shaped(self.client.v1.charges.retrieve(
            pi.latest_charge, params={"expand": ["balance_transaction"]}), "its charge")
        check(charge.paid and charge.captured and charge.amount_captured == 2000, "latest_charge is captured")
        check(charge.payment_method_details.card.last4 == "4242", "the charge's card")
        check(charge.outcome.type == "authorized" and charge.outcome.risk_level == "normal", "its outcome")
        bt = charge.balance_transaction
        shaped(bt, "its balance transaction")
        check((bt.amount, bt.fee, bt.net) == (2000, 88, 1912), "2.9 % + 30¢: fee 88, net 1912")
        check(self.events_since(mark) == ["payment_intent.created", "charge.succeeded",
                                          "payment_intent.succeeded", "charge.updated"],
              "a payment raises Stripe's events in order")
        listed = self.client.v1.charges.list(params={"payment_intent": pi.id})
        check([c.id for c in listed.data] == [charge.id], "charges list by payment_intent")
        found = self.pis.search(params={"query": "status:'succeeded' AND metadata['order']:'py-1'"})
        check([p.id for p in found.data] == [pi.id], "PaymentIntent search by status and metadata")
        found = self.client.v1.charges.search(params={"query": "payment_method_details.card.last4:'4242'"})
        check(charge.id in [c.id for c in found.auto_paging_iter()], "Charge search by the card's last4")
        return pi

    def declines(self):
        cases = [
            ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
            ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
            ("pm_card_chargeDeclinedLostCard", "card_declined", "lost_card"),
            ("pm_card_chargeDeclinedStolenCard", "card_declined", "stolen_card"),
            ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
            ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc"),
            ("pm_card_chargeDeclinedProcessingError", "processing_error", "processing_error"),
            ("pm_card_visa_chargeDeclinedVelocityLimitExceeded", "card_declined", "card_velocity_exceeded"),
            ("pm_card_chargeCustomerFail", "card_declined", "generic_decline"),
            ("pm_card_radarBlock", "card_declined", "fraudulent"),
        ]
        for token, code, decline_code in cases:
            mark = self.marker()
            e = expect_error(stripe.CardError, lambda: self.pay(1000, token), token,
                             code=code, http_status=402, decline_code=decline_code)
            intent = e.error.payment_intent
            check(intent.status == "requires_payment_method", f"{token}: the intent awaits a new method")
            check(intent.last_payment_error.decline_code == decline_code, f"{token}: last_payment_error")
            failed = self.client.v1.charges.retrieve(e.error.charge)
            check(failed.status == "failed" and failed.failure_code == code, f"{token}: a failed charge is kept")
            check(self.events_since(mark) == ["payment_intent.created", "charge.failed",
                                              "payment_intent.payment_failed"], f"{token}: events")

    def three_d_secure(self):
        mark = self.marker()
        pi = shaped(self.pay(2500, "pm_card_authenticationRequired", return_url="https://shop.example/back"),
                    "3DS intent")
        check(pi.status == "requires_action" and pi.next_action.type == "redirect_to_url",
              "a 3-D Secure card requires action")
        url = pi.next_action.redirect_to_url.url
        check(f"/_mirra/3ds/{pi.id}" in url, "next_action points at the mirror's page")
        with urllib.request.urlopen(url) as page:
            html = page.read().decode()
        check(page.status == 200 and "Complete" in html and "Fail" in html, "the page opens without a key")
        done = self.helper(f"/v1/test_helpers/mirra/payment_intents/{pi.id}/authenticate", outcome="complete")
        check(done["status"] == "succeeded", "completing authentication succeeds")
        check(self.pis.retrieve(pi.id).status == "succeeded", "the intent is succeeded")
        check(self.events_since(mark) == ["payment_intent.created", "payment_intent.requires_action",
                                          "charge.succeeded", "payment_intent.succeeded", "charge.updated"],
              "3DS events in order")

        pi = self.pay(2500, "pm_card_threeDSecure2Required")
        check(pi.next_action.type == "use_stripe_sdk", "without return_url: use_stripe_sdk")
        failed = self.helper(f"/v1/test_helpers/mirra/payment_intents/{pi.id}/authenticate", outcome="fail")
        check(failed["status"] == "requires_payment_method", "failing authentication")
        again = self.pis.retrieve(pi.id)
        check(again.last_payment_error.code == "payment_intent_authentication_failure",
              "last_payment_error says authentication failed")

        # The page's own Complete button, as a browser posts it (no key).
        pi = self.pay(2600, "pm_card_authenticationRequired")
        secret = pi.client_secret
        form = urllib.parse.urlencode({"client_secret": secret, "outcome": "complete"}).encode()
        page_url = pi.next_action.use_stripe_sdk["stripe_js"].split("?")[0]
        with urllib.request.urlopen(urllib.request.Request(page_url, data=form)) as page:
            check(page.status == 200 and "succeeded" in page.read().decode(), "the page's Complete button")
        check(self.pis.retrieve(pi.id).status == "succeeded", "… completes the payment")

    def manual_capture_and_cancel(self):
        pi = self.pay(2000, "pm_card_visa", capture_method="manual")
        check(pi.status == "requires_capture" and pi.amount_capturable == 2000, "manual capture authorizes")
        mark = self.marker()
        captured = self.pis.capture(pi.id, params={"amount_to_capture": 1500})
        check(captured.status == "succeeded" and captured.amount_received == 1500, "a partial capture")
        charge = self.client.v1.charges.retrieve(captured.latest_charge)
        check(charge.amount_captured == 1500 and charge.amount_refunded == 500, "the rest is released")
        check(self.events_since(mark) == ["charge.captured", "payment_intent.succeeded"], "capture events")
        expect_error(stripe.InvalidRequestError, lambda: self.pis.capture(pi.id), "capture twice",
                     code="payment_intent_unexpected_state", http_status=400)
        expect_error(stripe.InvalidRequestError, lambda: self.pis.confirm(pi.id), "confirm a succeeded intent",
                     code="payment_intent_unexpected_state",
                     user_message="You cannot confirm this PaymentIntent because it has already succeeded "
                                  "after being previously confirmed.")
        open_pi = self.pis.create(params={"amount": 500, "currency": "usd", **CARD})
        mark = self.marker()
        canceled = self.pis.cancel(open_pi.id, params={"cancellation_reason": "requested_by_customer"})
        check(canceled.status == "canceled" and canceled.cancellation_reason == "requested_by_customer",
              "cancel")
        check(self.events_since(mark) == ["payment_intent.canceled"], "cancel events")

    def refunds(self, pi):
        refunds = self.client.v1.refunds
        mark = self.marker()
        part = shaped(refunds.create(params={"payment_intent": pi.id, "amount": 500}), "partial refund")
        check(part.status == "succeeded" and part.amount == 500, "a partial refund")
        check(self.events_since(mark) == ["refund.created", "charge.refunded"], "refund events")
        charge = self.client.v1.charges.retrieve(pi.latest_charge)
        check(charge.amount_refunded == 500 and not charge.refunded, "the charge follows")
        e = expect_error(stripe.InvalidRequestError,
                         lambda: refunds.create(params={"charge": charge.id, "amount": 5000}),
                         "an over-refund", http_status=400, param="amount")
        check(e.user_message == "Refund amount ($50.00) is greater than unrefunded amount on charge ($15.00)",
              "Stripe's over-refund message")
        rest = refunds.create(params={"charge": charge.id})
        check(rest.amount == 1500, "a full refund of the rest")
        charge = self.client.v1.charges.retrieve(charge.id)
        check(charge.refunded and charge.amount_refunded == 2000, "the charge is refunded")
        expect_error(stripe.InvalidRequestError, lambda: refunds.create(params={"charge": charge.id}),
                     "refund again", code="charge_already_refunded")
        listed = [r.id for r in refunds.list(params={"charge": charge.id}).auto_paging_iter()]
        check(listed == [rest.id, part.id], "refunds list by charge")
        updated = refunds.update(part.id, params={"metadata": {"why": "gift"}})
        check(updated.metadata["why"] == "gift", "refund metadata")
        bts = self.client.v1.balance_transactions.list(params={"type": "refund"}).data
        check(sorted(b.amount for b in bts) == [-1500, -500], "refund balance transactions")

    def setup_then_off_session(self):
        customer = self.client.v1.customers.create(params={"email": "later@example.com"})
        mark = self.marker()
        si = shaped(self.client.v1.setup_intents.create(params={
            "customer": customer.id, "payment_method": "pm_card_authenticationRequiredOnSetup",
            "confirm": True, **CARD}), "setup intent")
        check(si.status == "requires_action", "setting up a 3DS card requires action")
        done = self.helper(f"/v1/test_helpers/mirra/setup_intents/{si.id}/authenticate", outcome="complete")
        check(done["status"] == "succeeded", "the setup succeeds")
        check(self.events_since(mark) == ["setup_intent.created", "setup_intent.requires_action",
                                          "payment_method.attached", "setup_intent.succeeded"],
              "setup events")
        pm = done["payment_method"]
        check(self.client.v1.payment_methods.retrieve(pm).customer == customer.id, "the card is attached")
        paid = self.pay(4200, pm, customer=customer.id, off_session=True)
        check(paid.status == "succeeded", "an off-session payment with the set-up card succeeds")
        fresh = self.client.v1.payment_methods.attach(
            "pm_card_authenticationRequired", params={"customer": customer.id})
        expect_error(stripe.CardError, lambda: self.pay(4200, fresh.id, customer=customer.id, off_session=True),
                     "off session, authentication required", code="authentication_required",
                     decline_code="authentication_required")


def global_style(base, key):
    stripe.api_key = key
    stripe.api_base = base
    pi = stripe.PaymentIntent.create(amount=1200, currency="usd", payment_method="pm_card_mastercard",
                                     automatic_payment_methods={"enabled": True, "allow_redirects": "never"})
    check(pi.status == "requires_confirmation", "global create")
    pi = stripe.PaymentIntent.confirm(pi.id)
    check(pi.status == "succeeded", "PaymentIntent.confirm")
    refund = stripe.Refund.create(payment_intent=pi.id)
    check(refund.amount == 1200, "Refund.create")
    check(stripe.Charge.retrieve(pi.latest_charge).refunded, "Charge.retrieve")


def main():
    global ERROR
    try:
        base = env("STRIPE_API_BASE").rstrip("/")
        key = env("STRIPE_SECRET_KEY")
        ERROR = error_validator()
        stripe.max_network_retries = 0
        p = Payments(base, key)
        pi = p.card_payment()
        p.declines()
        p.three_d_secure()
        p.manual_capture_and_cancel()
        p.refunds(pi)
        p.setup_then_off_session()
        global_style(base, key)
    except CheckFailed as e:
        print(f"FAIL: {e} (after {len(PASSED)} passed checks)", file=sys.stderr)
        return 1
    except stripe.StripeError as e:
        print(f"FAIL: unexpected {type(e).__name__} (HTTP {e.http_status}): {e} (after {len(PASSED)} passed checks)",
              file=sys.stderr)
        return 1
    except Exception:  # a bug in this script or an SDK surprise: still a clear failure
        traceback.print_exc()
        print(f"FAIL: unexpected exception (after {len(PASSED)} passed checks)", file=sys.stderr)
        return 1
    print(f"stripe SDK {stripe.VERSION}: {len(PASSED)} payment checks passed against {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
