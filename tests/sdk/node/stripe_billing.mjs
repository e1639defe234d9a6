#!/usr/bin/env node
// Drives a live Mirra Stripe mirror's billing with the OFFICIAL `stripe` Node
// SDK, reaching its session by host, port and key (credential routing): test
// clocks, subscriptions, subscription items, invoice items and invoices — the
// story of stripe_billing.py.
//
// Environment:
//   MIRRA_URL            the server's root, e.g. http://127.0.0.1:4400
//   STRIPE_SECRET_KEY    the session's secret key
//   MIRRA_SDK_NODE_DIR   where infra/test installed tests/sdk/node's package.json
//
// The server runs on real time, so time moves only through test clocks: each
// story has its own clock and customer, advanced and polled until `ready`. A
// trial that ends and renews twice (its events delivered to a webhook
// endpoint on loopback and verified with `stripe.webhooks.constructEvent`), a
// failed renewal retried on the dunning schedule until the subscription is
// canceled, an upgrade invoiced at once and a downgrade prorated onto the
// next renewal, cancel at period end, `default_incomplete` confirmed through
// the invoice's confirmation secret, `error_if_incomplete` refused with
// StripeCardError, an invoice made by hand (items, tax, lines, finalize, pay,
// send, uncollectible, void, delete) and subscription items added, changed and
// removed. Every object must have the fields the SDK's own typings require,
// and none they lack. Exits non-zero with a message on the first failure;
// prints one summary line.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { check, env, passed, sdk } from './checks.mjs';

const { module: Stripe, version: sdkVersion } = sdk('stripe');
const root = new URL(env('MIRRA_URL'));
const stripe = new Stripe(env('STRIPE_SECRET_KEY'), {
  host: root.hostname,
  port: Number(root.port),
  protocol: root.protocol.replace(':', ''),
  maxNetworkRetries: 0,
});

const DAY = 86_400;
const HOUR = 3_600;
// The dunning schedule: retries this many days after the invoice was finalized.
const RETRY_DAYS = [1, 3, 5, 7, 10, 12, 14];

const same = (actual, expected, what) =>
  check(isDeepStrictEqual(actual, expected), `${what}: ${JSON.stringify(actual)}`);

/** The fields the SDK's typings give `iface` in resources/`file`.d.ts: required and optional. */
function typed(file, iface) {
  const dts = join(env('MIRRA_SDK_NODE_DIR'), 'node_modules/stripe/cjs/resources', `${file}.d.ts`);
  const body = readFileSync(dts, 'utf8').split(`\nexport interface ${iface} {\n`)[1].split('\n}')[0];
  const fields = [...body.matchAll(/^ {4}([a-z_]+)(\??):/gm)];
  return {
    required: fields.filter((m) => !m[2]).map((m) => m[1]),
    all: new Set(fields.map((m) => m[1])),
  };
}

const SHAPES = {
  subscription: typed('Subscriptions', 'Subscription'),
  subscription_item: typed('SubscriptionItems', 'SubscriptionItem'),
  invoice: typed('Invoices', 'Invoice'),
  invoiceitem: typed('InvoiceItems', 'InvoiceItem'),
  line_item: typed('InvoiceLineItems', 'InvoiceLineItem'),
  'test_helpers.test_clock': typed('TestHelpers/TestClocks', 'TestClock'),
};

/** `obj` has every field its typings require and none they lack. */
function shaped(obj, what) {
  const shape = SHAPES[obj.object];
  const keys = Object.keys(obj).filter((k) => k !== 'lastResponse');
  const extra = keys.filter((k) => !shape.all.has(k));
  const missing = shape.required.filter((k) => !(k in obj));
  check(extra.length === 0, `${what}: a ${obj.object} with only the SDK's fields (extra ${extra})`);
  check(missing.length === 0, `${what}: a ${obj.object} with every field (missing ${missing})`);
  return obj;
}

