#!/usr/bin/env node
// Drives a live Mirra Stripe mirror's Checkout, customer portal and billing
// seeds with the OFFICIAL `stripe` Node SDK, reaching each session by host,
// port and key (credential routing) — the story of stripe_checkout.py.
//
// Environment:
//   MIRRA_URL                    the server's root, e.g. http://127.0.0.1:4400
//   STRIPE_SECRET_KEY            the session's secret key
//   STRIPE_DUNNING_SECRET_KEY    a session seeded with stripe:dunning-active
//   STRIPE_LIFECYCLE_SECRET_KEY  a session seeded with stripe:subscription-lifecycle
//   MIRRA_SDK_NODE_DIR           where infra/test installed tests/sdk/node's package.json
//
// Checkout Sessions in payment mode (line items listed and expanded, paid
// through Mirra's helper `POST /v1/test_helpers/mirra/checkout/sessions/{id}/complete`
// sent with `rawRequest`: a PaymentIntent for the total, a customer made with
// the e-mail, `checkout.session.completed`, lists by status), subscription
// mode (subscription_data, a coupon on the first invoice, a trial, a declined
// card raising StripeCardError and leaving nothing behind), setup mode (the
// card saved on the customer), expire, promotion codes typed by the customer;
// the customer portal's page driven with fetch as a browser's form would
// (cancel at period end, take it back, switch plans; another customer's
// subscription refused); the stripe:dunning-active seed's retries run out on
// its test clock and stripe:subscription-lifecycle's subscriptions and lookup
// keys. Every object must have every field the SDK's typings require and none
// they lack; every refusal is the SDK's own error class with a 4xx. Exits
// non-zero with a message on the first failure; prints one summary line.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { check, env, passed, sdk } from './checks.mjs';

const { module: Stripe, version: sdkVersion } = sdk('stripe');
const root = new URL(env('MIRRA_URL'));
const connect = (key) => new Stripe(key, {
  host: root.hostname,
  port: Number(root.port),
  protocol: root.protocol.replace(':', ''),
  maxNetworkRetries: 0,
});
const stripe = connect(env('STRIPE_SECRET_KEY'));

const DAY = 86_400;
const OK_URL = 'https://app.example/ok?cs={CHECKOUT_SESSION_ID}';

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
  'checkout.session': typed('Checkout/Sessions', 'Session'),
  'billing_portal.session': typed('BillingPortal/Sessions', 'Session'),
  item: typed('LineItems', 'LineItem'),
  price: typed('Prices', 'Price'),
  payment_intent: typed('PaymentIntents', 'PaymentIntent'),
  setup_intent: typed('SetupIntents', 'SetupIntent'),
  subscription: typed('Subscriptions', 'Subscription'),
  invoice: typed('Invoices', 'Invoice'),
  customer: typed('Customers', 'Customer'),
  payment_method: typed('PaymentMethods', 'PaymentMethod'),
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
async function refused(promise, what, { cls = Stripe.errors.StripeInvalidRequestError, status = 400, code,
  param } = {}) {
  try {
    await promise;
  } catch (e) {
    check(e instanceof cls, `${what}: a ${cls.name} (got ${e?.type}: ${e?.message})`);
    check(e.statusCode === status, `${what}: HTTP ${status} (got ${e.statusCode}: ${e.message})`);
    if (code !== undefined) check(e.code === code, `${what}: code ${code} (got ${e.code}: ${e.message})`);
    if (param !== undefined) check(e.param === param, `${what}: param ${param} (got ${e.param}: ${e.message})`);
    return e;
  }
  throw new Error(`${what}: expected ${cls.name}, the call succeeded`);
}

/** A browser's request to a page the mirror serves (no key, no redirect followed). */
async function browse(url, form) {
  check(url.startsWith('http://'), `an absolute http URL (${url})`);
  const init = { redirect: 'manual' };
  if (form) {
    init.method = 'POST';
    init.headers = { 'content-type': 'application/x-www-form-urlencoded' };
    init.body = new URLSearchParams(form).toString();
  }
  const res = await fetch(url, init);
  return { status: res.status, location: res.headers.get('location') ?? '', html: await res.text() };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ids = async (list) => (await list.autoPagingToArray({ limit: 1000 })).map((o) => o.id);

async function marker() {
  const page = await stripe.events.list({ limit: 1 });
  return page.data.length ? page.data[0].id : null;
}

async function eventsSince(mark) {
  const params = { limit: 100 };
  if (mark) params.ending_before = mark;
  return (await stripe.events.list(params)).data.reverse();
}

/** Mirra's helper, as a test without a browser pays: the session. */
const complete = async (id, params) => shaped(
  await stripe.rawRequest('POST', `/v1/test_helpers/mirra/checkout/sessions/${id}/complete`, params),
  "the helper's answer");
const create = async (what, params) =>
  shaped(await stripe.checkout.sessions.create({ success_url: OK_URL, ...params }), what);

const product = await stripe.products.create({ name: 'Widget' });
const price = {};
for (const amount of [2500, 4000, 500]) {
  price[amount] = (await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: amount })).id;
}
for (const amount of [1000, 1200, 3000]) {
  price[`${amount}/month`] = (await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: amount,
    recurring: { interval: 'month' } })).id;
}

