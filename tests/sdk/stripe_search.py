#!/usr/bin/env python3
"""Searches a live Mirra Stripe mirror's customers with the OFFICIAL `stripe`
Python SDK: `stripe.Customer.search(query=…)` (global style) and
`client.v1.customers.search(params=…)` (StripeClient), `auto_paging_iter()`
over `next_page`, `expand=["total_count"]`, and the SDK's InvalidRequestError
for refused queries. Every search result and error is validated against
Stripe's OpenAPI document.

Environment:
  STRIPE_API_BASE    the session's Stripe base URL (…/m/ses_xxxx/stripe)
  STRIPE_SECRET_KEY  the session's secret key
  MIRRA_SPECS_DIR    folder holding stripe.spec3.json (default:
                     <repo>/../shared/specs)

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
VALIDATORS = {}


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


def allow_null_any_of(node):
    """Stripe writes a nullable reference as `{"anyOf": [...], "nullable": true}`;
    OAS 3.0 validators want an explicit null branch."""
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


def load_validators():
    specs = os.environ.get("MIRRA_SPECS_DIR") or str(
        pathlib.Path(__file__).resolve().parents[3] / "shared" / "specs"
    )
    path = pathlib.Path(specs) / "stripe.spec3.json"
    if not path.is_file():
        raise CheckFailed(f"no Stripe OpenAPI document at {path} (set MIRRA_SPECS_DIR)")
    spec = allow_null_any_of(json.loads(path.read_text()))
    components = spec["components"]
    get = spec["paths"]["/v1/customers/search"]["get"]
    result = get["responses"]["200"]["content"]["application/json"]["schema"]

    def validator(schema):
        return OAS30Validator(dict(schema, components=components))

    VALIDATORS["search_result"] = validator(result)
    VALIDATORS["error"] = validator({"$ref": "#/components/schemas/error"})


def wire(obj):
    resp = getattr(obj, "last_response", None)
    if resp is not None and getattr(resp, "body", None):
        return json.loads(resp.body)
    return obj.to_dict()


def valid(kind, data, what):
    errors = sorted(VALIDATORS[kind].iter_errors(data), key=lambda e: list(e.path))
    detail = "; ".join(f"{'/'.join(map(str, e.path)) or '$'}: {e.message}" for e in errors[:3])
    check(not errors, f"{what} matches the {kind} schema" + (f" ({detail})" if errors else ""))


def expect_error(fn, what, needle, param="query"):
    try:
        fn()
    except stripe.InvalidRequestError as e:
        check(e.http_status == 400, f"{what}: HTTP 400 (got {e.http_status})")
        check(e.param == param, f"{what}: param {param!r} (got {e.param!r})")
        check(needle in str(e.user_message), f"{what}: {needle!r} in {e.user_message!r}")
        valid("error", e.json_body or {}, f"{what} error body")
        return
    except stripe.StripeError as e:
        raise CheckFailed(f"{what}: expected InvalidRequestError, got {type(e).__name__}: {e}")
    raise CheckFailed(f"{what}: expected InvalidRequestError, but the search succeeded")


def main():
    try:
        base = env("STRIPE_API_BASE").rstrip("/")
        key = env("STRIPE_SECRET_KEY")
        load_validators()
        stripe.max_network_retries = 0
        stripe.api_key = key
        stripe.api_base = base
        tag = uuid.uuid4().hex[:10]

        made = []
        for i in range(5):
            c = stripe.Customer.create(
                email=f"search-{tag}-{i}@example.com",
                name=f"Search Person {i}",
                phone=f"+1555{i:04d}",
                metadata={"tag": tag, "parity": "even" if i % 2 == 0 else "odd"},
            )
            made.append(c.id)
        newest_first = list(reversed(made))

        query = f"metadata['tag']:'{tag}'"
        page = stripe.Customer.search(query=query, limit=2)
        valid("search_result", wire(page), "first search page")
        check(page.object == "search_result" and page.url == "/v1/customers/search", "search_result envelope")
        check(page.has_more is True and isinstance(page.next_page, str), "a full page has has_more and next_page")
        check([c.id for c in page.data] == newest_first[:2], "the first page holds the newest two")
        check(all(c.object == "customer" for c in page.data), "results are Customer objects")

        walked = [c.id for c in stripe.Customer.search(query=query, limit=2).auto_paging_iter()]
        check(walked == newest_first, f"auto_paging_iter walks every match newest first ({len(walked)})")

        counted = stripe.Customer.search(query=query, expand=["total_count"])
        valid("search_result", wire(counted), "search with total_count")
        check(counted.total_count == 5, f"expand total_count counts every match (got {counted.total_count})")
        check("total_count" not in wire(page), "total_count only when expanded")

        evens = [c.id for c in stripe.Customer.search(
            query=f"{query} AND metadata['parity']:'even'").auto_paging_iter()]
        check(evens == [made[4], made[2], made[0]], "AND narrows to both clauses")
        either = [c.id for c in stripe.Customer.search(
            query=f"email:'search-{tag}-1@example.com' OR phone:'+15550003'").auto_paging_iter()]
        check(either == [made[3], made[1]], "OR finds either clause")
        check([c.id for c in stripe.Customer.search(query=f"email~'{tag}-4'").data] == [made[4]],
              "email~ finds a substring")
        check([c.id for c in stripe.Customer.search(query=f"{query} name:'person 2'").data] == [made[2]],
              "name: matches a phrase, case insensitive")
        not_odd = [c.id for c in stripe.Customer.search(
            query=f"{query} -metadata['parity']:'odd'").auto_paging_iter()]
        check(not_odd == evens, "- negates a clause")
        created = stripe.Customer.retrieve(made[0]).created
        recent = [c.id for c in stripe.Customer.search(
            query=f"{query} created>={created}").auto_paging_iter()]
        check(recent == newest_first, "created>= compares timestamps")

        client = stripe.StripeClient(key, base_addresses={"api": base})
        res = client.v1.customers.search(params={"query": query, "limit": 3})
        valid("search_result", wire(res), "StripeClient search page")
        check([c.id for c in res.data] == newest_first[:3], "StripeClient search")
        check([c.id for c in res.auto_paging_iter()] == newest_first, "StripeClient auto_paging_iter")

        stripe.Customer.delete(made[0])
        left = [c.id for c in stripe.Customer.search(query=query).auto_paging_iter()]
        check(left == newest_first[:-1], "a deleted customer is no longer found")

        expect_error(lambda: stripe.Customer.search(query="emial:'a@b.co'"), "unknown field",
                     "unsupported search field for resource `customers`")
        expect_error(lambda: stripe.Customer.search(query="email:'a' AND name:'b' OR phone:'c'"),
                     "AND mixed with OR", "AND and OR cannot be combined")
        expect_error(lambda: stripe.Customer.search(query="name~'ab'"), "short substring",
                     "at least 3 characters")
        expect_error(lambda: stripe.Customer.search(query=query, page="garbage"), "bad page",
                     "Invalid page", param="page")
    except CheckFailed as e:
        print(f"FAIL: {e} (after {len(PASSED)} passed checks)", file=sys.stderr)
        return 1
    except stripe.StripeError as e:
        print(f"FAIL: unexpected {type(e).__name__} (HTTP {e.http_status}): {e} (after {len(PASSED)} passed checks)",
              file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        print(f"FAIL: unexpected exception (after {len(PASSED)} passed checks)", file=sys.stderr)
        return 1
    print(f"stripe SDK {stripe.VERSION} search: {len(PASSED)} checks passed against {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