/** The promise must reject with `cls` (StripeInvalidRequestError), HTTP `status` and the given fields. */
async function refused(promise, what, { cls = Stripe.errors.StripeInvalidRequestError, status = 400, code, param,
  message } = {}) {
  try {
    await promise;
  } catch (e) {
    check(e instanceof cls, `${what}: a ${cls.name} (got ${e?.type}: ${e?.message})`);
    check(e.statusCode === status, `${what}: HTTP ${status} (got ${e.statusCode}: ${e.message})`);
    if (code !== undefined) check(e.code === code, `${what}: code ${code} (got ${e.code}: ${e.message})`);
    if (param !== undefined) check(e.param === param, `${what}: param ${param} (got ${e.param}: ${e.message})`);
    if (message !== undefined) check(e.message === message, `${what}: the message (got ${e.message})`);
    return e;
  }
  throw new Error(`${what}: expected ${cls.name}, the call succeeded`);
}

/** `t` moved `n` calendar months on, its day clamped to the month's last. */
function addMonths(t, n) {
  const d = new Date(t * 1000);
  const month = d.getUTCMonth() + n;
  const last = new Date(Date.UTC(d.getUTCFullYear(), month + 1, 0)).getUTCDate();
  return Date.UTC(d.getUTCFullYear(), month, Math.min(d.getUTCDate(), last), d.getUTCHours(),
    d.getUTCMinutes(), d.getUTCSeconds()) / 1000;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ids = async (list) => (await list.autoPagingToArray({ limit: 1000 })).map((o) => o.id);

// Each story's clock starts at the hour (real time, as a test would).
const t0 = Math.floor(Date.now() / 1000 / HOUR) * HOUR;
const product = await stripe.products.create({ name: 'Pro' });
const price = {};
for (const amount of [1000, 1500, 2000, 3000]) {
  price[amount] = (await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: amount,
    recurring: { interval: 'month' } })).id;
}

// ---------------------------------------------------------------- helpers

async function defaultCard(customer, card) {
  const pm = await stripe.paymentMethods.attach(card, { customer });
  await stripe.customers.update(customer, { invoice_settings: { default_payment_method: pm.id } });
}

/** A customer on a new test clock at t0 paying with `card` by default: [clock, customer]. */
async function customer({ card = 'pm_card_visa', clock = true } = {}) {
  let clockId = null;
  if (clock) {
    const made = shaped(await stripe.testHelpers.testClocks.create({ frozen_time: t0, name: 'billing' }),
      'test clock');
    check(made.status === 'ready' && made.frozen_time === t0, 'a test clock, ready at t0');
    clockId = made.id;
  }
  const c = await stripe.customers.create({ email: 'billing@example.com', ...(clockId && { test_clock: clockId }) });
  if (card) await defaultCard(c.id, card);
  return [clockId, c.id];
}

/** Advances `clock` to `to`; polls until the dispatcher made it ready. */
async function advance(clock, to) {
  let c = await stripe.testHelpers.testClocks.advance(clock, { frozen_time: to });
  check(c.status === 'advancing', `advance answers advancing (${c.status})`);
  const deadline = Date.now() + 10_000;
  while (c.status !== 'ready') {
    if (Date.now() > deadline) throw new Error(`clock ${clock} still ${c.status} after 10 s`);
    await sleep(20);
    c = await stripe.testHelpers.testClocks.retrieve(clock);
  }
  check(c.frozen_time === to && isDeepStrictEqual(c.status_details, {}), 'the clock is ready at its target');
}

const sub = (id) => stripe.subscriptions.retrieve(id, { expand: ['latest_invoice'] });

/** The events about `customer`'s objects, oldest first (they carry clock time: no marker orders them). */
async function eventsOf(cus) {
  const all = await stripe.events.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 });
  return all.filter((e) => e.data.object.customer === cus).reverse();
}