// ---------------------------------------------------------------- payment mode
{
  const s = await create('payment session', { mode: 'payment', customer_creation: 'always',
    line_items: [{ price: price[2500], quantity: 2 }], metadata: { order: 'node-42' } });
  check(s.id.startsWith('cs_test_') && s.object === 'checkout.session', `a Checkout Session (${s.id})`);
  same([s.status, s.payment_status, s.mode], ['open', 'unpaid', 'payment'], 'open and unpaid');
  same([s.amount_subtotal, s.amount_total, s.currency], [5000, 5000, 'usd'], '2 × 25.00 = 50.00');
  check(s.url.startsWith('http') && s.url.endsWith(s.id), `a url to its page (${s.url})`);
  check(s.customer === null && s.customer_creation === 'always', 'no customer yet, one made on payment');
  same(s.metadata, { order: 'node-42' }, 'metadata');
  check(!('line_items' in s), 'line items only when expanded');

  const items = await stripe.checkout.sessions.listLineItems(s.id);
  check(items.data.length === 1 && !items.has_more, 'listLineItems answers the one item');
  const item = shaped(items.data[0], 'the line item');
  shaped(item.price, "the line item's price");
  same([item.price.id, item.quantity, item.amount_subtotal, item.amount_total, item.description],
    [price[2500], 2, 5000, 5000, 'Widget'], 'the item: its price, quantity 2, 50.00, Widget');
  const full = shaped(await stripe.checkout.sessions.retrieve(s.id, { expand: ['line_items'] }), 'expanded');
  same(full.line_items.data.map((i) => i.id), [item.id], 'expand line_items answers the same item');
  const page = await browse(s.url);
  check(page.status === 200 && page.html.includes('$50.00'), `its url opens a page with the total (${page.status})`);

  const mark = await marker();
  const done = await complete(s.id, { payment_method: 'pm_card_visa', email: 'node-buyer@example.com' });
  same([done.status, done.payment_status], ['complete', 'paid'], 'the helper pays it');
  const got = shaped(await stripe.checkout.sessions.retrieve(s.id), 'the paid session');
  same([got.status, got.payment_status], ['complete', 'paid'], 'retrieve: complete and paid');
  check(got.customer_details.email === 'node-buyer@example.com', 'customer_details has the e-mail');
  const pi = shaped(await stripe.paymentIntents.retrieve(got.payment_intent), 'its PaymentIntent');
  same([pi.status, pi.amount], ['succeeded', got.amount_total], 'the PaymentIntent succeeded for amount_total');
  check(got.customer && pi.customer === got.customer, "made for the session's customer");
  const customer = shaped(await stripe.customers.retrieve(got.customer), 'the new customer');
  check(customer.email === 'node-buyer@example.com', 'customer_creation=always made one with the e-mail');
  const completed = (await eventsSince(mark)).filter((e) => e.type === 'checkout.session.completed');
  check(completed.length === 1 && completed[0].data.object.id === s.id, 'checkout.session.completed');
  check((await ids(stripe.checkout.sessions.list({ status: 'complete' }))).includes(s.id),
    'listed by status=complete');
  check(!(await ids(stripe.checkout.sessions.list({ status: 'open' }))).includes(s.id), '… not by status=open');
  same(await ids(stripe.checkout.sessions.list({ payment_intent: pi.id })), [s.id], 'listed by payment_intent');
  await refused(complete(s.id, { payment_method: 'pm_card_visa' }), 'paying a complete session again',
    { code: 'checkout_session_inactive' });
}

