#!/usr/bin/env python3
"""Drives a live Mirra Stripe mirror's Checkout, customer portal and billing
seeds with the OFFICIAL `stripe` Python SDK (`StripeClient` pointed at each
session).

Environment:
  STRIPE_API_BASE             the session's Stripe base URL (…/m/ses_xxxx/stripe)
  STRIPE_SECRET_KEY           the session's secret key
  STRIPE_DUNNING_API_BASE     a session seeded with stripe:dunning-active …
  STRIPE_DUNNING_SECRET_KEY   … and its key
  STRIPE_LIFECYCLE_API_BASE   a session seeded with stripe:subscription-lifecycle …
  STRIPE_LIFECYCLE_SECRET_KEY … and its key
  MIRRA_SPECS_DIR             folder holding stripe.spec3.json (default:
                              <repo>/../shared/specs); error bodies are checked
                              against its `error` schema

Checkout Sessions in payment mode (line items listed and expanded, paid
through Mirra's helper `POST /v1/test_helpers/mirra/checkout/sessions/{id}/complete`
sent with the SDK's `raw_request`: a PaymentIntent for the total, a customer
made with the e-mail, `checkout.session.completed`, lists by status),
subscription mode (subscription_data, a coupon on the first invoice, a trial,
a declined card raising CardError and leaving nothing behind), setup mode (the
card saved on the customer), expire, promotion codes typed by the customer;
the customer portal's page driven as a browser's form would (cancel at period
end, take it back, switch plans; another customer's subscription refused);
the stripe:dunning-active seed's retries run out on its test clock and
stripe:subscription-lifecycle's subscriptions and lookup keys. Every object
must have only the fields the SDK's own class gives the pinned API version,
and all of them but those Stripe returns on request; every refusal is the
SDK's error class with a 4xx. Exits non-zero with a message on the first
failure; prints one summary line.
"""

import http.client
import json
import time
import urllib.parse

import stripe
from checks import PASSED, CheckFailed, check, env, run
from checks import sdk_fields as fields
from checks import stripe_error_validator as error_validator

DAY = 86_400
OK_URL = "https://app.example/ok?cs={CHECKOUT_SESSION_ID}"
ERROR = None






SHAPES = {
    "checkout.session": fields(stripe.checkout.Session),
    "billing_portal.session": fields(stripe.billing_portal.Session),
    "item": fields(stripe.LineItem),
    "price": fields(stripe.Price),
    "payment_intent": fields(stripe.PaymentIntent),
    "setup_intent": fields(stripe.SetupIntent),
    "subscription": fields(stripe.Subscription),
    "invoice": fields(stripe.Invoice),
    "customer": fields(stripe.Customer),
    "payment_method": fields(stripe.PaymentMethod),
    "coupon": fields(stripe.Coupon),
    "promotion_code": fields(stripe.PromotionCode),
    "test_helpers.test_clock": fields(stripe.test_helpers.TestClock),
}
# Optional in the SDK's typings (stripe-node's `?`, the same API version):
# only when expanded or asked for, or in features the mirror does not emulate
# (branding, name and phone collection, optional items, presentment
# currencies, embedded mode's return_url, …); a payment method has the hash
# of its own type only.
ON_REQUEST = {
    "checkout.session": {"line_items", "branding_settings", "excluded_payment_method_types", "name_collection",
                         "optional_items", "phone_number_collection", "presentment_details",
                         "redirect_on_completion", "return_url", "tax_id_collection"},
    "billing_portal.session": {"after_expiration"},
    "item": {"discounts", "taxes"},
    "price": {"tiers", "currency_options"},
    "payment_intent": {"amount_details", "hooks", "payment_details", "presentment_details", "transfer_data"},
    "setup_intent": {"attach_to_self", "customer_account", "flow_directions", "managed_payments"},
    "subscription": {"default_tax_rates", "presentment_details", "status_details"},
    "invoice": {"amount_paid_off_stripe", "auto_advance", "confirmation_secret", "customer_tax_ids",
                "hosted_invoice_url", "invoice_pdf", "payments", "status_details", "threshold_reason",
                "presentment_details", "frozen_fields", "invoicing_rules", "net_amount", "proration_details",
                "billed_until"},
    "customer": {"business_name", "customer_account", "individual_name", "cash_balance", "invoice_credit_balance",
                 "preferred_locales", "sources", "subscriptions", "tax", "tax_ids"},
    "payment_method": SHAPES["payment_method"] - {"id", "object", "type", "billing_details", "created", "customer",
                                                  "livemode", "metadata", "card"},
    "coupon": {"applies_to", "currency_options"},
    "promotion_code": set(),
    "test_helpers.test_clock": set(),
}