// ---------------------------------------------------------------- trial, renewals, webhooks
{
  const got = [];
  const receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ sig: req.headers['stripe-signature'], body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-length': '0' }).end();
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  const endpoint = await stripe.webhookEndpoints.create({
    url: `http://127.0.0.1:${receiver.address().port}/hook`, enabled_events: ['*'] });
  check(endpoint.secret.startsWith('whsec_'), 'a webhook endpoint for every event, with its secret');

  const [clock, cus] = await customer();
  const s0 = shaped(await stripe.subscriptions.create({ customer: cus, items: [{ price: price[1000] }],
    trial_period_days: 7, expand: ['latest_invoice'] }), 'trialing subscription');
  const item = shaped(s0.items.data[0], 'its item');
  same([s0.status, s0.trial_start, s0.trial_end], ['trialing', t0, t0 + 7 * DAY],
    'trial_period_days=7: trialing for 7 days of clock time');
  check(s0.test_clock === clock && s0.customer === cus, "the subscription is on the customer's clock");
  same([item.current_period_start, item.current_period_end], [t0, t0 + 7 * DAY], "the item's period is the trial");
  const first = shaped(s0.latest_invoice, "the trial's invoice");
  same([first.billing_reason, first.status, first.amount_due], ['subscription_create', 'paid', 0],
    'the first invoice owes nothing and is paid');
  check(first.parent.subscription_details.subscription === s0.id, 'it names the subscription in parent');
  const line = shaped(first.lines.data[0], "the trial's line");
  check(line.description === 'Trial period for Pro' && line.amount === 0, 'one line: Trial period for Pro');

  await refused(stripe.testHelpers.testClocks.advance(clock, { frozen_time: t0 - 60 }), 'a clock moved back',
    { param: 'frozen_time' });
  await advance(clock, t0 + 7 * DAY + 2 * HOUR);
  let s = await sub(s0.id);
  const renewal = shaped(s.latest_invoice, 'the first renewal');
  const end = addMonths(t0 + 7 * DAY, 1);
  check(s.status === 'active', `active once the trial is over (${s.status})`);
  same([s.items.data[0].current_period_start, s.items.data[0].current_period_end], [t0 + 7 * DAY, end],
    "a month's period from the trial's end");
  same([renewal.billing_reason, renewal.status, renewal.amount_paid], ['subscription_cycle', 'paid', 1000],
    'a subscription_cycle invoice of 10.00, paid');
  same([renewal.created, renewal.status_transitions.paid_at], [t0 + 7 * DAY, t0 + 7 * DAY + HOUR],
    "made at the trial's end, finalized and paid an hour later");
  check(renewal.lines.data[0].description === '1 × Pro (at $10.00 / month)', "the renewal's line");
  check(renewal.parent.subscription_details.subscription === s0.id, 'linked through parent');

  await advance(clock, end + 2 * HOUR);
  s = await sub(s0.id);
  check(s.latest_invoice.id !== renewal.id && s.latest_invoice.amount_paid === 1000
    && s.latest_invoice.status === 'paid', 'a second renewal, paid');
  check(s.items.data[0].current_period_end === addMonths(t0 + 7 * DAY, 2), 'the next period');
  same((await stripe.invoices.list({ subscription: s0.id })).data.map((i) => i.billing_reason),
    ['subscription_cycle', 'subscription_cycle', 'subscription_create'], 'invoices list by subscription');

  const events = await eventsOf(cus);
  const types = events.map((e) => e.type);
  const count = (kind) => types.filter((t) => t === kind).length;
  for (const [kind, n] of [['customer.subscription.trial_will_end', 1], ['invoice.created', 3],
    ['invoice.finalized', 3], ['invoice.paid', 3]]) {
    check(count(kind) === n, `${n} × ${kind} (${count(kind)})`);
  }
  const warned = events.find((e) => e.type === 'customer.subscription.trial_will_end');
  check(warned.created === t0 + 4 * DAY, 'trial_will_end 3 days before the trial ends, on clock time');
  const became = events.filter((e) => e.type === 'customer.subscription.updated'
    && e.data.previous_attributes?.status === 'trialing');
  check(became.length === 1 && became[0].data.object.status === 'active',
    'customer.subscription.updated: trialing → active');
  check(events.indexOf(warned) < events.indexOf(became[0]), 'trial_will_end comes before the trial ends');

  // Every event about the customer was delivered, signed with the endpoint's secret.
  const wanted = events.map((e) => e.id);
  const deadline = Date.now() + 15_000;
  let delivered = new Map();
  for (;;) {
    delivered = new Map(got.map((d) => [JSON.parse(d.body).id, d]));
    if (wanted.every((id) => delivered.has(id)) || Date.now() > deadline) break;
    await sleep(50);
  }
  check(wanted.every((id) => delivered.has(id)),
    `every event delivered (${wanted.filter((id) => !delivered.has(id)).length} missing)`);
  for (const id of wanted) {
    const { sig, body } = delivered.get(id);
    const event = stripe.webhooks.constructEvent(body, sig, endpoint.secret);
    check(event.id === id, `${event.type}: constructEvent verifies the delivery`);
  }
  const { sig, body } = delivered.get(wanted[0]);
  try {
    stripe.webhooks.constructEvent(body, sig, 'whsec_wrong');
    throw new Error('a wrong secret: the signature verified');
  } catch (e) {
    check(e instanceof Stripe.errors.StripeSignatureVerificationError, `a wrong secret fails verification (${e})`);
  }
  await stripe.webhookEndpoints.del(endpoint.id);
  receiver.close();
}

