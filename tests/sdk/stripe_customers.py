#!/usr/bin/env python3
"""Drives a live Mirra Stripe mirror with the OFFICIAL `stripe` Python SDK.

Environment:
  STRIPE_API_BASE          the session's Stripe base URL (…/m/ses_xxxx/stripe)
  STRIPE_SECRET_KEY        the session's secret key
  STRIPE_OTHER_SECRET_KEY  another session's secret key (must be refused here)
  STRIPE_OTHER_API_BASE    optional: that other session's base URL (to prove its
                           state does not contain this session's customers)
  MIRRA_SPECS_DIR          folder holding stripe.spec3.json (default:
                           <repo>/../shared/specs)

Exercises customers create/retrieve/update/delete/list with both the
`StripeClient` style and the global `stripe.api_base` style, auto-pagination in
both directions, the SDK's error classes, and idempotent replays; every JSON
object that comes back is validated against Stripe's OpenAPI schema.
Exits non-zero with a message on the first failure; prints one summary line.
"""

import json
import os
import pathlib
import sys
import traceback
import uuid

import stripe
from openapi_schema_validator import OAS30Validator

PASSED = []


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)
    PASSED.append(what)


def env(name, required=True):
    value = os.environ.get(name, "")
    if required and not value:
        raise CheckFailed(f"environment variable {name} is not set")
    return value


# ------------------------------------------------------------------ OpenAPI


def load_validators():
    specs = os.environ.get("MIRRA_SPECS_DIR") or str(
        pathlib.Path(__file__).resolve().parents[3] / "shared" / "specs"
    )
    path = pathlib.Path(specs) / "stripe.spec3.json"
    if not path.is_file():
        raise CheckFailed(f"no Stripe OpenAPI document at {path} (set MIRRA_SPECS_DIR)")
    spec = allow_null_any_of(json.loads(path.read_text()))
    components = spec["components"]
    list_schema = spec["paths"]["/v1/customers"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]

    def validator(schema):
        # The spec's components ride along so that `#/components/…` refs resolve.
        return OAS30Validator(dict(schema, components=components))

    return {
        "customer": validator({"$ref": "#/components/schemas/customer"}),
        "deleted_customer": validator({"$ref": "#/components/schemas/deleted_customer"}),
        "error": validator({"$ref": "#/components/schemas/error"}),
        "list": validator(list_schema),
    }


def allow_null_any_of(node):
    """Stripe writes a nullable reference as `{"anyOf": [...], "nullable": true}`.
    OAS 3.0 ties `nullable` to `type`, so OAS30Validator rejects `null` there;
    spell Stripe's intent out as an explicit null branch."""
    if isinstance(node, dict):
        for v in node.values():
            allow_null_any_of(v)
        for k in ("anyOf", "oneOf"):
            if node.get("nullable") is True and isinstance(node.get(k), list):
                node[k].append({"enum": [None]})
    elif isinstance(node, list):
        for v in node:
            allow_null_any_of(v)
    return node


VALIDATORS = {}


def wire(obj):
    """The JSON the server sent for `obj` (its last response), else its dict form."""
    resp = getattr(obj, "last_response", None)
    if resp is not None and getattr(resp, "body", None):
        return json.loads(resp.body)
    return obj.to_dict()


def valid(kind, data, what):
    errors = sorted(VALIDATORS[kind].iter_errors(data), key=lambda e: list(e.path))
    detail = "; ".join(f"{'/'.join(map(str, e.path)) or '$'}: {e.message}" for e in errors[:3])
    check(not errors, f"{what} matches the {kind} schema" + (f" ({detail})" if errors else ""))


DEFAULT_FIELDS = None


def full_customer(data, what):
    valid("customer", data, what)
    missing = DEFAULT_FIELDS - set(data)
    check(not missing, f"{what} has every customer field (missing {sorted(missing)})")


def expect_error(cls, fn, what, **attrs):
    try:
        fn()
    except cls as e:
        for k, v in attrs.items():
            check(getattr(e, k) == v, f"{what}: {k} == {v!r} (got {getattr(e, k)!r})")
        body = e.json_body or {}
        valid("error", body, f"{what} error body")
        return e
    except stripe.StripeError as e:
        raise CheckFailed(f"{what}: expected {cls.__name__}, got {type(e).__name__}: {e}")
    raise CheckFailed(f"{what}: expected {cls.__name__}, but the call succeeded")


def header(obj, name):
    resp = getattr(obj, "last_response", None)
    if resp is None:
        return None
    for k, v in resp.headers.items():
        if k.lower() == name:
            return v
    return None