// ---------------------------------------------------------------- subscription mode
{
  const coupon = await stripe.coupons.create({ id: 'HALF', percent_off: 50, duration: 'once' });
  const s = await create('subscription session', { mode: 'subscription', customer_email: 'node-sub@example.com',
    line_items: [{ price: price['1200/month'], quantity: 1 }], discounts: [{ coupon: coupon.id }],
    subscription_data: { metadata: { plan: 'pro' } } });
  same([s.amount_subtotal, s.amount_total, s.total_details.amount_discount], [1200, 600, 600],
    'the coupon halves the total');
  same(s.discounts.map((d) => d.coupon), ['HALF'], "the session's discounts name the coupon");
  const done = await complete(s.id, { payment_method: 'pm_card_visa' });
  same([done.status, done.payment_status], ['complete', 'paid'], 'subscription mode: complete, paid');
  const sub = shaped(await stripe.subscriptions.retrieve(done.subscription, { expand: ['latest_invoice'] }),
    'the subscription');
  check(sub.status === 'active' && isDeepStrictEqual(sub.metadata, { plan: 'pro' }),
    "an active subscription with subscription_data's metadata");
  check(sub.customer === done.customer && sub.default_payment_method.startsWith('pm_'),
    'for the new customer, paying with the card');
  const inv = shaped(sub.latest_invoice, 'its first invoice');
  same([inv.status, inv.amount_paid, inv.total_discount_amounts[0].amount], ['paid', 600, 600],
    'the coupon applied on the first invoice (6.00 paid)');
  check((await stripe.coupons.retrieve('HALF')).times_redeemed === 1, 'the coupon redeemed once');
  check((await stripe.customers.retrieve(sub.customer)).email === 'node-sub@example.com',
    'the customer has customer_email');

  const trial = await create('trial session', { mode: 'subscription', line_items: [{ price: price['1000/month'] }],
    subscription_data: { trial_period_days: 7, metadata: { plan: 'trial' } } });
  const started = await complete(trial.id, { payment_method: 'pm_card_visa', email: 'node-trial@example.com' });
  same([started.status, started.payment_status], ['complete', 'no_payment_required'],
    'a trial: complete, no payment required');
  const trialing = shaped(await stripe.subscriptions.retrieve(started.subscription, { expand: ['latest_invoice'] }),
    'the trialing subscription');
  check(trialing.status === 'trialing' && trialing.trial_end - trialing.trial_start === 7 * DAY,
    'trialing for 7 days');
  check(trialing.latest_invoice.amount_paid === 0 && trialing.metadata.plan === 'trial', 'nothing paid yet');

  const before = await ids(stripe.subscriptions.list({ status: 'all' }));
  const declined = await create('session to decline', { mode: 'subscription',
    line_items: [{ price: price['1200/month'] }] });
  await refused(complete(declined.id, { payment_method: 'pm_card_chargeDeclined' }), 'a declined card',
    { cls: Stripe.errors.StripeCardError, status: 402, code: 'card_declined' });
  same(await ids(stripe.subscriptions.list({ status: 'all' })), before, 'no subscription left behind (status=all)');
  const again = shaped(await stripe.checkout.sessions.retrieve(declined.id), 'the declined session');
  same([again.status, again.subscription], ['open', null], 'the session stays open, no subscription');
}

// ---------------------------------------------------------------- setup mode
{
  const customer = await stripe.customers.create({ email: 'node-saver@example.com' });
  const s = await create('setup session', { mode: 'setup', currency: 'usd', customer: customer.id });
  same([s.mode, s.payment_status, s.amount_total, s.customer], ['setup', 'no_payment_required', null, customer.id],
    'setup mode: nothing to pay, for the customer');
  const done = await complete(s.id, { payment_method: 'pm_card_mastercard' });
  check(done.status === 'complete' && done.setup_intent.startsWith('seti_'), 'complete, a SetupIntent');
  const si = shaped(await stripe.setupIntents.retrieve(done.setup_intent), 'the SetupIntent');
  same([si.status, si.customer], ['succeeded', customer.id], 'the SetupIntent succeeded for the customer');
  const cards = (await stripe.customers.listPaymentMethods(customer.id)).data;
  same(cards.map((c) => c.id), [si.payment_method], 'the card is listed on the customer');
  check(shaped(cards[0], 'the saved card').card.brand === 'mastercard', '… a Mastercard');
  await refused(create('no currency', { mode: 'setup', customer: customer.id }), 'setup without currency',
    { param: 'currency' });
}