// ---------------------------------------------------------------- dunning
{
  const [clock, cus] = await customer();
  const s0 = await stripe.subscriptions.create({ customer: cus, items: [{ price: price[1500] }] });
  check(s0.status === 'active', 'a subscription paid at once is active');
  await defaultCard(cus, 'pm_card_chargeCustomerFail');
  const renewal = s0.items.data[0].current_period_end;
  await advance(clock, renewal + 2 * HOUR);
  let s = await sub(s0.id);
  let inv = s.latest_invoice;
  check(s.status === 'past_due', `a declined renewal makes it past_due (${s.status})`);
  same([inv.status, inv.attempt_count, inv.attempted], ['open', 1, true], 'the invoice open, tried once');
  const finalized = inv.status_transitions.finalized_at;
  check(finalized === renewal + HOUR, 'finalized an hour after the renewal');
  for (const [n, days] of RETRY_DAYS.entries()) {
    check(inv.next_payment_attempt === finalized + days * DAY,
      `retry ${n + 1} planned ${days} days after finalization`);
    await advance(clock, finalized + days * DAY + 60);
    s = await sub(s0.id);
    inv = s.latest_invoice;
    check(inv.attempt_count === n + 2, `attempt ${n + 2} made (${inv.attempt_count})`);
  }
  same([s.status, s.cancellation_details.reason], ['canceled', 'payment_failed'],
    'after the last retry the subscription is canceled: payment_failed');
  check(s.ended_at === finalized + RETRY_DAYS.at(-1) * DAY, 'ended at the last retry');
  same([inv.status, inv.next_payment_attempt], ['open', null], 'the invoice stays open, no next attempt');
  const types = (await eventsOf(cus)).map((e) => e.type);
  check(types.filter((t) => t === 'invoice.payment_failed').length === 1 + RETRY_DAYS.length,
    '8 × invoice.payment_failed');
  check(types.filter((t) => t === 'customer.subscription.deleted').length === 1, 'customer.subscription.deleted');
}

// ---------------------------------------------------------------- unpaid, per the billing settings
// Mirra's helper sets what Stripe keeps in its Dashboard: retries on days 2
// and 4, then the subscription unpaid and the invoice uncollectible.
{
  try {
    const set = await stripe.rawRequest('POST', '/v1/test_helpers/mirra/billing_settings', {
      'retry_days[0]': 2, 'retry_days[1]': 4, subscription_after_retries: 'unpaid',
      invoice_after_retries: 'uncollectible' });
    check(JSON.stringify(set.retry_days) === '[2,4]' && set.subscription_after_retries === 'unpaid',
      'billing settings: retries on days 2 and 4, then unpaid');
    const [clock, cus] = await customer();
    const s0 = await stripe.subscriptions.create({ customer: cus, items: [{ price: price[1500] }] });
    await defaultCard(cus, 'pm_card_chargeCustomerFail');
    const renewal = s0.items.data[0].current_period_end;
    await advance(clock, renewal + 2 * HOUR);
    const inv = (await sub(s0.id)).latest_invoice;
    const finalized = inv.status_transitions.finalized_at;
    check(inv.next_payment_attempt === finalized + 2 * DAY, 'the first retry on day 2, as set');
    await advance(clock, finalized + 4 * DAY + 60);
    const s = await sub(s0.id);
    check(s.status === 'unpaid', `after the last retry: unpaid, as set (${s.status})`);
    check(s.latest_invoice.status === 'uncollectible' && s.latest_invoice.attempt_count === 3,
      'the invoice uncollectible after 3 attempts');
  } finally {
    await stripe.rawRequest('POST', '/v1/test_helpers/mirra/billing_settings', {
      subscription_after_retries: 'canceled', invoice_after_retries: 'past_due',
      ...Object.fromEntries(RETRY_DAYS.map((d, i) => [`retry_days[${i}]`, d])) });
  }
}

