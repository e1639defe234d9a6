#!/usr/bin/env python3
"""Drives a live Mirra Stripe mirror's billing with the OFFICIAL `stripe` Python
SDK (`StripeClient` pointed at the session): test clocks, subscriptions,
subscription items, invoice items and invoices.

Environment:
  STRIPE_API_BASE          the session's Stripe base URL (…/m/ses_xxxx/stripe)
  STRIPE_SECRET_KEY        the session's secret key
  MIRRA_SPECS_DIR          folder holding stripe.spec3.json (default:
                           <repo>/../shared/specs); error bodies are checked
                           against its `error` schema

The live server runs on real time, so time moves only through test clocks:
each story has its own clock and customer, advanced with `advance` and
polled until `ready`. A trial that ends and renews twice (its events
delivered to a webhook endpoint on loopback, verified with
`stripe.Webhook.construct_event`), a failed renewal retried on the dunning
schedule until the subscription is canceled, an upgrade invoiced at once and
a downgrade prorated onto the next renewal, cancel at period end,
`default_incomplete` confirmed through the invoice's confirmation secret,
`error_if_incomplete` refused with CardError, an invoice made by hand
(items, tax, lines, finalize, pay, send, uncollectible, void, delete) and
subscription items added, changed and removed. Every object must have only
the fields the SDK's own class gives the pinned API version, and all of
them but those Stripe includes on request. Exits non-zero with a message on
the first failure; prints one summary line.
"""

import calendar
import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import stripe
from checks import PASSED, CheckFailed, check, env, run
from checks import sdk_fields as fields
from checks import stripe_error_validator as error_validator

DAY, HOUR = 86_400, 3_600
# The dunning schedule: retries this many days after the invoice was finalized.
RETRY_DAYS = [1, 3, 5, 7, 10, 12, 14]
ERROR = None






SHAPES = {
    "subscription": fields(stripe.Subscription),
    "subscription_item": fields(stripe.SubscriptionItem),
    "invoice": fields(stripe.Invoice),
    "invoiceitem": fields(stripe.InvoiceItem),
    "line_item": fields(stripe.InvoiceLineItem),
    "test_helpers.test_clock": fields(stripe.test_helpers.TestClock),
}
# Optional in the SDK's typings: only on a deleted object, on request, or in
# features the mirror does not emulate (presentment currencies, invoicing rules).
ON_REQUEST = {"deleted", "presentment_details", "status_details", "amount_paid_off_stripe",
              "confirmation_secret", "payments", "threshold_reason", "frozen_fields",
              "invoicing_rules", "net_amount", "proration_details", "billed_until"}


def shaped(obj, what, expanded=()):
    data = obj if isinstance(obj, dict) else obj.to_dict()
    kind = data.get("object")
    extra = set(data) - SHAPES[kind]
    missing = (SHAPES[kind] - ON_REQUEST | set(expanded)) - set(data)
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
        for k in ("payment_intent", "payment_method"):  # the pinned version's, not the document's
            body.get("error", {}).pop(k, None)
        errors = list(ERROR.iter_errors(body))
        check(not errors, f"{what}: the error body matches the spec ({errors[:1]})")
        return e
    except stripe.StripeError as e:
        raise CheckFailed(f"{what}: expected {cls.__name__}, got {type(e).__name__}: {e}") from e
    raise CheckFailed(f"{what}: expected {cls.__name__}, but the call succeeded")


def add_months(t, n):
    """`t` moved `n` calendar months on, its day clamped to the month's last."""
    d = datetime.fromtimestamp(t, timezone.utc)
    y, m = divmod(d.month - 1 + n, 12)
    y, m = d.year + y, m + 1
    return int(d.replace(year=y, month=m, day=min(d.day, calendar.monthrange(y, m)[1])).timestamp())


def wire(obj):
    return obj.to_dict() if hasattr(obj, "to_dict") else obj


