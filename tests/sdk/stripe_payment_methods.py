#!/usr/bin/env python3
"""Drives a live Mirra Stripe mirror's payment methods with the OFFICIAL `stripe`
Python SDK.

Environment:
  STRIPE_API_BASE          the session's Stripe base URL (…/m/ses_xxxx/stripe)
  STRIPE_SECRET_KEY        the session's secret key
  MIRRA_SPECS_DIR          folder holding stripe.spec3.json (default:
                           <repo>/../shared/specs); error bodies are checked
                           against its `error` schema

Creates card payment methods from a test token and from a card number, attaches
them to a customer (a `pm_card_*` name included), lists a customer's methods
(auto-pagination), sets and expands a default payment method, detaches, and
checks the SDK's CardError / InvalidRequestError for Stripe's card errors. Every
payment method that comes back must have only the fields the SDK's own types
give the pinned API version. Exits non-zero with a message on the first failure;
prints one summary line.
"""

import datetime
import json
import os
import sys
import traceback

import stripe
from checks import sdk_fields as fields
from checks import stripe_error_validator as error_validator

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




ERROR = None


def wire(obj):
    """The JSON the server sent for `obj` (its last response), else its dict form."""
    resp = getattr(obj, "last_response", None)
    if resp is not None and getattr(resp, "body", None):
        return json.loads(resp.body)
    return obj.to_dict()




PM_FIELDS = fields(stripe.PaymentMethod)
CARD_FIELDS = fields(stripe.PaymentMethod.Card)


def full_method(data, what):
    check(data.get("object") == "payment_method", f"{what} is a payment_method")
    extra = set(data) - PM_FIELDS
    check(not extra, f"{what} has only the SDK's PaymentMethod fields (extra {sorted(extra)})")
    card = data.get("card") or {}
    extra = set(card) - CARD_FIELDS
    check(not extra, f"{what}.card has only the SDK's Card fields (extra {sorted(extra)})")
    needed = {"brand", "checks", "country", "display_brand", "exp_month", "exp_year", "fingerprint",
              "funding", "last4", "networks", "three_d_secure_usage", "wallet"}
    check(needed <= set(card), f"{what}.card has {sorted(needed - set(card))}")


def expect_error(cls, fn, what, **attrs):
    try:
        fn()
    except cls as e:
        for k, v in attrs.items():
            check(getattr(e, k) == v, f"{what}: {k} == {v!r} (got {getattr(e, k)!r})")
        errors = list(ERROR.iter_errors(e.json_body or {}))
        check(not errors, f"{what}: the error body matches the spec ({errors[:1]})")
        return e
    except stripe.StripeError as e:
        raise CheckFailed(f"{what}: expected {cls.__name__}, got {type(e).__name__}: {e}")
    raise CheckFailed(f"{what}: expected {cls.__name__}, but the call succeeded")