// ---------------------------------------------------------------- prorations
{
  const [clock, cus] = await customer();
  const s0 = await stripe.subscriptions.create({ customer: cus, items: [{ price: price[1000] }] });
  const si = s0.items.data[0];
  const [start, end] = [si.current_period_start, si.current_period_end];
  await advance(clock, start + (end - start) / 2);
  const up = await stripe.subscriptions.update(s0.id, { items: [{ id: si.id, price: price[3000] }],
    proration_behavior: 'always_invoice' });
  check(up.items.data[0].price.id === price[3000] && up.items.data[0].id === si.id, 'the item now bills 30.00');
  const inv = shaped(await stripe.invoices.retrieve(up.latest_invoice), "the upgrade's invoice");
  check(inv.billing_reason === 'subscription_update', 'billing_reason subscription_update');
  same(inv.lines.data.map((l) => l.amount), [-500, 1500],
    'unused half of 10.00 credited, remaining half of 30.00 charged');
  check(inv.lines.data[0].description.startsWith('Unused time on 1 × Pro (at $10.00 / month) after ')
    && inv.lines.data[1].description.startsWith('Remaining time on 1 × Pro (at $30.00 / month)'),
  "Stripe's proration descriptions");
  check(inv.lines.data.every((l) => l.parent.invoice_item_details.proration), 'proration lines');
  same([inv.status, inv.amount_paid], ['paid', 1000], 'invoiced and paid at once: 10.00');

  await stripe.subscriptions.update(s0.id, { items: [{ id: si.id, price: price[1000] }] });
  const pending = await stripe.invoiceItems.list({ customer: cus, pending: true }).autoPagingToArray({ limit: 100 });
  pending.forEach((i) => shaped(i, 'a proration item'));
  same(pending.map((i) => i.amount).sort((a, b) => a - b), [-1500, 500], 'create_prorations leaves pending items');
  check(pending.every((i) => i.proration && i.parent.subscription_details.subscription === s0.id),
    '… prorations of the subscription');
  await advance(clock, end + 2 * HOUR);
  const next = (await sub(s0.id)).latest_invoice;
  check(next.billing_reason === 'subscription_cycle' && next.subtotal === 1000 - 1500 + 500,
    `the renewal carries them (${next.subtotal})`);
  same(next.lines.data.map((l) => l.amount).sort((a, b) => a - b), [-1500, 500, 1000], 'three lines');
  check((await stripe.invoiceItems.list({ customer: cus, pending: true })).data.length === 0, 'nothing pending');
}

// ---------------------------------------------------------------- cancel at period end
{
  const [clock, cus] = await customer();
  const s0 = await stripe.subscriptions.create({ customer: cus, items: [{ price: price[1000] }] });
  const end = s0.items.data[0].current_period_end;
  let s = await stripe.subscriptions.update(s0.id, { cancel_at_period_end: true });
  same([s.status, s.cancel_at, s.cancel_at_period_end], ['active', end, true],
    "cancel_at_period_end: still active, cancel_at the period's end");
  await advance(clock, end + 60);
  s = await stripe.subscriptions.retrieve(s0.id);
  same([s.status, s.ended_at, s.cancellation_details.reason], ['canceled', end, 'cancellation_requested'],
    "canceled at the period's end");
  check((await stripe.invoices.list({ subscription: s0.id })).data.length === 1, 'no renewal invoice');
  check(!(await ids(stripe.subscriptions.list({ customer: cus }))).includes(s0.id),
    'a canceled subscription is not listed by default');
  same(await ids(stripe.subscriptions.list({ customer: cus, status: 'canceled' })), [s0.id],
    '… but by status=canceled');
  await refused(stripe.subscriptions.update(s0.id, { metadata: { a: 'b' } }), 'updating a canceled one',
    { param: 'subscription' });
}