class Receiver:
    """A webhook receiver on 127.0.0.1: records each POST's signature and body."""

    def __init__(self):
        got = self.got = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                got.append((self.headers.get("stripe-signature"), body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


class Billing:
    def __init__(self, base, key):
        self.client = stripe.StripeClient(key, base_addresses={"api": base}, max_network_retries=0)
        v1 = self.client.v1
        self.subs, self.items, self.invoices = v1.subscriptions, v1.subscription_items, v1.invoices
        self.invoice_items, self.clocks = v1.invoice_items, v1.test_helpers.test_clocks
        # Each story's clock starts at the hour (real time, as a test would).
        self.t0 = int(time.time()) // HOUR * HOUR
        product = v1.products.create(params={"name": "Pro"})
        self.price = {amount: v1.prices.create(params={
            "product": product.id, "currency": "usd", "unit_amount": amount,
            "recurring": {"interval": "month"}}).id for amount in (1000, 1500, 2000, 3000)}

    # ---------------------------------------------------------------- helpers

    def customer(self, card="pm_card_visa", clock=True):
        """A customer on a new test clock at t0 paying with `card` (a
        `pm_card_*` name) by default; answers (clock id, customer id)."""
        clock_id = None
        if clock:
            made = shaped(self.clocks.create(params={"frozen_time": self.t0, "name": "billing"}), "test clock")
            check(made.status == "ready" and made.frozen_time == self.t0, "a test clock, ready at t0")
            clock_id = made.id
        params = {"test_clock": clock_id} if clock_id else {}
        c = self.client.v1.customers.create(params={**params, "email": "billing@example.com"})
        if card:
            self.default_card(c.id, card)
        return clock_id, c.id

    def default_card(self, customer, card):
        pm = self.client.v1.payment_methods.attach(card, params={"customer": customer})
        self.client.v1.customers.update(customer, params={"invoice_settings": {"default_payment_method": pm.id}})

    def advance(self, clock, to):
        """Advances `clock` to `to`; polls until the dispatcher made it ready."""
        c = self.clocks.advance(clock, params={"frozen_time": to})
        check(c.status == "advancing", f"advance answers advancing ({c.status})")
        deadline = time.monotonic() + 10
        while c.status != "ready":
            if time.monotonic() > deadline:
                raise CheckFailed(f"clock {clock} still {c.status} after 10 s")
            time.sleep(0.02)
            c = self.clocks.retrieve(clock)
        check(c.frozen_time == to and c.status_details.to_dict() == {}, "the clock is ready at its target")

    def sub(self, id):
        return self.subs.retrieve(id, params={"expand": ["latest_invoice"]})

    def events_of(self, customer):
        """The events about `customer`'s objects, oldest first. (Events carry
        their clock's time, so a marker in real time would not order them.)"""
        out = [e for e in self.client.v1.events.list(params={"limit": 100}).auto_paging_iter()
               if "customer" in e.data.object and e.data.object["customer"] == customer]
        return list(reversed(out))

    # ---------------------------------------------------------------- trial, renewals, webhooks

    def trial_and_renewals(self):
        receiver = Receiver()
        endpoint = self.client.v1.webhook_endpoints.create(params={"url": receiver.url, "enabled_events": ["*"]})
        check(endpoint.secret.startswith("whsec_"), "a webhook endpoint for every event, with its secret")
        clock, cus = self.customer()
        t0 = self.t0
        sub = self.subs.create(params={"customer": cus, "items": [{"price": self.price[1000]}],
                                       "trial_period_days": 7, "expand": ["latest_invoice"]})
        shaped(sub, "trialing subscription")
        item = shaped(sub["items"].data[0], "its item")
        check(sub.status == "trialing" and sub.trial_start == t0 and sub.trial_end == t0 + 7 * DAY,
              "trial_period_days=7: trialing for 7 days of clock time")
        check(sub.test_clock == clock and sub.customer == cus, "the subscription is on the customer's clock")
        check((item.current_period_start, item.current_period_end) == (t0, t0 + 7 * DAY),
              "the item's period is the trial")
        first = shaped(sub.latest_invoice, "the trial's invoice")
        check((first.billing_reason, first.status, first.amount_due) == ("subscription_create", "paid", 0),
              "the first invoice owes nothing and is paid")
        check(first.parent.subscription_details.subscription == sub.id, "it names the subscription in parent")
        line = shaped(first.lines.data[0], "the trial's line")
        check(line.description == "Trial period for Pro" and line.amount == 0, "one line: Trial period for Pro")

        refused(lambda: self.clocks.advance(clock, params={"frozen_time": t0 - 60}), "a clock moved back",
                param="frozen_time")
        self.advance(clock, t0 + 7 * DAY + 2 * HOUR)
        s = self.sub(sub.id)
        renewal = shaped(s.latest_invoice, "the first renewal")
        end = add_months(t0 + 7 * DAY, 1)
        check(s.status == "active", f"active once the trial is over ({s.status})")
        check((s["items"].data[0].current_period_start, s["items"].data[0].current_period_end)
              == (t0 + 7 * DAY, end), "a month's period from the trial's end")
        check((renewal.billing_reason, renewal.status, renewal.amount_paid)
              == ("subscription_cycle", "paid", 1000), "a subscription_cycle invoice of 10.00, paid")
        check(renewal.created == t0 + 7 * DAY and renewal.status_transitions.paid_at == t0 + 7 * DAY + HOUR,
              "made at the trial's end, finalized and paid an hour later")
        check(renewal.lines.data[0].description == "1 × Pro (at $10.00 / month)", "the renewal's line")
        check(renewal.parent.subscription_details.subscription == sub.id, "linked through parent")

        self.advance(clock, end + 2 * HOUR)
        s = self.sub(sub.id)
        check(s.latest_invoice.id != renewal.id and s.latest_invoice.amount_paid == 1000
              and s.latest_invoice.status == "paid", "a second renewal, paid")
        check(s["items"].data[0].current_period_end == add_months(t0 + 7 * DAY, 2), "the next period")
        listed = self.invoices.list(params={"subscription": sub.id}).data
        check([i.billing_reason for i in listed] == ["subscription_cycle", "subscription_cycle",
                                                     "subscription_create"], "invoices list by subscription")

        events = self.events_of(cus)
        types = [e.type for e in events]
        for kind, n in [("customer.subscription.trial_will_end", 1), ("invoice.created", 3),
                        ("invoice.finalized", 3), ("invoice.paid", 3)]:
            check(types.count(kind) == n, f"{n} × {kind} ({types.count(kind)})")
        warned = next(e for e in events if e.type == "customer.subscription.trial_will_end")
        check(warned.created == t0 + 4 * DAY, "trial_will_end 3 days before the trial ends, on clock time")
        became = [e for e in events if e.type == "customer.subscription.updated"
                  and e.data.to_dict().get("previous_attributes", {}).get("status") == "trialing"]
        check(len(became) == 1 and became[0].data.object.status == "active",
              "customer.subscription.updated: trialing → active")
        check(types.index("customer.subscription.trial_will_end") < events.index(became[0]),
              "trial_will_end comes before the trial ends")
        self.webhooks(receiver, endpoint, events)

    def webhooks(self, receiver, endpoint, events):
        """Every event about the customer was delivered, signed with the secret."""
        wanted = {e.id for e in events}
        deadline = time.monotonic() + 15
        while True:
            delivered = {json.loads(body)["id"]: (sig, body) for sig, body in list(receiver.got)}
            if wanted <= set(delivered) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check(wanted <= set(delivered), f"every event delivered ({len(wanted - set(delivered))} missing)")
        for id in sorted(wanted):
            sig, body = delivered[id]
            event = stripe.Webhook.construct_event(body.decode(), sig, endpoint.secret)
            check(event.id == id, f"{event.type}: construct_event verifies the delivery")
        sig, body = delivered[events[0].id]
        try:
            stripe.Webhook.construct_event(body.decode(), sig, "whsec_wrong")
            raise CheckFailed("a wrong secret: the signature verified")
        except stripe.SignatureVerificationError:
            check(True, "a wrong secret fails verification")
        self.client.v1.webhook_endpoints.delete(endpoint.id)
        receiver.server.shutdown()

    # ---------------------------------------------------------------- dunning

    def dunning(self):
        clock, cus = self.customer()
        sub = self.subs.create(params={"customer": cus, "items": [{"price": self.price[1500]}]})
        check(sub.status == "active", "a subscription paid at once is active")
        self.default_card(cus, "pm_card_chargeCustomerFail")
        renewal = sub["items"].data[0].current_period_end
        self.advance(clock, renewal + 2 * HOUR)
        s = self.sub(sub.id)
        inv = s.latest_invoice
        check(s.status == "past_due", f"a declined renewal makes it past_due ({s.status})")
        check((inv.status, inv.attempt_count, inv.attempted) == ("open", 1, True), "the invoice open, tried once")
        finalized = inv.status_transitions.finalized_at
        check(finalized == renewal + HOUR, "finalized an hour after the renewal")
        for n, days in enumerate(RETRY_DAYS):
            check(inv.next_payment_attempt == finalized + days * DAY,
                  f"retry {n + 1} planned {days} days after finalization")
            self.advance(clock, finalized + days * DAY + 60)
            s = self.sub(sub.id)
            inv = s.latest_invoice
            check(inv.attempt_count == n + 2, f"attempt {n + 2} made ({inv.attempt_count})")
        check(s.status == "canceled" and s.cancellation_details.reason == "payment_failed",
              "after the last retry the subscription is canceled: payment_failed")
        check(s.ended_at == finalized + RETRY_DAYS[-1] * DAY, "ended at the last retry")
        check((inv.status, inv.next_payment_attempt) == ("open", None), "the invoice stays open, no next attempt")
        types = [e.type for e in self.events_of(cus)]
        check(types.count("invoice.payment_failed") == 1 + len(RETRY_DAYS), "8 × invoice.payment_failed")
        check(types.count("customer.subscription.deleted") == 1, "customer.subscription.deleted")

    def unpaid_per_settings(self):
        """The account's settings (Mirra's helper for what Stripe keeps in its
        Dashboard) decide what the last failed retry does: here `unpaid`, the
        invoice uncollectible, after two retries."""
        def settings(method, **params):
            resp = self.client.raw_request(method, "/v1/test_helpers/mirra/billing_settings", **params)
            return json.loads(resp.body)
        try:
            set_ = settings("post", **{"retry_days[0]": 2, "retry_days[1]": 4,
                                       "subscription_after_retries": "unpaid",
                                       "invoice_after_retries": "uncollectible"})
            check(set_["retry_days"] == [2, 4] and set_["subscription_after_retries"] == "unpaid",
                  "billing settings: retries on days 2 and 4, then unpaid")
            clock, cus = self.customer()
            sub = self.subs.create(params={"customer": cus, "items": [{"price": self.price[1500]}]})
            self.default_card(cus, "pm_card_chargeCustomerFail")
            renewal = sub["items"].data[0].current_period_end
            self.advance(clock, renewal + 2 * HOUR)
            inv = self.sub(sub.id).latest_invoice
            finalized = inv.status_transitions.finalized_at
            check(inv.next_payment_attempt == finalized + 2 * DAY, "the first retry on day 2, as set")
            self.advance(clock, finalized + 4 * DAY + 60)
            s = self.sub(sub.id)
            check(s.status == "unpaid", f"after the last retry: unpaid, as set ({s.status})")
            check((s.latest_invoice.status, s.latest_invoice.attempt_count) == ("uncollectible", 3),
                  "the invoice uncollectible after 3 attempts")
        finally:
            settings("post", **{"retry_days": "", "subscription_after_retries": "canceled",
                                "invoice_after_retries": "past_due"})
            back = settings("post", **{f"retry_days[{i}]": d for i, d in enumerate(RETRY_DAYS)})
            check(back["retry_days"] == RETRY_DAYS, "the default settings back")

    # ---------------------------------------------------------------- prorations

    def prorations(self):
        clock, cus = self.customer()
        sub = self.subs.create(params={"customer": cus, "items": [{"price": self.price[1000]}]})
        si = sub["items"].data[0]
        start, end = si.current_period_start, si.current_period_end
        self.advance(clock, start + (end - start) // 2)
        up = self.subs.update(sub.id, params={"items": [{"id": si.id, "price": self.price[3000]}],
                                              "proration_behavior": "always_invoice"})
        check(up["items"].data[0].price.id == self.price[3000] and up["items"].data[0].id == si.id,
              "the item now bills 30.00")
        inv = shaped(self.invoices.retrieve(up.latest_invoice), "the upgrade's invoice")
        check(inv.billing_reason == "subscription_update", "billing_reason subscription_update")
        check([line.amount for line in inv.lines.data] == [-500, 1500],
              "unused half of 10.00 credited, remaining half of 30.00 charged")
        check(inv.lines.data[0].description.startswith("Unused time on 1 × Pro (at $10.00 / month) after ")
              and inv.lines.data[1].description.startswith("Remaining time on 1 × Pro (at $30.00 / month)"),
              "Stripe's proration descriptions")
        check(all(line.parent.invoice_item_details.proration for line in inv.lines.data), "proration lines")
        check((inv.status, inv.amount_paid) == ("paid", 1000), "invoiced and paid at once: 10.00")

        self.subs.update(sub.id, params={"items": [{"id": si.id, "price": self.price[1000]}]})
        pending = list(self.invoice_items.list(params={"customer": cus, "pending": True}).auto_paging_iter())
        for it in pending:
            shaped(it, "a proration item")
        check(sorted(i.amount for i in pending) == [-1500, 500], "create_prorations leaves pending items")
        check(all(i.proration and i.parent.subscription_details.subscription == sub.id for i in pending),
              "… prorations of the subscription")
        self.advance(clock, end + 2 * HOUR)
        renewal = self.sub(sub.id).latest_invoice
        check(renewal.billing_reason == "subscription_cycle" and renewal.subtotal == 1000 - 1500 + 500,
              f"the renewal carries them ({renewal.subtotal})")
        check(sorted(line.amount for line in renewal.lines.data) == [-1500, 500, 1000], "three lines")
        check(not self.invoice_items.list(params={"customer": cus, "pending": True}).data, "nothing pending")

    # ---------------------------------------------------------------- cancel at period end

    def cancel_at_period_end(self):
        clock, cus = self.customer()
        sub = self.subs.create(params={"customer": cus, "items": [{"price": self.price[1000]}]})
        end = sub["items"].data[0].current_period_end
        s = self.subs.update(sub.id, params={"cancel_at_period_end": True})
        check((s.status, s.cancel_at, s.cancel_at_period_end) == ("active", end, True),
              "cancel_at_period_end: still active, cancel_at the period's end")
        self.advance(clock, end + 60)
        s = self.subs.retrieve(sub.id)
        check((s.status, s.ended_at, s.cancellation_details.reason)
              == ("canceled", end, "cancellation_requested"), "canceled at the period's end")
        check(len(self.invoices.list(params={"subscription": sub.id}).data) == 1, "no renewal invoice")
        check(sub.id not in [x.id for x in self.subs.list(params={"customer": cus}).data],
              "a canceled subscription is not listed by default")
        check([x.id for x in self.subs.list(params={"customer": cus, "status": "canceled"}).data] == [sub.id],
              "… but by status=canceled")
        refused(lambda: self.subs.update(sub.id, params={"metadata": {"a": "b"}}), "updating a canceled one",
                param="subscription")

    # ---------------------------------------------------------------- first payments

    def default_incomplete(self):
        _, cus = self.customer(card=None)
        # Stripe's guide: confirmation_secret comes only when expanded.
        plain = self.subs.create(params={"customer": cus, "items": [{"price": self.price[2000]}],
                                         "payment_behavior": "default_incomplete", "expand": ["latest_invoice"]})
        check("confirmation_secret" not in plain.latest_invoice, "confirmation_secret only when expanded")
        sub = self.subs.create(params={"customer": cus, "items": [{"price": self.price[2000]}],
                                       "payment_behavior": "default_incomplete",
                                       "expand": ["latest_invoice.confirmation_secret"]})
        inv = sub.latest_invoice
        check(sub.status == "incomplete" and inv.status == "open", "default_incomplete: incomplete, invoice open")
        secret = inv.confirmation_secret.client_secret
        check(inv.confirmation_secret.type == "payment_intent" and "_secret_" in secret,
              "the invoice's confirmation secret is a PaymentIntent's")
        pi = self.client.v1.payment_intents.confirm(secret.split("_secret_")[0],
                                                    params={"payment_method": "pm_card_visa"})
        check(pi.status == "succeeded" and pi.amount == 2000, "confirming it pays 20.00")
        s = self.sub(sub.id)
        check(s.status == "active" and s.latest_invoice.status == "paid", "the subscription is active, paid")

    def error_if_incomplete(self):
        _, cus = self.customer(card="pm_card_chargeCustomerFail")
        refused(lambda: self.subs.create(params={"customer": cus, "items": [{"price": self.price[2000]}],
                                                 "payment_behavior": "error_if_incomplete"}),
                "error_if_incomplete with a declined card", cls=stripe.CardError, status=402,
                code="card_declined")
        check(not self.subs.list(params={"customer": cus, "status": "all"}).data, "no subscription made")
        check(not self.invoices.list(params={"customer": cus}).data, "no invoice made")

    # ---------------------------------------------------------------- invoices by hand

    def invoices_by_hand(self):
        _, cus = self.customer(clock=False)
        rate = self.client.v1.tax_rates.create(params={"display_name": "VAT", "percentage": 10,
                                                       "inclusive": False})
        setup = shaped(self.invoice_items.create(params={"customer": cus, "amount": 1000, "currency": "usd",
                                                         "description": "Setup"}), "an invoice item")
        check(setup.invoice is None and setup.amount == 1000, "a pending item of 10.00")
        hours = shaped(self.invoice_items.create(params={"customer": cus, "unit_amount_decimal": "250",
                                                         "quantity": 4, "currency": "usd",
                                                         "tax_rates": [rate.id]}), "a taxed item")
        check(hours.amount == 1000 and str(hours.pricing.unit_amount_decimal) == "250",
              "4 × 2.50 is 10.00")
        inv = shaped(self.invoices.create(params={"customer": cus,
                                                  "pending_invoice_items_behavior": "include"}), "draft")
        check((inv.status, inv.billing_reason, inv.number) == ("draft", "manual", None), "a manual draft")
        check((inv.subtotal, inv.total, inv.amount_due) == (2000, 2100, 2100), "20.00 and 10 % on half")
        check([(t.amount, t.taxable_amount, t.tax_rate_details.tax_rate) for t in inv.total_taxes]
              == [(100, 1000, rate.id)], "total_taxes: 1.00 on 10.00")
        lines = self.invoices.line_items.list(inv.id).data
        for line in lines:
            shaped(line, "an invoice line")
        check([li.parent.invoice_item_details.invoice_item for li in lines] == [setup.id, hours.id],
              "lines oldest first, one per item")
        check(self.invoice_items.retrieve(setup.id).invoice == inv.id, "the item is on the draft")

        opened = shaped(self.invoices.finalize_invoice(inv.id), "finalized")
        check(opened.status == "open" and opened.number.endswith("-0001"), f"open, numbered ({opened.number})")
        refused(lambda: self.invoice_items.update(setup.id, params={"amount": 5}), "an item on an open invoice")
        refused(lambda: self.invoices.finalize_invoice(inv.id), "finalizing twice", param="invoice")
        paid = self.invoices.pay(inv.id)
        check((paid.status, paid.amount_paid, paid.amount_remaining) == ("paid", 2100, 0), "paid with the card")
        refused(lambda: self.invoices.void_invoice(inv.id), "voiding a paid invoice", param="invoice")

        self.invoice_items.create(params={"customer": cus, "amount": 700, "currency": "usd"})
        sent = self.invoices.create(params={"customer": cus, "pending_invoice_items_behavior": "include",
                                            "collection_method": "send_invoice", "days_until_due": 14})
        opened = self.invoices.finalize_invoice(sent.id)
        check(opened.status == "open" and opened.due_date == opened.created + 14 * DAY and
              opened.number.endswith("-0002"), "a send_invoice invoice due in 14 days, -0002")
        check(self.invoices.send_invoice(sent.id).status == "open", "sent")
        lost = self.invoices.mark_uncollectible(sent.id)
        check(lost.status == "uncollectible" and lost.status_transitions.marked_uncollectible_at,
              "marked uncollectible")
        void = self.invoices.void_invoice(sent.id)
        check((void.status, void.amount_remaining) == ("void", 0), "then voided")
        types = [e.type for e in self.events_of(cus) if e.data.object.id == sent.id]
        check(types == ["invoice.created", "invoice.finalized", "invoice.sent", "invoice.marked_uncollectible",
                        "invoice.voided"], f"its events in order ({types})")

        draft = self.invoices.create(params={"customer": cus})
        gone = self.invoices.delete(draft.id)
        check(gone.id == draft.id and gone.deleted is True, "a draft is deleted")
        refused(lambda: self.invoices.retrieve(draft.id), "a deleted draft", status=404, code="resource_missing")

    # ---------------------------------------------------------------- subscription items

    def subscription_items(self):
        _, cus = self.customer()
        sub = self.subs.create(params={"customer": cus, "items": [{"price": self.price[1000]}]})
        first = sub["items"].data[0]
        added = shaped(self.items.create(params={"subscription": sub.id, "price": self.price[1500],
                                                 "proration_behavior": "none"}), "an added item")
        check(added.subscription == sub.id and added.quantity == 1 and added.price.id == self.price[1500],
              "subscription_items.create adds a price")
        check((added.current_period_start, added.current_period_end)
              == (first.current_period_start, first.current_period_end), "in the subscription's period")
        listed = [i.id for i in self.items.list(params={"subscription": sub.id}).auto_paging_iter()]
        check(listed == [first.id, added.id], "subscription_items list, oldest first")
        three = self.items.update(added.id, params={"quantity": 3, "proration_behavior": "none"})
        check(three.quantity == 3 and three.id == added.id, "update sets the quantity")
        s = self.subs.retrieve(sub.id)
        check([(i.id, i.quantity) for i in s["items"].data] == [(first.id, 1), (added.id, 3)],
              "the subscription shows both items")
        check(not self.invoice_items.list(params={"customer": cus, "pending": True}).data,
              "proration_behavior=none bills nothing now")
        gone = self.items.delete(added.id, params={"proration_behavior": "none"})
        check(gone.id == added.id and gone.deleted is True, "an item is deleted")
        listed = [i.id for i in self.items.list(params={"subscription": sub.id}).auto_paging_iter()]
        check(listed == [first.id], "… and no longer listed")
        refused(lambda: self.items.delete(first.id), "deleting the last item")
        refused(lambda: self.items.create(params={"subscription": sub.id, "price": "price_nope"}),
                "an unknown price", code="resource_missing")


def main():
    global ERROR
    base = env("STRIPE_API_BASE").rstrip("/")
    ERROR = error_validator()
    b = Billing(base, env("STRIPE_SECRET_KEY"))
    b.trial_and_renewals()
    b.dunning()
    b.unpaid_per_settings()
    b.prorations()
    b.cancel_at_period_end()
    b.default_incomplete()
    b.error_if_incomplete()
    b.invoices_by_hand()
    b.subscription_items()
    print(f"stripe SDK {stripe.VERSION}: {len(PASSED)} billing checks passed against {base}")


if __name__ == "__main__":
    run(main)