def shaped(obj, what, expanded=()):
    """`obj` has only the fields its SDK class annotates, and all of them but
    those Stripe returns on request (`expanded` are expected too)."""
    data = obj if isinstance(obj, dict) else obj.to_dict()
    kind = data.get("object")
    extra = set(data) - SHAPES[kind]
    missing = (SHAPES[kind] - ON_REQUEST[kind] - {"deleted"} | set(expanded)) - set(data)
    check(not extra, f"{what}: a {kind} with only the SDK's fields (extra {sorted(extra)})")
    check(not missing, f"{what}: a {kind} with every field (missing {sorted(missing)})")
    return obj


def refused(fn, what, cls=stripe.InvalidRequestError, status=400, **attrs):
    """fn must raise `cls` with HTTP `status` and the given attributes
    (`message` is the user message); its body must match the spec's error."""
    try:
        fn()
    except cls as e:
        check(e.http_status == status, f"{what}: HTTP {status} (got {e.http_status}: {e.user_message})")
        for k, v in attrs.items():
            got = e.user_message if k == "message" else getattr(e, k)
            check(got == v, f"{what}: {k} == {v!r} (got {got!r}: {e.user_message})")
        body = json.loads(json.dumps(e.json_body or {}))
        for k in ("payment_intent", "payment_method", "setup_intent"):  # the pinned version's objects
            body.get("error", {}).pop(k, None)
        errors = list(ERROR.iter_errors(body))
        check(not errors, f"{what}: the error body matches the spec ({errors[:1]})")
        return e
    except stripe.StripeError as e:
        raise CheckFailed(f"{what}: expected {cls.__name__}, got {type(e).__name__}: {e}") from e
    raise CheckFailed(f"{what}: expected {cls.__name__}, but the call succeeded")


def browse(method, url, form=None):
    """A browser's request to a page the mirror serves (plain HTTP, no key, no
    redirect followed): (status, Location, HTML)."""
    u = urllib.parse.urlsplit(url)
    check(u.scheme == "http" and u.hostname, f"an absolute http URL ({url})")
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    body = urllib.parse.urlencode(form) if form is not None else None
    headers = {"content-type": "application/x-www-form-urlencoded"} if form is not None else {}
    conn.request(method, u.path + (f"?{u.query}" if u.query else ""), body=body, headers=headers)
    resp = conn.getresponse()
    html = resp.read().decode("utf-8", "replace")
    conn.close()
    return resp.status, resp.getheader("location") or "", html


def ids(page):
    return [o.id for o in page.auto_paging_iter()]