// ---------------------------------------------------------------- expire
{
  const s = await create('session to expire', { line_items: [{ price: price[500] }] });
  const mark = await marker();
  const gone = shaped(await stripe.checkout.sessions.expire(s.id), 'the expired session');
  same([gone.status, gone.payment_status], ['expired', 'unpaid'], 'expire: expired');
  same((await eventsSince(mark)).map((e) => e.type), ['checkout.session.expired'], 'checkout.session.expired');
  await refused(stripe.checkout.sessions.expire(s.id), 'expiring it again');
  await refused(complete(s.id, { payment_method: 'pm_card_visa' }), 'completing an expired session',
    { code: 'checkout_session_inactive' });
  check((await stripe.checkout.sessions.retrieve(s.id)).status === 'expired', 'it stays expired');
  check((await ids(stripe.checkout.sessions.list({ status: 'expired' }))).includes(s.id), 'listed by status=expired');
  const page = await browse(s.url);
  check(page.status === 410, `its page is gone (${page.status})`);
  await refused(stripe.checkout.sessions.retrieve('cs_test_nope'), 'an unknown session',
    { status: 404, code: 'resource_missing' });
}

// ---------------------------------------------------------------- promotion codes
{
  const coupon = await stripe.coupons.create({ id: 'TENOFF', amount_off: 1000, currency: 'usd', duration: 'once' });
  const promo = await stripe.promotionCodes.create({ promotion: { type: 'coupon', coupon: coupon.id },
    code: 'SPRING' });
  const s = await create('session taking codes', { line_items: [{ price: price[4000] }],
    allow_promotion_codes: true });
  check(s.allow_promotion_codes === true && s.amount_total === 4000, 'allow_promotion_codes, 40.00');
  const done = await complete(s.id, { payment_method: 'pm_card_visa', promotion_code: 'Spring' });
  const got = shaped(await stripe.checkout.sessions.retrieve(s.id), 'the discounted session');
  same([got.status, got.amount_total, got.total_details.amount_discount], ['complete', 3000, 1000],
    'the code (any case) took 10.00 off');
  check(done.discounts[0].promotion_code === promo.id, "the session's discount names the code");
  const pi = await stripe.paymentIntents.retrieve(got.payment_intent);
  check(pi.amount === 3000 && pi.status === 'succeeded', '30.00 paid');
  check((await stripe.promotionCodes.retrieve(promo.id)).times_redeemed === 1, 'the code redeemed once');

  const other = await create('another session taking codes', { line_items: [{ price: price[4000] }],
    allow_promotion_codes: true });
  await refused(complete(other.id, { payment_method: 'pm_card_visa', promotion_code: 'WINTER' }), 'an unknown code',
    { code: 'promotion_code_invalid', param: 'promotion_code' });
  const after = await stripe.checkout.sessions.retrieve(other.id);
  same([after.status, after.amount_total], ['open', 4000], '… leaves the session open at 40.00');
  const plain = await create('session without codes', { line_items: [{ price: price[4000] }] });
  await refused(complete(plain.id, { payment_method: 'pm_card_visa', promotion_code: 'SPRING' }),
    'a code on a session without allow_promotion_codes', { param: 'promotion_code' });
  await refused(create('both', { line_items: [{ price: price[4000] }], allow_promotion_codes: true,
    discounts: [{ coupon: coupon.id }] }), 'allow_promotion_codes with discounts', { param: 'discounts' });
}

// ---------------------------------------------------------------- customer portal
{
  const customer = await stripe.customers.create({ email: 'node-portal@example.com' });
  const pm = await stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
  const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price['1000/month'] }],
    default_payment_method: pm.id });
  check(sub.status === 'active', 'an active subscription to manage');
  const bps = shaped(await stripe.billingPortal.sessions.create({ customer: customer.id,
    return_url: 'https://app.example/account' }), 'portal session');
  check(bps.id.startsWith('bps_') && bps.configuration.startsWith('bpc_'), 'bps_… with a bpc_… configuration');
  same([bps.customer, bps.return_url, bps.livemode], [customer.id, 'https://app.example/account', false],
    'the customer and return_url');
  check(bps.url.startsWith('http://') && bps.url.endsWith(bps.id), `a url to the portal page (${bps.url})`);
  const shown = await browse(bps.url);
  check(shown.status === 200 && shown.html.includes('$10.00 / month')
    && shown.html.includes('https://app.example/account'), 'the page shows the plan and the way back');

  const canceled = await browse(bps.url, { subscription: sub.id, action: 'cancel' });
  same([canceled.status, canceled.location], [303, bps.url], 'cancel: 303 back to the page');
  check((await stripe.subscriptions.retrieve(sub.id)).cancel_at_period_end === true, 'cancel_at_period_end is true');
  const renewed = await browse(bps.url, { subscription: sub.id, action: 'renew' });
  check(renewed.status === 303 && (await stripe.subscriptions.retrieve(sub.id)).cancel_at_period_end === false,
    'renew: cancel_at_period_end back to false');
  const switched = await browse(bps.url, { subscription: sub.id, action: 'switch', price: price['3000/month'] });
  const after = shaped(await stripe.subscriptions.retrieve(sub.id), 'the switched subscription');
  check(switched.status === 303 && after.items.data[0].price.id === price['3000/month'],
    "switch: the item's price changed");
  const oneTime = await browse(bps.url, { subscription: sub.id, action: 'switch', price: price[2500] });
  check(oneTime.status === 400, `a one-time price is not offered (${oneTime.status})`);

  const stranger = await stripe.customers.create({ email: 'node-stranger@example.com' });
  const theirs = await stripe.billingPortal.sessions.create({ customer: stranger.id });
  check(theirs.configuration === bps.configuration, 'every portal session has the default configuration');
  const foreign = await browse(theirs.url, { subscription: sub.id, action: 'cancel' });
  check(foreign.status === 404, `another customer's portal cannot act on the subscription (${foreign.status})`);
  check((await stripe.subscriptions.retrieve(sub.id)).cancel_at_period_end === false, '… which stays as it was');
  const unknown = await browse(bps.url.replace(bps.id, 'bps_nope'));
  check(unknown.status === 404, `an unknown portal session's page is 404 (${unknown.status})`);
  await refused(stripe.billingPortal.sessions.create({ customer: 'cus_nope' }), 'an unknown customer',
    { param: 'customer' });
}