# ------------------------------------------------------------------ checks


def client_style(base, key, tag):
    client = stripe.StripeClient(key, base_addresses={"api": base})
    customers = client.v1.customers

    c = customers.create(
        params={
            "email": f"ada+{tag}@example.com",
            "name": "Ada Lovelace",
            "metadata": {"plan": "pro", "team": "core"},
            "address": {"line1": "12 St James's Square", "city": "London", "country": "GB"},
            "preferred_locales": ["en", "fr"],
            "invoice_settings": {"custom_fields": [{"name": "PO", "value": "42"}], "footer": "Thanks"},
        }
    )
    full_customer(wire(c), "StripeClient create")
    check(c.id.startswith("cus_") and c.object == "customer", "create returns a cus_ id")
    check(c.metadata["plan"] == "pro" and c.address.city == "London", "create stores nested params")
    check(list(c.preferred_locales) == ["en", "fr"], "create stores indexed lists")
    check(c.invoice_settings.custom_fields[0].name == "PO", "create stores lists of hashes")
    check(header(c, "request-id") is not None and header(c, "request-id").startswith("req_"), "Request-Id header")

    got = customers.retrieve(c.id)
    full_customer(wire(got), "StripeClient retrieve")
    check(wire(got) == wire(c), "retrieve returns what create returned")

    up = customers.update(c.id, params={"metadata": {"plan": "", "seats": "3"}, "description": "VIP"})
    full_customer(wire(up), "StripeClient update")
    check(up.metadata.to_dict() == {"team": "core", "seats": "3"}, "metadata[k]='' unsets one key, others merge")
    check(up.description == "VIP" and up.email == c.email, "update keeps absent fields")
    up = customers.update(c.id, params={"metadata": ""})
    check(up.metadata.to_dict() == {}, "metadata='' unsets every key")

    expanded = customers.retrieve(c.id, params={"expand": ["sources", "tax"]})
    valid("customer", wire(expanded), "expanded retrieve")
    check(expanded.sources.object == "list" and expanded.tax.automatic_tax, "expand adds sources and tax")

    e = expect_error(stripe.InvalidRequestError, lambda: customers.retrieve("cus_doesnotexist"), "retrieve unknown",
                     code="resource_missing", http_status=404, param="id")
    check("No such customer: 'cus_doesnotexist'" in str(e.user_message), "resource_missing message")
    expect_error(stripe.InvalidRequestError, lambda: customers.create(params={"bogus": "1"}), "unknown parameter",
                 code="parameter_unknown", http_status=400, param="bogus")
    expect_error(stripe.InvalidRequestError, lambda: customers.create(params={"email": "not-an-email"}), "bad email",
                 code="email_invalid", http_status=400)

    # Idempotency.
    key = f"sdk-{tag}-1"
    first = customers.create(params={"email": f"idem+{tag}@example.com"}, options={"idempotency_key": key})
    again = customers.create(params={"email": f"idem+{tag}@example.com"}, options={"idempotency_key": key})
    check(again.id == first.id, "an idempotent replay returns the first customer")
    check(header(again, "idempotent-replayed") == "true", "a replay carries Idempotent-Replayed: true")
    check(header(first, "idempotent-replayed") is None, "the first response is not marked replayed")
    expect_error(stripe.IdempotencyError,
                 lambda: customers.create(params={"email": f"other+{tag}@example.com"}, options={"idempotency_key": key}),
                 "same key, other params", http_status=400)
    n = len(customers.list(params={"email": f"idem+{tag}@example.com"}).data)
    check(n == 1, f"the replay created nothing ({n} customers with that email)")

    # Delete.
    gone = customers.delete(first.id)
    valid("deleted_customer", wire(gone), "delete response")
    check(gone.deleted is True and gone.id == first.id, "delete returns a deleted stub")
    again = customers.retrieve(first.id)
    valid("deleted_customer", wire(again), "retrieve of a deleted customer")
    check(getattr(again, "deleted", False) is True, "a deleted customer retrieves as deleted")
    expect_error(stripe.InvalidRequestError, lambda: customers.update(first.id, params={"name": "x"}),
                 "update a deleted customer", code="resource_missing", http_status=404)
    expect_error(stripe.InvalidRequestError, lambda: customers.delete(first.id), "delete twice",
                 code="resource_missing", http_status=404)

    # Wrong key.
    bad = stripe.StripeClient("sk_test_" + "x" * 24, base_addresses={"api": base})
    e = expect_error(stripe.AuthenticationError, lambda: bad.v1.customers.list(), "wrong key", http_status=401)
    check("Invalid API Key provided: sk_test_" in str(e.user_message), "wrong key message is Stripe's")
    return c.id


