#!/usr/bin/env python3
"""Drives a live Mirra Stripe mirror's catalogue with the OFFICIAL `stripe`
Python SDK (`StripeClient` pointed at the session): products, prices,
coupons, promotion codes and tax rates.

Environment:
  STRIPE_API_BASE          the session's Stripe base URL (…/m/ses_xxxx/stripe)
  STRIPE_SECRET_KEY        the session's secret key
  MIRRA_SPECS_DIR          folder holding stripe.spec3.json (default:
                           <repo>/../shared/specs); error bodies are checked
                           against its `error` schema

Products (a default price made with them, custom ids, a name never empty,
default_price only an active price of their own, lists by `active` and
`ids`, search, delete refused while priced), prices (per unit, decimal,
recurring, inline product, graduated and volume tiers returned only when
expanded, transform_quantity, lookup keys unique then transferred, lists,
archive but never the product's default, tax_behavior set once,
search, currency_options when expanded), coupons (percent and amount off,
custom ids reusable once deleted, applies_to when expanded), promotion codes
(the pinned version's `promotion[coupon]`, codes unique among active ones in
any case and of letters, digits and dashes only, no more redemptions than
their coupon's, restrictions, `promotion.coupon` expanded), tax rates, the events
each change raises in order, an idempotent replay, and Stripe's refusals as
the SDK's InvalidRequestError. Every object that comes back must have
exactly the fields the SDK's own class gives the pinned API version. Exits
non-zero with a message on the first failure; prints one summary line.
"""

import json
import re
import time
import uuid
from decimal import Decimal

import stripe
from checks import PASSED, CheckFailed, check, env, run
from checks import sdk_fields as fields
from checks import stripe_error_validator as error_validator

ERROR = None






SHAPES = {
    "product": fields(stripe.Product),
    "price": fields(stripe.Price),
    "coupon": fields(stripe.Coupon),
    "promotion_code": fields(stripe.PromotionCode),
    "tax_rate": fields(stripe.TaxRate),
}
# Only on a deleted object, or only when expanded (`includable` on Stripe).
ON_REQUEST = {"deleted", "tiers", "currency_options", "applies_to"}


def shaped(obj, what, expanded=()):
    """`obj` has only the fields its SDK class annotates, and all of them but
    those Stripe returns on request (`expanded` are expected too)."""
    data = obj if isinstance(obj, dict) else obj.to_dict()
    kind = data.get("object")
    if data.get("deleted") is True:
        check(set(data) == {"id", "object", "deleted"}, f"{what}: a deleted {kind} ({sorted(data)})")
        return obj
    extra = set(data) - SHAPES[kind]
    missing = (SHAPES[kind] - ON_REQUEST | set(expanded)) - set(data)
    check(not extra, f"{what}: a {kind} with only the SDK's fields (extra {sorted(extra)})")
    check(not missing, f"{what}: a {kind} with every field (missing {sorted(missing)})")
    return obj


def refused(fn, what, status=400, **attrs):
    """fn must raise the SDK's InvalidRequestError with HTTP `status` and the
    given attributes (`code`, `param`; `message` is the user message,
    `contains` a part of it); its body must match the spec's error."""
    try:
        fn()
    except stripe.InvalidRequestError as e:
        check(e.http_status == status, f"{what}: HTTP {status} (got {e.http_status}: {e.user_message})")
        contains = attrs.pop("contains", None)
        if contains is not None:
            check(contains in (e.user_message or ""), f"{what}: the message says {contains!r} ({e.user_message!r})")
        for k, v in attrs.items():
            got = e.user_message if k == "message" else getattr(e, k)
            check(got == v, f"{what}: {k} == {v!r} (got {got!r}: {e.user_message})")
        errors = list(ERROR.iter_errors(e.json_body or {}))
        check(not errors, f"{what}: the error body matches the spec ({errors[:1]})")
        return e
    except stripe.StripeError as e:
        raise CheckFailed(f"{what}: expected InvalidRequestError, got {type(e).__name__}: {e}") from e
    raise CheckFailed(f"{what}: expected InvalidRequestError, but the call succeeded")


def wire(obj):
    """The JSON the server sent for `obj` (the SDK reads decimals as Decimal)."""
    return json.loads(obj.last_response.body)


def ids(page):
    return [o.id for o in page.auto_paging_iter()]