def client_style(base, key):
    client = stripe.StripeClient(key, base_addresses={"api": base})
    pms = client.v1.payment_methods
    year = datetime.date.today().year + 2

    by_token = pms.create(params={"type": "card", "card": {"token": "tok_visa"},
                                  "billing_details": {"name": "Jenny Rosen"}})
    full_method(wire(by_token), "create from tok_visa")
    check(by_token.id.startswith("pm_") and by_token.card.last4 == "4242", "tok_visa is a Visa ending 4242")
    check(by_token.card.brand == "visa" and by_token.card.funding == "credit", "brand and funding")
    check(by_token.billing_details.name == "Jenny Rosen", "billing details")

    by_number = pms.create(params={"type": "card", "card": {"number": "4000056655665556", "exp_month": 12,
                                                             "exp_year": year, "cvc": "123"}})
    full_method(wire(by_number), "create from a number")
    check(by_number.card.funding == "debit" and by_number.card.exp_year == year, "a debit card with its expiry")
    visa_number = pms.create(params={"type": "card", "card": {"number": "4242424242424242", "exp_month": 1,
                                                               "exp_year": year}})
    check(visa_number.card.fingerprint == by_token.card.fingerprint, "a token and its number share a fingerprint")
    check(by_number.card.fingerprint != by_token.card.fingerprint, "other numbers have other fingerprints")

    e = expect_error(stripe.CardError, lambda: pms.create(params={
        "type": "card", "card": {"number": "4242424242424241", "exp_month": 1, "exp_year": year}}),
        "Luhn-invalid number", code="incorrect_number", http_status=402, param="number")
    check(e.user_message == "Your card number is incorrect.", "incorrect_number message")

    described = pms.retrieve("pm_card_amex")
    full_method(wire(described), "retrieve pm_card_amex")
    check(described.card.brand == "amex" and described.id != "pm_card_amex", "pm_card_amex describes an Amex")
    expect_error(stripe.InvalidRequestError, lambda: pms.retrieve("pm_missing"), "retrieve unknown",
                 code="resource_missing", http_status=404)

    customer = client.v1.customers.create(params={"email": "pm@example.com"})
    attached = pms.attach(by_token.id, params={"customer": customer.id})
    full_method(wire(attached), "attach")
    check(attached.customer == customer.id, "attach sets the customer")
    check(attached.card.checks.cvc_check == "pass", "attaching checks the CVC")
    from_name = pms.attach("pm_card_mastercard", params={"customer": customer.id})
    check(from_name.id.startswith("pm_") and from_name.card.brand == "mastercard",
          "attaching pm_card_mastercard stores a new method")
    e = expect_error(stripe.CardError, lambda: pms.attach("pm_card_chargeDeclinedInsufficientFunds",
                                                          params={"customer": customer.id}),
                     "attach a declined card", code="card_declined", http_status=402)
    check(e.error.decline_code == "insufficient_funds", "the decline code says why")
    pms.attach("pm_card_chargeCustomerFail", params={"customer": customer.id})

    listed = [pm.id for pm in client.v1.customers.payment_methods.list(
        customer.id, params={"limit": 1}).auto_paging_iter()]
    check(len(listed) == 3 and listed[1:] == [from_name.id, by_token.id],
          "the customer's methods, newest first, across pages")
    for pm in client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"}).data:
        full_method(pm.to_dict(), "listed method")

    updated = client.v1.customers.update(customer.id, params={
        "invoice_settings": {"default_payment_method": by_token.id},
        "expand": ["invoice_settings.default_payment_method"]})
    check(updated.invoice_settings.default_payment_method.id == by_token.id,
          "the default payment method expands")
    expect_error(stripe.InvalidRequestError, lambda: client.v1.customers.update(customer.id, params={
        "invoice_settings": {"default_payment_method": by_number.id}}),
        "an unattached default payment method", http_status=400)

    changed = pms.update(by_token.id, params={"metadata": {"k": "v"}, "card": {"exp_month": 6, "exp_year": year}})
    check(changed.metadata["k"] == "v" and changed.card.exp_month == 6, "update an attached method")

    detached = pms.detach(by_token.id)
    check(detached.customer is None, "detach clears the customer")
    expect_error(stripe.InvalidRequestError, lambda: pms.detach(by_token.id), "detach twice", http_status=400)
    again = client.v1.customers.retrieve(customer.id)
    check(again.invoice_settings.default_payment_method is None, "detaching the default unsets it")


def global_style(base, key):
    stripe.api_key = key
    stripe.api_base = base
    pm = stripe.PaymentMethod.create(type="card", card={"token": "tok_mastercard"})
    full_method(wire(pm), "global create")
    customer = stripe.Customer.create(payment_method=pm.id,
                                      invoice_settings={"default_payment_method": pm.id})
    check(customer.invoice_settings.default_payment_method == pm.id, "customer create attaches its payment method")
    listed = stripe.Customer.list_payment_methods(customer.id)
    check([m.id for m in listed.data] == [pm.id], "Customer.list_payment_methods")
    other = stripe.PaymentMethod.attach("pm_card_visa", customer=customer.id)
    check(other.customer == customer.id, "PaymentMethod.attach with a pm_card_* name")
    gone = stripe.PaymentMethod.detach(other.id)
    check(gone.customer is None, "PaymentMethod.detach")
    expect_error(stripe.CardError, lambda: stripe.PaymentMethod.create(
        type="card", card={"number": "4242424242424242", "exp_month": 13, "exp_year": 2040}),
        "global bad month", code="invalid_expiry_month", http_status=402)


def main():
    global ERROR
    try:
        base = env("STRIPE_API_BASE").rstrip("/")
        key = env("STRIPE_SECRET_KEY")
        ERROR = error_validator()
        stripe.max_network_retries = 0
        client_style(base, key)
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
    print(f"stripe SDK {stripe.VERSION}: {len(PASSED)} payment-method checks passed against {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