def global_style(base, key, tag):
    stripe.api_key = key
    stripe.api_base = base
    email = f"page+{tag}@example.com"
    made = []
    for i in range(5):
        c = stripe.Customer.create(email=email, name=f"Page {i}", metadata={"i": str(i)},
                                   idempotency_key=f"sdk-{tag}-page-{i}")
        full_customer(wire(c), f"global create {i}")
        made.append(c.id)
    replay = stripe.Customer.create(email=email, name="Page 0", metadata={"i": "0"}, idempotency_key=f"sdk-{tag}-page-0")
    check(replay.id == made[0], "global-style idempotent replay returns the first customer")

    page = stripe.Customer.list(limit=2, email=email)
    valid("list", wire(page), "list page")
    check(page.url == "/v1/customers" and page.has_more is True and len(page.data) == 2, "list page shape")
    seen = [c.id for c in stripe.Customer.list(limit=2, email=email).auto_paging_iter()]
    check(seen == list(reversed(made)), "auto_paging_iter(limit=2) walks every customer newest first")
    for c in stripe.Customer.list(limit=2, email=email).auto_paging_iter():
        full_customer(c.to_dict(), "auto-paged customer")
        break
    back = [c.id for c in stripe.Customer.list(limit=2, email=email, ending_before=made[0]).auto_paging_iter()]
    check(back == made[1:], "auto_paging_iter with ending_before walks back to the newest")

    everyone = [c.id for c in stripe.Customer.list(limit=3).auto_paging_iter()]
    check(len(everyone) == len(set(everyone)) and set(made) <= set(everyone), "paging all customers: no repeats, none missing")

    c = stripe.Customer.retrieve(made[2])
    full_customer(wire(c), "global retrieve")
    c = stripe.Customer.modify(made[2], metadata={"i": "", "k": "v"}, name="Renamed")
    check(c.metadata.to_dict() == {"k": "v"} and c.name == "Renamed", "global modify merges and unsets metadata")
    d = stripe.Customer.delete(made[2])
    check(d.deleted is True, "global delete")
    rest = [c.id for c in stripe.Customer.list(limit=2, email=email).auto_paging_iter()]
    check(made[2] not in rest and len(rest) == 4, "deleted customers leave the list")

    e = expect_error(stripe.InvalidRequestError, lambda: stripe.Customer.retrieve("cus_missing"),
                     "global retrieve unknown", code="resource_missing", http_status=404)
    check(e.json_body["error"]["type"] == "invalid_request_error", "error type")
    expect_error(stripe.InvalidRequestError, lambda: stripe.Customer.list(limit=500), "limit over 100",
                 http_status=400, param="limit")

    stripe.api_key = "sk_test_" + "y" * 24
    expect_error(stripe.AuthenticationError, lambda: stripe.Customer.list(), "global wrong key", http_status=401)
    stripe.api_key = key


def isolation(base, key, other_key, other_base, customer_id):
    other = stripe.StripeClient(other_key, base_addresses={"api": base})
    expect_error(stripe.AuthenticationError, lambda: other.v1.customers.retrieve(customer_id),
                 "another session's key on this session", http_status=401)
    if other_base:
        theirs = stripe.StripeClient(other_key, base_addresses={"api": other_base})
        expect_error(stripe.InvalidRequestError, lambda: theirs.v1.customers.retrieve(customer_id),
                     "this session's customer through the other session", code="resource_missing", http_status=404)
        ids = {c.id for c in theirs.v1.customers.list(params={"limit": 100}).auto_paging_iter()}
        check(customer_id not in ids, "the other session's list does not show this session's customer")


def main():
    global DEFAULT_FIELDS
    try:
        base = env("STRIPE_API_BASE").rstrip("/")
        key = env("STRIPE_SECRET_KEY")
        other_key = env("STRIPE_OTHER_SECRET_KEY")
        other_base = env("STRIPE_OTHER_API_BASE", required=False).rstrip("/")
        VALIDATORS.update(load_validators())
        props = VALIDATORS["customer"].schema["components"]["schemas"]["customer"]["properties"]
        DEFAULT_FIELDS = set(props) - {"sources", "subscriptions", "tax_ids", "tax"}
        tag = uuid.uuid4().hex[:10]
        stripe.max_network_retries = 0
        customer_id = client_style(base, key, tag)
        global_style(base, key, tag)
        isolation(base, key, other_key, other_base, customer_id)
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
    print(f"stripe SDK {stripe.VERSION}: {len(PASSED)} checks passed against {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