class Catalogue:
    def __init__(self, base, key):
        self.client = stripe.StripeClient(key, base_addresses={"api": base}, max_network_retries=0)
        v1 = self.client.v1
        self.products, self.prices, self.coupons = v1.products, v1.prices, v1.coupons
        self.promos, self.tax_rates = v1.promotion_codes, v1.tax_rates

    def marker(self):
        page = self.client.v1.events.list(params={"limit": 1})
        return page.data[0].id if page.data else None

    def events_since(self, marker):
        params = {"limit": 100}
        if marker:
            params["ending_before"] = marker
        return [e.type for e in reversed(self.client.v1.events.list(params=params).data)]

    # ---------------------------------------------------------------- products

    def products_(self):
        mark = self.marker()
        widget = shaped(self.products.create(params={
            "name": "Widget", "description": "A fine widget", "metadata": {"line": "tools", "tier": "a"},
            "default_price_data": {"currency": "usd", "unit_amount": 2500, "recurring": {"interval": "month"}},
        }), "product with a default price")
        check(widget.id.startswith("prod_") and widget.active and widget.name == "Widget", "a product is made")
        check(widget.default_price and widget.default_price.startswith("price_"),
              "default_price_data makes its default price")
        default = shaped(self.prices.retrieve(widget.default_price), "the default price")
        check((default.product, default.unit_amount, default.currency, default.type, default.recurring.interval)
              == (widget.id, 2500, "usd", "recurring", "month"), "the default price is what was asked")
        check(self.events_since(mark) == ["product.created", "price.created"], "product then price created")
        refused(lambda: self.products.create(params={"description": "no name"}), "a product without a name",
                param="name")

        custom = shaped(self.products.create(params={"id": "prod_custom_gadget", "name": "Gadget"}),
                        "product with an id")
        check(custom.id == "prod_custom_gadget" and custom.default_price is None, "a product keeps a custom id")
        refused(lambda: self.products.create(params={"id": "prod_custom_gadget", "name": "Again"}),
                "a taken product id", code="resource_already_exists")
        got = shaped(self.products.retrieve(custom.id), "retrieved product")
        check(got.name == "Gadget" and got.created == custom.created, "retrieve reads it back")

        time.sleep(1.1)  # `updated` moves on in whole seconds
        mark = self.marker()
        updated = shaped(self.products.update(widget.id, params={
            "name": "Widget Pro", "metadata": {"tier": "b"}}), "updated product")
        check(updated.name == "Widget Pro" and updated.description == "A fine widget", "update sets the name only")
        check(updated.metadata.to_dict() == {"line": "tools", "tier": "b"}, "update merges metadata")
        check(updated.updated > widget.updated and updated.created == widget.created, "`updated` moves on")
        check(self.events_since(mark) == ["product.updated"], "product.updated")
        refused(lambda: self.products.update(widget.id, params={"name": ""}), "an empty name",
                code="parameter_invalid_empty", param="name")
        check(self.products.retrieve(widget.id).name == "Widget Pro", "… leaves the name as it was")

        other = self.prices.create(params={"product": custom.id, "currency": "usd", "unit_amount": 100})
        refused(lambda: self.products.update(widget.id, params={"default_price": other.id}),
                "another product's price as default_price", param="default_price")
        second = self.prices.create(params={"product": widget.id, "currency": "usd", "unit_amount": 3000})
        self.prices.update(second.id, params={"active": False})
        refused(lambda: self.products.update(widget.id, params={"default_price": second.id}),
                "an archived price as default_price", param="default_price")
        self.prices.update(second.id, params={"active": True})
        moved = self.products.update(widget.id, params={"default_price": second.id})
        check(moved.default_price == second.id, "an active price of its own becomes the default")
        refused(lambda: self.prices.update(second.id, params={"active": False}), "archiving the default price",
                message="This price cannot be archived because it is the default price of its product.")
        check(self.prices.retrieve(second.id).active is True, "… which stays active")
        expanded = shaped(self.products.retrieve(widget.id, params={"expand": ["default_price"]}), "expanded")
        check(expanded.default_price.id == second.id and expanded.default_price.unit_amount == 3000,
              "expand default_price answers the price")
        shaped(expanded.default_price, "the expanded default price")

        archived = self.products.create(params={"name": "Old thing", "active": False,
                                                "metadata": {"line": "retired"}})
        check(archived.active is False, "a product made inactive")
        listed = ids(self.products.list(params={"active": False}))
        check(listed == [archived.id], f"products list by active=false ({listed})")
        listed = ids(self.products.list(params={"active": True}))
        check(set(listed) == {widget.id, custom.id} and archived.id not in listed, "products list by active=true")
        listed = ids(self.products.list(params={"ids": [widget.id, archived.id]}))
        check(sorted(listed) == sorted([widget.id, archived.id]), "products list by ids[]")
        check(ids(self.products.list()) == [archived.id, custom.id, widget.id], "products list newest first")

        def search(q):
            return sorted(p.id for p in self.products.search(params={"query": q}).auto_paging_iter())

        check(search("name~'Widg'") == [widget.id], "product search by a part of the name")
        check(search("active:'true'") == sorted([widget.id, custom.id]), "product search by active")
        check(search("metadata['line']:'retired'") == [archived.id], "product search by metadata")
        check(search("metadata['line']:'tools' AND name~'Pro'") == [widget.id], "product search with AND")

        refused(lambda: self.products.delete(widget.id), "deleting a product with prices", param="id",
                message="This product cannot be deleted because it has one or more user-created prices.")
        mark = self.marker()
        gone = self.products.delete(archived.id)
        check(gone.id == archived.id and gone.deleted is True, "a product without prices is deleted")
        shaped(gone, "the deleted product")
        check(self.events_since(mark) == ["product.deleted"], "product.deleted")
        refused(lambda: self.products.retrieve(archived.id), "a deleted product", status=404,
                code="resource_missing")
        check(archived.id not in ids(self.products.list()), "a deleted product is not listed")
        return widget

    # ---------------------------------------------------------------- prices

    def prices_(self, product):
        mark = self.marker()
        plain = shaped(self.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 1500,
                                                  "nickname": "standard"}), "per unit price")
        check(plain.id.startswith("price_") and plain.billing_scheme == "per_unit", "a per unit price")
        check(plain.unit_amount == 1500 and plain.unit_amount_decimal == Decimal(1500),
              f"unit_amount_decimal is the same number ({plain.unit_amount_decimal!r})")
        check(wire(plain)["unit_amount_decimal"] == "1500", "… sent as a string")
        check(plain.type == "one_time" and plain.recurring is None and plain.active, "one-time by default")
        check(plain.tax_behavior == "unspecified" and plain.lookup_key is None, "no tax behavior, no lookup key")
        check(self.events_since(mark) == ["price.created"], "price.created")

        dec = shaped(self.prices.create(params={"product": product.id, "currency": "usd",
                                                "unit_amount_decimal": "12.5"}), "decimal price")
        check(dec.unit_amount is None and dec.unit_amount_decimal == Decimal("12.5"), "a fractional unit amount")
        check(wire(dec)["unit_amount_decimal"] == "12.5", "… sent as the string '12.5'")
        monthly = shaped(self.prices.create(params={
            "product": product.id, "currency": "usd", "unit_amount": 900,
            "recurring": {"interval": "month", "interval_count": 3}}), "recurring price")
        check(monthly.type == "recurring", "recurring makes type recurring")
        check((monthly.recurring.interval, monthly.recurring.interval_count, monthly.recurring.usage_type)
              == ("month", 3, "licensed"), "every 3 months, licensed")
        inline = shaped(self.prices.create(params={"currency": "eur", "unit_amount": 700,
                                                   "product_data": {"name": "Inline"}}), "inline product price")
        check(inline.product.startswith("prod_") and inline.product != product.id, "product_data makes a product")
        check(self.products.retrieve(inline.product).name == "Inline", "… with its name")
        per_ten = shaped(self.prices.create(params={
            "product": product.id, "currency": "usd", "unit_amount": 1000,
            "transform_quantity": {"divide_by": 10, "round": "up"}}), "transformed price")
        check(per_ten.transform_quantity.to_dict() == {"divide_by": 10, "round": "up"}, "transform_quantity")

        tiers = [{"up_to": 5, "unit_amount": 1000}, {"up_to": "inf", "unit_amount": 800}]
        for mode in ("graduated", "volume"):
            tiered = self.prices.create(params={"product": product.id, "currency": "usd", "billing_scheme": "tiered",
                                                "tiers_mode": mode, "tiers": tiers})
            shaped(tiered, f"{mode} price")
            check(tiered.billing_scheme == "tiered" and tiered.tiers_mode == mode and tiered.unit_amount is None,
                  f"a {mode} tiered price")
            check("tiers" not in tiered.to_dict(), f"{mode}: no tiers unless expanded (create)")
            check("tiers" not in self.prices.retrieve(tiered.id).to_dict(), f"{mode}: no tiers on a plain retrieve")
            full = shaped(self.prices.retrieve(tiered.id, params={"expand": ["tiers"]}), f"{mode} expanded",
                          expanded=["tiers"])
            got = wire(full)["tiers"]
            check(got == [
                {"flat_amount": None, "flat_amount_decimal": None, "unit_amount": 1000,
                 "unit_amount_decimal": "1000", "up_to": 5},
                {"flat_amount": None, "flat_amount_decimal": None, "unit_amount": 800,
                 "unit_amount_decimal": "800", "up_to": None},
            ], f"{mode}: expand tiers answers them, the last up to null ({got})")
        base = {"product": product.id, "currency": "usd"}
        refused(lambda: self.prices.create(params={**base, "billing_scheme": "tiered", "tiers": tiers}),
                "tiers without tiers_mode", param="tiers_mode")
        bounded = [{"up_to": 5, "unit_amount": 1}, {"up_to": 9, "unit_amount": 1}]
        refused(lambda: self.prices.create(params={**base, "billing_scheme": "tiered", "tiers_mode": "volume",
                                                   "tiers": bounded}),
                "a last tier not up to inf", param="tiers[1][up_to]")
        refused(lambda: self.prices.create(params={**base, "unit_amount": 100, "unit_amount_decimal": "100"}),
                "unit_amount with unit_amount_decimal", param="unit_amount")
        refused(lambda: self.prices.create(params={**base, "unit_amount": 100,
                                                   "recurring": {"interval": "month", "interval_count": 37}}),
                "37 months", param="recurring[interval_count]")
        refused(lambda: self.prices.create(params={**base, "unit_amount": 100, "product": "prod_nope"}),
                "an unknown product", param="product", code="resource_missing")

        # lookup keys
        gold = self.prices.create(params={**base, "unit_amount": 5000, "lookup_key": "gold_monthly",
                                          "recurring": {"interval": "month"}})
        check(gold.lookup_key == "gold_monthly", "a price with a lookup key")
        refused(lambda: self.prices.create(params={**base, "unit_amount": 5500, "lookup_key": "gold_monthly"}),
                "a lookup key in use", contains="already uses that lookup key", param="lookup_key")
        mark = self.marker()
        gold2 = self.prices.create(params={**base, "unit_amount": 5500, "lookup_key": "gold_monthly",
                                           "transfer_lookup_key": True, "recurring": {"interval": "month"}})
        check(gold2.lookup_key == "gold_monthly", "transfer_lookup_key takes the key")
        check(self.prices.retrieve(gold.id).lookup_key is None, "the old price loses it")
        # Stripe does not document which of the two comes first.
        check(sorted(self.events_since(mark)) == ["price.created", "price.updated"], "the old price is updated too")
        listed = ids(self.prices.list(params={"lookup_keys": ["gold_monthly", "nobody"]}))
        check(listed == [gold2.id], "prices list by lookup_keys")
        listed = ids(self.prices.list(params={"product": inline.product}))
        check(listed == [inline.id], "prices list by product")
        listed = ids(self.prices.list(params={"type": "recurring", "product": product.id}))
        check(set(listed) == {product.default_price, monthly.id, gold.id, gold2.id},
              f"prices list by type=recurring ({listed})")

        mark = self.marker()
        archived = shaped(self.prices.update(gold.id, params={"active": False, "nickname": "old gold",
                                                              "metadata": {"plan": "gold"}}), "archived price")
        check(not archived.active and archived.nickname == "old gold" and archived.metadata["plan"] == "gold",
              "update archives, names and tags a price")
        check(self.events_since(mark) == ["price.updated"], "price.updated")
        check(gold.id in ids(self.prices.list(params={"active": False})), "prices list by active=false")
        check(gold.id not in ids(self.prices.list(params={"active": True})), "… and not by active=true")

        taxed = self.prices.update(plain.id, params={"tax_behavior": "exclusive"})
        check(taxed.tax_behavior == "exclusive", "tax_behavior set from unspecified")
        refused(lambda: self.prices.update(plain.id, params={"tax_behavior": "inclusive"}),
                "tax_behavior changed once set", param="tax_behavior")
        check(self.prices.retrieve(plain.id).tax_behavior == "exclusive", "… and it stays")

        found = sorted(p.id for p in self.prices.search(
            params={"query": f"product:'{inline.product}'"}).auto_paging_iter())
        check(found == [inline.id], "price search by product")
        found = [p.id for p in self.prices.search(params={"query": "lookup_key:'gold_monthly'"}).data]
        check(found == [gold2.id], "price search by lookup_key")

        multi = self.prices.create(params={**base, "unit_amount": 1000, "currency_options": {"eur": {
            "unit_amount": 900}}})
        check("currency_options" not in multi.to_dict(), "no currency_options unless expanded")
        full = shaped(self.prices.retrieve(multi.id, params={"expand": ["currency_options"]}), "with options",
                      expanded=["currency_options"])
        check(wire(full)["currency_options"] == {"eur": {
            "custom_unit_amount": None, "tax_behavior": "unspecified", "unit_amount": 900,
            "unit_amount_decimal": "900"}},
              "expand currency_options answers the euro amount")

    # ---------------------------------------------------------------- coupons

    def coupons_(self, product):
        mark = self.marker()
        quarter = shaped(self.coupons.create(params={"percent_off": 25, "duration": "once"}), "percent coupon")
        check(quarter.percent_off == 25 and quarter.duration == "once" and quarter.amount_off is None,
              "25 % off once")
        check(re.fullmatch(r"[A-Za-z0-9]{8}", quarter.id) is not None, f"a generated coupon id ({quarter.id})")
        check(quarter.valid is True and quarter.times_redeemed == 0, "valid, never redeemed")
        five = shaped(self.coupons.create(params={
            "amount_off": 500, "currency": "usd", "duration": "repeating", "duration_in_months": 3,
            "max_redemptions": 10, "name": "Five off"}), "amount coupon")
        check((five.amount_off, five.currency, five.duration, five.duration_in_months, five.max_redemptions)
              == (500, "usd", "repeating", 3, 10), "$5 off for 3 months, 10 times")
        summer = shaped(self.coupons.create(params={"id": "SUMMER25", "percent_off": 25,
                                                    "duration": "forever"}), "custom id coupon")
        check(summer.id == "SUMMER25" and self.coupons.retrieve("SUMMER25").percent_off == 25,
              "a coupon retrieved by its own id")
        check(self.events_since(mark) == ["coupon.created"] * 3, "coupon.created each")

        refused(lambda: self.coupons.create(params={"id": "SUMMER25", "percent_off": 5}), "a taken coupon id",
                code="resource_already_exists")
        refused(lambda: self.coupons.create(params={"duration": "once"}), "neither percent_off nor amount_off")
        refused(lambda: self.coupons.create(params={"percent_off": 150}), "150 % off", param="percent_off")
        refused(lambda: self.coupons.create(params={"percent_off": 10, "duration": "repeating"}),
                "repeating without months", param="duration_in_months")
        refused(lambda: self.coupons.create(params={"percent_off": 10, "redeem_by": int(time.time()) - 3600}),
                "redeem_by in the past", param="redeem_by")

        mark = self.marker()
        renamed = shaped(self.coupons.update(five.id, params={"name": "Five dollars", "metadata": {"c": "1"}}),
                         "updated coupon")
        check(renamed.name == "Five dollars" and renamed.metadata["c"] == "1" and renamed.amount_off == 500,
              "update renames and tags a coupon")
        check(self.events_since(mark) == ["coupon.updated"], "coupon.updated")

        scoped = self.coupons.create(params={"percent_off": 10, "applies_to": {"products": [product.id]}})
        check("applies_to" not in scoped.to_dict(), "no applies_to unless expanded")
        got = shaped(self.coupons.retrieve(scoped.id, params={"expand": ["applies_to"]}), "expanded coupon",
                     expanded=["applies_to"])
        check(list(got.applies_to.products) == [product.id], "expand applies_to answers the products")
        check(ids(self.coupons.list()) == [scoped.id, summer.id, five.id, quarter.id], "coupons list newest first")

        mark = self.marker()
        gone = self.coupons.delete("SUMMER25")
        check(gone.id == "SUMMER25" and gone.deleted is True, "a coupon is deleted")
        shaped(gone, "the deleted coupon")
        refused(lambda: self.coupons.retrieve("SUMMER25"), "a deleted coupon", status=404, code="resource_missing")
        again = self.coupons.create(params={"id": "SUMMER25", "percent_off": 30, "duration": "once"})
        check(again.id == "SUMMER25" and again.percent_off == 30, "a deleted coupon's id is free again")
        check(self.events_since(mark) == ["coupon.deleted", "coupon.created"], "coupon.deleted, then created")
        return quarter

    def idempotency(self):
        key = f"catalogue-{uuid.uuid4()}"
        mark = self.marker()
        params = {"percent_off": 15, "duration": "once", "name": "Once only"}
        first = self.coupons.create(params=params, options={"idempotency_key": key})
        second = self.coupons.create(params=params, options={"idempotency_key": key})
        check(first.id == second.id, "the same idempotency key answers the same coupon")
        check(self.events_since(mark) == ["coupon.created"], "… made once (one coupon.created)")
        check(ids(self.coupons.list()).count(first.id) == 1, "… and listed once")

    # ---------------------------------------------------------------- promotion codes

    def promotion_codes_(self, coupon):
        mark = self.marker()
        spring = shaped(self.promos.create(params={"promotion": {"type": "coupon", "coupon": coupon.id},
                                                   "code": "SPRING"}), "promotion code")
        check(spring.id.startswith("promo_") and spring.code == "SPRING" and spring.active, "a code for a coupon")
        check(spring.promotion.type == "coupon" and spring.promotion.coupon == coupon.id,
              "promotion: {type: coupon, coupon: ID}")
        check("coupon" not in spring.to_dict(), "no top-level coupon in the pinned version")
        check(spring.times_redeemed == 0 and spring.customer is None and spring.expires_at is None, "unrestricted")
        made = shaped(self.promos.create(params={"promotion": {"type": "coupon", "coupon": coupon.id}}), "made")
        check(re.fullmatch(r"[A-Z0-9]{8}", made.code) is not None, f"a generated code ({made.code})")
        check(self.events_since(mark) == ["promotion_code.created"] * 2, "promotion_code.created each")

        refused(lambda: self.promos.create(params={"promotion": {"type": "coupon", "coupon": coupon.id},
                                                   "code": "spring"}),
                "an active code in another case", code="resource_already_exists", param="code")
        mark = self.marker()
        off = shaped(self.promos.update(spring.id, params={"active": False}), "deactivated code")
        check(off.active is False, "a code is deactivated")
        check(self.events_since(mark) == ["promotion_code.updated"], "promotion_code.updated")
        lower = self.promos.create(params={"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "spring"})
        check(lower.code == "spring" and lower.active, "the code is free once the first is inactive")
        refused(lambda: self.promos.update(spring.id, params={"active": True}),
                "reactivating a code taken meanwhile", code="resource_already_exists")

        customer = self.client.v1.customers.create(params={"email": "promo@example.com"})
        promo = {"promotion": {"type": "coupon", "coupon": coupon.id}}
        mine = self.promos.create(params={**promo, "customer": customer.id, "max_redemptions": 1,
                                          "metadata": {"for": "vip"}})
        check(mine.customer == customer.id and mine.max_redemptions == 1 and mine.metadata["for"] == "vip",
              "a code for one customer, once")
        refused(lambda: self.promos.create(params={**promo, "customer": "cus_nobody"}), "an unknown customer",
                param="customer")
        limited = shaped(self.promos.create(params={**promo, "restrictions": {
            "minimum_amount": 1000, "minimum_amount_currency": "usd", "first_time_transaction": True}}),
            "restricted code")
        r = limited.restrictions
        check((r.minimum_amount, r.minimum_amount_currency, r.first_time_transaction) == (1000, "usd", True),
              "restrictions as given")
        refused(lambda: self.promos.create(params={**promo, "restrictions": {"minimum_amount": 1000}}),
                "a minimum amount without its currency", param="restrictions[minimum_amount_currency]")
        refused(lambda: self.promos.create(params={**promo, "expires_at": int(time.time()) - 60}),
                "expires_at in the past", param="expires_at")
        refused(lambda: self.promos.create(params={"promotion": {"type": "coupon", "coupon": "NOPE"}}),
                "an unknown coupon", param="promotion[coupon]")
        refused(lambda: self.promos.create(params={**promo, "code": "A_B"}), "a code with an underscore",
                param="code")
        capped = {"promotion": {"type": "coupon", "coupon": self.coupons.create(params={
            "percent_off": 5, "duration": "once", "max_redemptions": 2}).id}}
        refused(lambda: self.promos.create(params={**capped, "max_redemptions": 3}),
                "more redemptions than its coupon allows", param="max_redemptions")
        check(self.promos.create(params={**capped, "max_redemptions": 2}).max_redemptions == 2,
              "as many redemptions as its coupon allows")

        listed = ids(self.promos.list(params={"code": "Spring"}))
        check(listed == [lower.id, spring.id], f"promotion codes list by code, any case ({listed})")
        listed = ids(self.promos.list(params={"coupon": coupon.id, "active": False}))
        check(listed == [spring.id], "promotion codes list by coupon and active=false")
        check(len(ids(self.promos.list(params={"coupon": coupon.id}))) == 5, "all five of the coupon's codes")
        check(ids(self.promos.list(params={"coupon": "NOPE"})) == [], "none of another coupon")
        got = shaped(self.promos.retrieve(lower.id, params={"expand": ["promotion.coupon"]}), "expanded code")
        check(got.promotion.coupon.id == coupon.id and got.promotion.coupon.percent_off == 25,
              "expand promotion.coupon answers the coupon")
        shaped(got.promotion.coupon, "the expanded coupon")

    # ---------------------------------------------------------------- tax rates

    def tax_rates_(self):
        mark = self.marker()
        vat = shaped(self.tax_rates.create(params={"display_name": "VAT", "percentage": 20, "inclusive": False,
                                                   "country": "DE", "jurisdiction": "DE"}), "tax rate")
        check(vat.id.startswith("txr_") and vat.active and vat.rate_type == "percentage", "a percentage tax rate")
        check(vat.percentage == 20 and vat.effective_percentage == 20, "20 %, effective 20 %")
        check((vat.country, vat.jurisdiction, vat.inclusive) == ("DE", "DE", False), "German, exclusive")
        gst = self.tax_rates.create(params={"display_name": "GST", "percentage": 10, "inclusive": True})
        check(gst.inclusive is True, "an inclusive rate")
        refused(lambda: self.tax_rates.create(params={"display_name": "Bad", "percentage": 150,
                                                      "inclusive": False}), "150 %", param="percentage")
        updated = shaped(self.tax_rates.update(vat.id, params={"display_name": "MwSt", "metadata": {"k": "v"}}),
                         "updated rate")
        check(updated.display_name == "MwSt" and updated.metadata["k"] == "v" and updated.percentage == 20,
              "update renames and tags a rate")
        refused(lambda: self.tax_rates.update(vat.id, params={"percentage": 19}), "changing the percentage",
                code="parameter_unknown", param="percentage")
        off = self.tax_rates.update(gst.id, params={"active": False})
        check(off.active is False, "a rate archived")
        check(self.events_since(mark) == ["tax_rate.created", "tax_rate.created", "tax_rate.updated",
                                          "tax_rate.updated"], "tax rate events in order")
        check(ids(self.tax_rates.list(params={"inclusive": True})) == [gst.id], "tax rates list by inclusive")
        check(ids(self.tax_rates.list(params={"active": False})) == [gst.id], "tax rates list by active=false")
        check(ids(self.tax_rates.list(params={"active": True})) == [vat.id], "… and active=true")
        check(self.tax_rates.retrieve(vat.id).display_name == "MwSt", "retrieve reads the rate back")


def main():
    global ERROR
    base = env("STRIPE_API_BASE").rstrip("/")
    ERROR = error_validator()
    c = Catalogue(base, env("STRIPE_SECRET_KEY"))
    product = c.products_()
    c.prices_(product)
    coupon = c.coupons_(product)
    c.idempotency()
    c.promotion_codes_(coupon)
    c.tax_rates_()
    print(f"stripe SDK {stripe.VERSION}: {len(PASSED)} catalogue checks passed against {base}")


if __name__ == "__main__":
    run(main)