// ---------------------------------------------------------------- first payments
{
  const [, cus] = await customer({ card: null });
  // Stripe's guide: confirmation_secret comes only when expanded.
  const plain = await stripe.subscriptions.create({ customer: cus, items: [{ price: price[2000] }],
    payment_behavior: 'default_incomplete', expand: ['latest_invoice'] });
  check(plain.latest_invoice.confirmation_secret === undefined, 'confirmation_secret only when expanded');
  const s0 = await stripe.subscriptions.create({ customer: cus, items: [{ price: price[2000] }],
    payment_behavior: 'default_incomplete', expand: ['latest_invoice.confirmation_secret'] });
  const inv = s0.latest_invoice;
  check(s0.status === 'incomplete' && inv.status === 'open', 'default_incomplete: incomplete, invoice open');
  const secret = inv.confirmation_secret.client_secret;
  check(inv.confirmation_secret.type === 'payment_intent' && secret.includes('_secret_'),
    "the invoice's confirmation secret is a PaymentIntent's");
  const pi = await stripe.paymentIntents.confirm(secret.split('_secret_')[0], { payment_method: 'pm_card_visa' });
  check(pi.status === 'succeeded' && pi.amount === 2000, 'confirming it pays 20.00');
  const s = await sub(s0.id);
  check(s.status === 'active' && s.latest_invoice.status === 'paid', 'the subscription is active, paid');
}
{
  const [, cus] = await customer({ card: 'pm_card_chargeCustomerFail' });
  await refused(stripe.subscriptions.create({ customer: cus, items: [{ price: price[2000] }],
    payment_behavior: 'error_if_incomplete' }), 'error_if_incomplete with a declined card',
  { cls: Stripe.errors.StripeCardError, status: 402, code: 'card_declined' });
  check((await stripe.subscriptions.list({ customer: cus, status: 'all' })).data.length === 0, 'no subscription made');
  check((await stripe.invoices.list({ customer: cus })).data.length === 0, 'no invoice made');
}