class Checkout:
    def __init__(self, base, key):
        self.client = stripe.StripeClient(key, base_addresses={"api": base}, max_network_retries=0)
        v1 = self.client.v1
        self.sessions, self.subs = v1.checkout.sessions, v1.subscriptions
        product = v1.products.create(params={"name": "Widget"})
        self.product = product.id
        self.price = {}
        for amount in (2500, 4000, 500):
            self.price[amount] = v1.prices.create(params={
                "product": product.id, "currency": "usd", "unit_amount": amount}).id
        for amount in (1000, 1200, 3000):
            self.price[f"{amount}/month"] = v1.prices.create(params={
                "product": product.id, "currency": "usd", "unit_amount": amount,
                "recurring": {"interval": "month"}}).id

    def marker(self):
        page = self.client.v1.events.list(params={"limit": 1})
        return page.data[0].id if page.data else None

    def events_since(self, marker):
        params = {"limit": 100}
        if marker:
            params["ending_before"] = marker
        return list(reversed(self.client.v1.events.list(params=params).data))

    def complete(self, session, **params):
        """Mirra's helper, as a test without a browser pays: the session's JSON."""
        resp = self.client.raw_request("post", f"/v1/test_helpers/mirra/checkout/sessions/{session}/complete",
                                       **params)
        return shaped(json.loads(resp.body), "the helper's answer")

    def create(self, what, **params):
        return shaped(self.sessions.create(params={"success_url": OK_URL, **params}), what)

    # ---------------------------------------------------------------- payment mode

    def payment(self):
        s = self.create("payment session", mode="payment", customer_creation="always",
                        line_items=[{"price": self.price[2500], "quantity": 2}], metadata={"order": "py-42"})
        check(s.id.startswith("cs_test_") and s.object == "checkout.session", f"a Checkout Session ({s.id})")
        check((s.status, s.payment_status, s.mode) == ("open", "unpaid", "payment"), "open and unpaid")
        check((s.amount_subtotal, s.amount_total, s.currency) == (5000, 5000, "usd"), "2 × 25.00 = 50.00")
        check(s.url.startswith("http") and s.url.endswith(s.id), f"a url to its page ({s.url})")
        check(s.customer is None and s.customer_creation == "always", "no customer yet, one made on payment")
        check(s.metadata.to_dict() == {"order": "py-42"} and s.success_url == OK_URL, "metadata and success_url")
        check("line_items" not in s.to_dict(), "line items only when expanded")

        items = self.sessions.line_items.list(s.id)
        check(len(items.data) == 1 and not items.has_more, "list_line_items answers the one item")
        item = shaped(items.data[0], "the line item")
        shaped(item.price, "the line item's price")
        check((item.price.id, item.quantity, item.amount_subtotal, item.amount_total, item.description)
              == (self.price[2500], 2, 5000, 5000, "Widget"), "the item: its price, quantity 2, 50.00, Widget")
        full = shaped(self.sessions.retrieve(s.id, params={"expand": ["line_items"]}), "expanded session",
                      expanded=["line_items"])
        check([i.id for i in full.line_items.data] == [item.id], "expand line_items answers the same item")
        status, _, html = browse("GET", s.url)
        check(status == 200 and "$50.00" in html, f"its url opens a page with the total ({status})")

        mark = self.marker()
        done = self.complete(s.id, payment_method="pm_card_visa", email="buyer@example.com")
        check((done["status"], done["payment_status"]) == ("complete", "paid"), "the helper pays it")
        got = shaped(self.sessions.retrieve(s.id), "the paid session")
        check((got.status, got.payment_status) == ("complete", "paid"), "retrieve: complete and paid")
        check(got.customer_details.email == "buyer@example.com", "customer_details has the e-mail")
        pi = shaped(self.client.v1.payment_intents.retrieve(got.payment_intent), "its PaymentIntent")
        check((pi.status, pi.amount, pi.currency) == ("succeeded", got.amount_total, "usd"),
              "the PaymentIntent succeeded for amount_total")
        check(got.customer and pi.customer == got.customer, "made for the session's customer")
        customer = shaped(self.client.v1.customers.retrieve(got.customer), "the new customer")
        check(customer.email == "buyer@example.com", "customer_creation=always made one with the e-mail")
        completed = [e for e in self.events_since(mark) if e.type == "checkout.session.completed"]
        check(len(completed) == 1 and completed[0].data.object.id == s.id, "checkout.session.completed")
        check(s.id in ids(self.sessions.list(params={"status": "complete"})), "listed by status=complete")
        check(s.id not in ids(self.sessions.list(params={"status": "open"})), "… not by status=open")
        check(ids(self.sessions.list(params={"payment_intent": pi.id})) == [s.id], "listed by payment_intent")
        refused(lambda: self.complete(s.id, payment_method="pm_card_visa"), "paying a complete session again",
                code="checkout_session_inactive")

    # ---------------------------------------------------------------- subscription mode

    def subscription(self):
        coupon = self.client.v1.coupons.create(params={"id": "HALF", "percent_off": 50, "duration": "once"})
        s = self.create("subscription session", mode="subscription", customer_email="sub@example.com",
                        line_items=[{"price": self.price["1200/month"], "quantity": 1}],
                        discounts=[{"coupon": coupon.id}], subscription_data={"metadata": {"plan": "pro"}})
        check((s.amount_subtotal, s.amount_total, s.total_details.amount_discount) == (1200, 600, 600),
              "the coupon halves the total")
        check([d.coupon for d in s.discounts] == ["HALF"], "the session's discounts name the coupon")
        done = self.complete(s.id, payment_method="pm_card_visa")
        check((done["status"], done["payment_status"]) == ("complete", "paid"), "subscription mode: complete, paid")
        sub = shaped(self.subs.retrieve(done["subscription"], params={"expand": ["latest_invoice"]}),
                     "the subscription")
        check(sub.status == "active" and sub.metadata.to_dict() == {"plan": "pro"},
              "an active subscription with subscription_data's metadata")
        check(sub.customer == done["customer"] and sub.default_payment_method.startswith("pm_"),
              "for the new customer, paying with the card")
        inv = shaped(sub.latest_invoice, "its first invoice")
        check((inv.status, inv.amount_paid, inv.total_discount_amounts[0].amount) == ("paid", 600, 600),
              "the coupon applied on the first invoice (6.00 paid)")
        check(self.client.v1.coupons.retrieve("HALF").times_redeemed == 1, "the coupon redeemed once")
        check(self.client.v1.customers.retrieve(sub.customer).email == "sub@example.com",
              "the customer has customer_email")

        trial = self.create("trial session", mode="subscription",
                            line_items=[{"price": self.price["1000/month"]}],
                            subscription_data={"trial_period_days": 7, "metadata": {"plan": "trial"}})
        done = self.complete(trial.id, payment_method="pm_card_visa", email="trial@example.com")
        check((done["status"], done["payment_status"]) == ("complete", "no_payment_required"),
              "a trial: complete, no payment required")
        sub = shaped(self.subs.retrieve(done["subscription"], params={"expand": ["latest_invoice"]}),
                     "the trialing subscription")
        check(sub.status == "trialing" and sub.trial_end - sub.trial_start == 7 * DAY, "trialing for 7 days")
        check(sub.latest_invoice.amount_paid == 0 and sub.metadata["plan"] == "trial", "nothing paid yet")

        before = ids(self.subs.list(params={"status": "all"}))
        declined = self.create("session to decline", mode="subscription",
                               line_items=[{"price": self.price["1200/month"]}])
        refused(lambda: self.complete(declined.id, payment_method="pm_card_chargeDeclined"), "a declined card",
                cls=stripe.CardError, status=402, code="card_declined")
        check(ids(self.subs.list(params={"status": "all"})) == before, "no subscription left behind (status=all)")
        again = shaped(self.sessions.retrieve(declined.id), "the declined session")
        check((again.status, again.subscription) == ("open", None), "the session stays open, no subscription")

    # ---------------------------------------------------------------- setup mode

    def setup(self):
        customer = self.client.v1.customers.create(params={"email": "saver@example.com"})
        s = self.create("setup session", mode="setup", currency="usd", customer=customer.id)
        check((s.mode, s.payment_status, s.amount_total, s.customer) == ("setup", "no_payment_required", None,
                                                                           customer.id),
              "setup mode: nothing to pay, for the customer")
        done = self.complete(s.id, payment_method="pm_card_mastercard")
        check(done["status"] == "complete" and done["setup_intent"].startswith("seti_"), "complete, a SetupIntent")
        si = shaped(self.client.v1.setup_intents.retrieve(done["setup_intent"]), "the SetupIntent")
        check((si.status, si.customer) == ("succeeded", customer.id), "the SetupIntent succeeded for the customer")
        cards = self.client.v1.customers.payment_methods.list(customer.id).data
        check([c.id for c in cards] == [si.payment_method], "the card is listed on the customer")
        check(shaped(cards[0], "the saved card").card.brand == "mastercard", "… a Mastercard")
        refused(lambda: self.create("no currency", mode="setup", customer=customer.id), "setup without currency",
                param="currency")

    # ---------------------------------------------------------------- expire

    def expire(self):
        s = self.create("session to expire", line_items=[{"price": self.price[500]}])
        mark = self.marker()
        gone = shaped(self.sessions.expire(s.id), "the expired session")
        check(gone.status == "expired" and gone.payment_status == "unpaid", "expire: expired")
        check([e.type for e in self.events_since(mark)] == ["checkout.session.expired"], "checkout.session.expired")
        refused(lambda: self.sessions.expire(s.id), "expiring it again")
        refused(lambda: self.complete(s.id, payment_method="pm_card_visa"), "completing an expired session",
                code="checkout_session_inactive")
        check(self.sessions.retrieve(s.id).status == "expired", "it stays expired")
        check(s.id in ids(self.sessions.list(params={"status": "expired"})), "listed by status=expired")
        status, _, _ = browse("GET", s.url)
        check(status == 410, f"its page is gone ({status})")
        refused(lambda: self.sessions.retrieve("cs_test_nope"), "an unknown session", status=404,
                code="resource_missing")

    # ---------------------------------------------------------------- promotion codes

    def promotion_codes(self):
        coupon = self.client.v1.coupons.create(params={"id": "TENOFF", "amount_off": 1000, "currency": "usd",
                                                       "duration": "once"})
        promo = self.client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": coupon.id},
                                                              "code": "SPRING"})
        s = self.create("session taking codes", line_items=[{"price": self.price[4000]}], allow_promotion_codes=True)
        check(s.allow_promotion_codes is True and s.amount_total == 4000, "allow_promotion_codes, 40.00")
        done = self.complete(s.id, payment_method="pm_card_visa", promotion_code="spring")
        got = shaped(self.sessions.retrieve(s.id), "the discounted session")
        check((got.status, got.amount_total, got.total_details.amount_discount) == ("complete", 3000, 1000),
              "the code (any case) took 10.00 off")
        check(done["discounts"][0]["promotion_code"] == promo.id, "the session's discount names the code")
        pi = self.client.v1.payment_intents.retrieve(got.payment_intent)
        check(pi.amount == 3000 and pi.status == "succeeded", "30.00 paid")
        check(self.client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 1, "the code redeemed once")

        other = self.create("another session taking codes", line_items=[{"price": self.price[4000]}],
                            allow_promotion_codes=True)
        refused(lambda: self.complete(other.id, payment_method="pm_card_visa", promotion_code="WINTER"),
                "an unknown code", code="promotion_code_invalid", param="promotion_code")
        after = self.sessions.retrieve(other.id)
        check((after.status, after.amount_total) == ("open", 4000), "… leaves the session open at 40.00")
        plain = self.create("session without codes", line_items=[{"price": self.price[4000]}])
        refused(lambda: self.complete(plain.id, payment_method="pm_card_visa", promotion_code="SPRING"),
                "a code on a session without allow_promotion_codes", param="promotion_code")
        refused(lambda: self.create("both", line_items=[{"price": self.price[4000]}], allow_promotion_codes=True,
                                    discounts=[{"coupon": coupon.id}]),
                "allow_promotion_codes with discounts", param="discounts")

    # ---------------------------------------------------------------- customer portal

    def portal(self):
        v1 = self.client.v1
        customer = v1.customers.create(params={"email": "portal@example.com"})
        pm = v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
        sub = self.subs.create(params={"customer": customer.id, "items": [{"price": self.price["1000/month"]}],
                                       "default_payment_method": pm.id})
        check(sub.status == "active", "an active subscription to manage")
        bps = shaped(v1.billing_portal.sessions.create(params={
            "customer": customer.id, "return_url": "https://app.example/account"}), "portal session")
        check(bps.id.startswith("bps_") and bps.configuration.startswith("bpc_"), "bps_… with a bpc_… configuration")
        check((bps.customer, bps.return_url, bps.livemode) == (customer.id, "https://app.example/account", False),
              "the customer and return_url")
        check(bps.url.startswith("http://") and bps.url.endswith(bps.id), f"a url to the portal page ({bps.url})")
        status, _, html = browse("GET", bps.url)
        check(status == 200 and "$10.00 / month" in html and "https://app.example/account" in html,
              "the page shows the plan and the way back")

        status, location, _ = browse("POST", bps.url, {"subscription": sub.id, "action": "cancel"})
        check((status, location) == (303, bps.url), f"cancel: 303 back to the page ({status})")
        check(self.subs.retrieve(sub.id).cancel_at_period_end is True, "cancel_at_period_end is True")
        status, _, _ = browse("POST", bps.url, {"subscription": sub.id, "action": "renew"})
        check(status == 303 and self.subs.retrieve(sub.id).cancel_at_period_end is False,
              "renew: cancel_at_period_end back to False")
        status, _, _ = browse("POST", bps.url, {"subscription": sub.id, "action": "switch",
                                                "price": self.price["3000/month"]})
        after = shaped(self.subs.retrieve(sub.id), "the switched subscription")
        check(status == 303 and after["items"].data[0].price.id == self.price["3000/month"],
              "switch: the item's price changed")
        status, _, _ = browse("POST", bps.url, {"subscription": sub.id, "action": "switch",
                                                "price": self.price[2500]})
        check(status == 400, f"a one-time price is not offered ({status})")

        stranger = v1.customers.create(params={"email": "stranger@example.com"})
        theirs = v1.billing_portal.sessions.create(params={"customer": stranger.id})
        check(theirs.configuration == bps.configuration, "every portal session has the default configuration")
        status, _, _ = browse("POST", theirs.url, {"subscription": sub.id, "action": "cancel"})
        check(status == 404, f"another customer's portal cannot act on the subscription ({status})")
        check(self.subs.retrieve(sub.id).cancel_at_period_end is False, "… which stays as it was")
        status, _, _ = browse("GET", bps.url.rsplit("/", 1)[0] + "/bps_nope")
        check(status == 404, f"an unknown portal session's page is 404 ({status})")
        refused(lambda: v1.billing_portal.sessions.create(params={"customer": "cus_nope"}), "an unknown customer",
                param="customer")