// ---------------------------------------------------------------- seeds
{
  const seeded = connect(env('STRIPE_DUNNING_SECRET_KEY'));
  const subs = (await seeded.subscriptions.list({ status: 'past_due', expand: ['data.latest_invoice'] })).data;
  check(subs.length === 2, `stripe:dunning-active: two past_due subscriptions (${subs.length})`);
  for (const s of subs) {
    shaped(s, 'a seeded subscription');
    const inv = shaped(s.latest_invoice, 'its latest invoice');
    same([inv.status, inv.attempt_count], ['open', 1], 'open after one attempt');
    check(inv.next_payment_attempt > inv.status_transitions.finalized_at, 'its next payment attempt is scheduled');
  }
  const clocks = (await seeded.testHelpers.testClocks.list()).data;
  check(clocks.length === 1 && subs.every((s) => s.test_clock === clocks[0].id), "the seed's test clock is listed");
  const clock = shaped(clocks[0], "the seed's clock");
  check(clock.status === 'ready', '… ready');
  const to = clock.frozen_time + 15 * DAY;
  let c = await seeded.testHelpers.testClocks.advance(clock.id, { frozen_time: to });
  const deadline = Date.now() + 10_000;
  while (c.status !== 'ready') {
    if (Date.now() > deadline) throw new Error(`clock ${clock.id} still ${c.status} after 10 s`);
    await sleep(20);
    c = await seeded.testHelpers.testClocks.retrieve(clock.id);
  }
  check(c.frozen_time === to, 'advanced 15 days');
  const ended = await ids(seeded.subscriptions.list({ status: 'canceled' }));
  same(ended.sort(), subs.map((s) => s.id).sort(), 'both subscriptions canceled after 15 days');
  same(await ids(seeded.subscriptions.list({ status: 'past_due' })), [], 'none past_due');
}
{
  const seeded = connect(env('STRIPE_LIFECYCLE_SECRET_KEY'));
  const subs = await seeded.subscriptions.list({ status: 'all' }).autoPagingToArray({ limit: 100 });
  subs.forEach((s) => shaped(s, 'a seeded subscription'));
  same(subs.map((s) => `${s.status}${s.cancel_at_period_end ? ' (canceling)' : ''}`).sort(),
    ['active', 'active (canceling)', 'canceled', 'trialing'],
    'stripe:subscription-lifecycle: active, canceling, canceled, trialing');
  same(subs.map((s) => s.metadata.seed).sort(), ['active', 'canceled', 'canceling', 'trialing'],
    'each tagged with its story');
  check(new Set(subs.map((s) => s.test_clock)).size === 1 && subs[0].test_clock, 'all on one test clock');
  const pro = (await seeded.prices.list({ lookup_keys: ['pro_monthly'] })).data;
  check(pro.length === 1, "prices list by lookup_keys ['pro_monthly']");
  const p = shaped(pro[0], 'pro_monthly');
  same([p.lookup_key, p.unit_amount, p.recurring.interval, p.product], ['pro_monthly', 3000, 'month', 'prod_SeedPro'],
    '30.00 a month for Pro');
  check((await seeded.coupons.retrieve('WELCOME20')).percent_off === 20, "the seed's coupon");
}

console.log(`stripe-node ${sdkVersion} against ${root.origin}: ${passed()} checkout, portal and seed checks passed`);