// ---------------------------------------------------------------- invoices by hand
{
  const [, cus] = await customer({ clock: false });
  const rate = await stripe.taxRates.create({ display_name: 'VAT', percentage: 10, inclusive: false });
  const setup = shaped(await stripe.invoiceItems.create({ customer: cus, amount: 1000, currency: 'usd',
    description: 'Setup' }), 'an invoice item');
  check(setup.invoice === null && setup.amount === 1000, 'a pending item of 10.00');
  const hours = shaped(await stripe.invoiceItems.create({ customer: cus, unit_amount_decimal: '250', quantity: 4,
    currency: 'usd', tax_rates: [rate.id] }), 'a taxed item');
  check(hours.amount === 1000 && String(hours.pricing.unit_amount_decimal) === '250', '4 × 2.50 is 10.00');
  const inv = shaped(await stripe.invoices.create({ customer: cus, pending_invoice_items_behavior: 'include' }),
    'draft');
  same([inv.status, inv.billing_reason, inv.number], ['draft', 'manual', null], 'a manual draft');
  same([inv.subtotal, inv.total, inv.amount_due], [2000, 2100, 2100], '20.00 and 10 % on half');
  same(inv.total_taxes.map((t) => [t.amount, t.taxable_amount, t.tax_rate_details.tax_rate]), [[100, 1000, rate.id]],
    'total_taxes: 1.00 on 10.00');
  const lines = (await stripe.invoices.listLineItems(inv.id)).data;
  lines.forEach((l) => shaped(l, 'an invoice line'));
  same(lines.map((l) => l.parent.invoice_item_details.invoice_item), [setup.id, hours.id],
    'lines oldest first, one per item');
  check((await stripe.invoiceItems.retrieve(setup.id)).invoice === inv.id, 'the item is on the draft');

  let opened = shaped(await stripe.invoices.finalizeInvoice(inv.id), 'finalized');
  check(opened.status === 'open' && opened.number.endsWith('-0001'), `open, numbered (${opened.number})`);
  await refused(stripe.invoiceItems.update(setup.id, { amount: 5 }), 'an item on an open invoice');
  await refused(stripe.invoices.finalizeInvoice(inv.id), 'finalizing twice', { param: 'invoice' });
  const paid = await stripe.invoices.pay(inv.id);
  same([paid.status, paid.amount_paid, paid.amount_remaining], ['paid', 2100, 0], 'paid with the card');
  await refused(stripe.invoices.voidInvoice(inv.id), 'voiding a paid invoice', { param: 'invoice' });

  await stripe.invoiceItems.create({ customer: cus, amount: 700, currency: 'usd' });
  const sent = await stripe.invoices.create({ customer: cus, pending_invoice_items_behavior: 'include',
    collection_method: 'send_invoice', days_until_due: 14 });
  opened = await stripe.invoices.finalizeInvoice(sent.id);
  check(opened.status === 'open' && opened.due_date === opened.created + 14 * DAY && opened.number.endsWith('-0002'),
    'a send_invoice invoice due in 14 days, -0002');
  check((await stripe.invoices.sendInvoice(sent.id)).status === 'open', 'sent');
  const lost = await stripe.invoices.markUncollectible(sent.id);
  check(lost.status === 'uncollectible' && lost.status_transitions.marked_uncollectible_at, 'marked uncollectible');
  const voided = await stripe.invoices.voidInvoice(sent.id);
  same([voided.status, voided.amount_remaining], ['void', 0], 'then voided');
  same((await eventsOf(cus)).filter((e) => e.data.object.id === sent.id).map((e) => e.type),
    ['invoice.created', 'invoice.finalized', 'invoice.sent', 'invoice.marked_uncollectible', 'invoice.voided'],
    'its events in order');

  const draft = await stripe.invoices.create({ customer: cus });
  const gone = await stripe.invoices.del(draft.id);
  check(gone.id === draft.id && gone.deleted === true, 'a draft is deleted');
  await refused(stripe.invoices.retrieve(draft.id), 'a deleted draft', { status: 404, code: 'resource_missing' });
}

// ---------------------------------------------------------------- subscription items
{
  const [, cus] = await customer();
  const s0 = await stripe.subscriptions.create({ customer: cus, items: [{ price: price[1000] }] });
  const first = s0.items.data[0];
  const added = shaped(await stripe.subscriptionItems.create({ subscription: s0.id, price: price[1500],
    proration_behavior: 'none' }), 'an added item');
  check(added.subscription === s0.id && added.quantity === 1 && added.price.id === price[1500],
    'subscriptionItems.create adds a price');
  same([added.current_period_start, added.current_period_end], [first.current_period_start, first.current_period_end],
    "in the subscription's period");
  same(await ids(stripe.subscriptionItems.list({ subscription: s0.id })), [first.id, added.id],
    'subscription items list, oldest first');
  const three = await stripe.subscriptionItems.update(added.id, { quantity: 3, proration_behavior: 'none' });
  check(three.quantity === 3 && three.id === added.id, 'update sets the quantity');
  same((await stripe.subscriptions.retrieve(s0.id)).items.data.map((i) => [i.id, i.quantity]),
    [[first.id, 1], [added.id, 3]], 'the subscription shows both items');
  check((await stripe.invoiceItems.list({ customer: cus, pending: true })).data.length === 0,
    'proration_behavior=none bills nothing now');
  const gone = await stripe.subscriptionItems.del(added.id, { proration_behavior: 'none' });
  check(gone.id === added.id && gone.deleted === true, 'an item is deleted');
  same(await ids(stripe.subscriptionItems.list({ subscription: s0.id })), [first.id], '… and no longer listed');
  await refused(stripe.subscriptionItems.del(first.id), 'deleting the last item');
  await refused(stripe.subscriptionItems.create({ subscription: s0.id, price: 'price_nope' }), 'an unknown price',
    { code: 'resource_missing' });
}

console.log(`stripe-node ${sdkVersion} against ${root.origin}: ${passed()} billing checks passed`);