# ---------------------------------------------------------------- seeds

def client_of(base, key):
    return stripe.StripeClient(key, base_addresses={"api": base}, max_network_retries=0)


def dunning_seed(base, key):
    v1 = client_of(base, key).v1
    subs = v1.subscriptions.list(params={"status": "past_due", "expand": ["data.latest_invoice"]}).data
    check(len(subs) == 2, f"stripe:dunning-active: two past_due subscriptions ({len(subs)})")
    for s in subs:
        shaped(s, "a seeded subscription", expanded=["latest_invoice"])
        inv = shaped(s.latest_invoice, "its latest invoice")
        check((inv.status, inv.attempt_count) == ("open", 1), f"open after one attempt ({inv.status})")
        check(inv.next_payment_attempt and inv.next_payment_attempt > inv.status_transitions.finalized_at,
              "its next payment attempt is scheduled")
    clocks = v1.test_helpers.test_clocks.list().data
    check(len(clocks) == 1 and all(s.test_clock == clocks[0].id for s in subs), "the seed's test clock is listed")
    clock = shaped(clocks[0], "the seed's clock")
    check(clock.status == "ready", "… ready")
    to = clock.frozen_time + 15 * DAY
    c = v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": to})
    deadline = time.monotonic() + 10
    while c.status != "ready":
        if time.monotonic() > deadline:
            raise CheckFailed(f"clock {clock.id} still {c.status} after 10 s")
        time.sleep(0.02)
        c = v1.test_helpers.test_clocks.retrieve(clock.id)
    check(c.frozen_time == to, "advanced 15 days")
    ended = v1.subscriptions.list(params={"status": "canceled"}).data
    check(sorted(s.id for s in ended) == sorted(s.id for s in subs), "both subscriptions canceled after 15 days")
    check(v1.subscriptions.list(params={"status": "past_due"}).data == [], "none past_due")


def lifecycle_seed(base, key):
    v1 = client_of(base, key).v1
    subs = [shaped(s, "a seeded subscription") for s in
            v1.subscriptions.list(params={"status": "all"}).auto_paging_iter()]
    states = sorted((s.status, s.cancel_at_period_end) for s in subs)
    check(states == [("active", False), ("active", True), ("canceled", False), ("trialing", False)],
          f"stripe:subscription-lifecycle: active, canceling, canceled, trialing ({states})")
    check(sorted(s.metadata["seed"] for s in subs) == ["active", "canceled", "canceling", "trialing"],
          "each tagged with its story")
    check(len({s.test_clock for s in subs}) == 1 and subs[0].test_clock, "all on one test clock")
    pro = v1.prices.list(params={"lookup_keys": ["pro_monthly"]}).data
    check(len(pro) == 1, "prices list by lookup_keys ['pro_monthly']")
    p = shaped(pro[0], "pro_monthly")
    check((p.lookup_key, p.unit_amount, p.recurring.interval, p.product) == ("pro_monthly", 3000, "month",
                                                                            "prod_SeedPro"),
          "30.00 a month for Pro")
    check(v1.coupons.retrieve("WELCOME20").percent_off == 20, "the seed's coupon")


def main():
    global ERROR
    base = env("STRIPE_API_BASE").rstrip("/")
    ERROR = error_validator()
    c = Checkout(base, env("STRIPE_SECRET_KEY"))
    c.payment()
    c.subscription()
    c.setup()
    c.expire()
    c.promotion_codes()
    c.portal()
    dunning_seed(env("STRIPE_DUNNING_API_BASE").rstrip("/"), env("STRIPE_DUNNING_SECRET_KEY"))
    lifecycle_seed(env("STRIPE_LIFECYCLE_API_BASE").rstrip("/"), env("STRIPE_LIFECYCLE_SECRET_KEY"))
    print(f"stripe SDK {stripe.VERSION}: {len(PASSED)} checkout, portal and seed checks passed against {base}")


if __name__ == "__main__":
    run(main)
