#!/usr/bin/env node
// Drives a live Mirra Stripe mirror's payments with the OFFICIAL `stripe` Node
// SDK, reaching its session by host, port and key (credential routing).
//
// Environment:
//   MIRRA_URL            the server's root, e.g. http://127.0.0.1:4400
//   STRIPE_SECRET_KEY    the session's secret key
//   MIRRA_SDK_NODE_DIR   where infra/test installed tests/sdk/node's package.json
//
// A card payment with its charge and balance transaction, every decline token
// with its code and decline_code, 3-D Secure to requires_action then completed
// and then failed (Mirra's test helper through `rawRequest`), manual capture
// (partial), cancel, full, partial and over-refunds, a SetupIntent then an
// off-session payment, and the events each change raises, in order. Exits
// non-zero with a message on the first failure; prints one summary line.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import assert from 'node:assert/strict';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

const sdkDir = env('MIRRA_SDK_NODE_DIR');
const require = createRequire(join(sdkDir, 'package.json'));
const Stripe = require('stripe');
const sdkVersion = JSON.parse(
  readFileSync(join(sdkDir, 'node_modules', 'stripe', 'package.json'), 'utf8'),
).version;

const root = new URL(env('MIRRA_URL'));
const stripe = new Stripe(env('STRIPE_SECRET_KEY'), {
  host: root.hostname,
  port: Number(root.port),
  protocol: root.protocol.replace(':', ''),
  maxNetworkRetries: 0,
});

const passed = [];
function check(cond, what) {
  assert.ok(cond, what);
  passed.push(what);
}

function same(actual, expected, what) {
  assert.deepEqual(actual, expected, what);
  passed.push(what);
}

async function rejects(promise, what) {
  try {
    await promise;
  } catch (err) {
    passed.push(what);
    return err;
  }
  throw new Error(`${what}: expected an error, got success`);
}

const CARD = { allowed_payment_method_types: ['card'] };
const pay = (amount, pm, extra = {}) =>
  stripe.paymentIntents.create({ amount, currency: 'usd', payment_method: pm, confirm: true, ...CARD, ...extra });

async function marker() {
  const page = await stripe.events.list({ limit: 1 });
  return page.data.length ? page.data[0].id : null;
}

async function eventsSince(mark) {
  const params = { limit: 100 };
  if (mark) params.ending_before = mark;
  const page = await stripe.events.list(params);
  return page.data.map((e) => e.type).reverse();
}

const authenticate = (kind, id, outcome) =>
  stripe.rawRequest('POST', `/v1/test_helpers/mirra/${kind}/${id}/authenticate`, { outcome });

// ---------------------------------------------------------------- a card payment
let mark = await marker();
const pi = await pay(2000, 'pm_card_visa', { metadata: { order: 'node-1' } });
check(pi.status === 'succeeded' && pi.amount_received === 2000, 'a card payment succeeds');
check(pi.latest_charge.startsWith('ch_') && !('charges' in pi), 'latest_charge, not charges');
const charge = await stripe.charges.retrieve(pi.latest_charge, { expand: ['balance_transaction'] });
check(charge.captured && charge.payment_method_details.card.brand === 'visa', 'its charge');
const bt = charge.balance_transaction;
same([bt.amount, bt.fee, bt.net], [2000, 88, 1912], 'its balance transaction: 2.9 % + 30¢');
same(await eventsSince(mark),
  ['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'charge.updated'],
  'payment events in order');

const found = await stripe.paymentIntents.search({ query: "status:'succeeded' AND metadata['order']:'node-1'" });
same(found.data.map((p) => p.id), [pi.id], 'paymentIntents.search by status and metadata');
const byCard = await stripe.charges.search({ query: "payment_method_details.card.last4:'4242'" }).autoPagingToArray({ limit: 100 });
check(byCard.some((c) => c.id === charge.id), "charges.search by the card's last4");

// ---------------------------------------------------------------- declines
const declines = [
  ['pm_card_chargeDeclined', 'card_declined', 'generic_decline'],
  ['pm_card_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
  ['pm_card_chargeDeclinedLostCard', 'card_declined', 'lost_card'],
  ['pm_card_chargeDeclinedStolenCard', 'card_declined', 'stolen_card'],
  ['pm_card_chargeDeclinedExpiredCard', 'expired_card', 'expired_card'],
  ['pm_card_chargeDeclinedIncorrectCvc', 'incorrect_cvc', 'incorrect_cvc'],
  ['pm_card_chargeDeclinedProcessingError', 'processing_error', 'processing_error'],
  ['pm_card_visa_chargeDeclinedVelocityLimitExceeded', 'card_declined', 'card_velocity_exceeded'],
  ['pm_card_chargeCustomerFail', 'card_declined', 'generic_decline'],
  ['pm_card_radarBlock', 'card_declined', 'fraudulent'],
];
for (const [token, code, declineCode] of declines) {
  mark = await marker();
  const err = await rejects(pay(1000, token), `${token} is declined`);
  check(err instanceof Stripe.errors.StripeCardError && err.statusCode === 402, `${token}: a StripeCardError`);
  check(err.code === code && err.decline_code === declineCode, `${token}: ${code} / ${declineCode}`);
  check(err.payment_intent?.status === 'requires_payment_method', `${token}: the intent in the error`);
  const failed = await stripe.charges.retrieve(err.raw.charge);
  check(failed.status === 'failed' && failed.failure_code === code, `${token}: a failed charge`);
  same(await eventsSince(mark), ['payment_intent.created', 'charge.failed', 'payment_intent.payment_failed'],
    `${token}: events`);
}

// ---------------------------------------------------------------- 3-D Secure
mark = await marker();
const tds = await pay(2500, 'pm_card_authenticationRequired', { return_url: 'https://shop.example/back' });
check(tds.status === 'requires_action' && tds.next_action.type === 'redirect_to_url', 'requires_action');
check(tds.next_action.redirect_to_url.url.includes(`/_mirra/3ds/${tds.id}`), 'next_action points at the mirror');
const done = await authenticate('payment_intents', tds.id, 'complete');
check(done.status === 'succeeded', 'completed through the test helper');
same(await eventsSince(mark),
  ['payment_intent.created', 'payment_intent.requires_action', 'charge.succeeded', 'payment_intent.succeeded',
    'charge.updated'], '3DS events in order');
const tds2 = await pay(2500, 'pm_card_threeDSecure2Required');
check(tds2.next_action.type === 'use_stripe_sdk', 'use_stripe_sdk without a return_url');
const failedAuth = await authenticate('payment_intents', tds2.id, 'fail');
check(failedAuth.status === 'requires_payment_method'
  && failedAuth.last_payment_error.code === 'payment_intent_authentication_failure', 'failed authentication');

// ---------------------------------------------------------------- capture and cancel
const held = await pay(2000, 'pm_card_visa', { capture_method: 'manual' });
check(held.status === 'requires_capture' && held.amount_capturable === 2000, 'manual capture authorizes');
mark = await marker();
const captured = await stripe.paymentIntents.capture(held.id, { amount_to_capture: 1500 });
check(captured.status === 'succeeded' && captured.amount_received === 1500, 'a partial capture');
same(await eventsSince(mark), ['charge.captured', 'payment_intent.succeeded'], 'capture events');
const again = await rejects(stripe.paymentIntents.confirm(held.id), 'confirming a succeeded intent');
check(again.code === 'payment_intent_unexpected_state'
  && again.message === 'You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.',
  "Stripe's unexpected-state error");
const open = await stripe.paymentIntents.create({ amount: 500, currency: 'usd', ...CARD });
const canceled = await stripe.paymentIntents.cancel(open.id, { cancellation_reason: 'duplicate' });
check(canceled.status === 'canceled' && canceled.cancellation_reason === 'duplicate', 'cancel');

// ---------------------------------------------------------------- refunds
mark = await marker();
const part = await stripe.refunds.create({ payment_intent: pi.id, amount: 500 });
check(part.status === 'succeeded' && part.amount === 500, 'a partial refund');
same(await eventsSince(mark), ['refund.created', 'charge.refunded'], 'refund events');
const over = await rejects(stripe.refunds.create({ charge: charge.id, amount: 5000 }), 'an over-refund');
check(over instanceof Stripe.errors.StripeInvalidRequestError && over.param === 'amount'
  && over.message === 'Refund amount ($50.00) is greater than unrefunded amount on charge ($15.00)',
  "Stripe's over-refund message");
const rest = await stripe.refunds.create({ charge: charge.id });
check(rest.amount === 1500, 'a full refund of the rest');
const refundedCharge = await stripe.charges.retrieve(charge.id);
check(refundedCharge.refunded && refundedCharge.amount_refunded === 2000, 'the charge is refunded');
const walked = [];
for await (const r of stripe.refunds.list({ charge: charge.id, limit: 1 })) walked.push(r.id);
same(walked, [rest.id, part.id], 'refunds auto-page by charge');

// ---------------------------------------------------------------- setup, then off session
const customer = await stripe.customers.create({ email: 'node-later@example.com' });
mark = await marker();
const si = await stripe.setupIntents.create({
  customer: customer.id, payment_method: 'pm_card_authenticationRequiredOnSetup', confirm: true, ...CARD,
});
check(si.status === 'requires_action', 'setting up a 3DS card requires action');
const setUp = await authenticate('setup_intents', si.id, 'complete');
check(setUp.status === 'succeeded', 'the setup succeeds');
same(await eventsSince(mark),
  ['setup_intent.created', 'setup_intent.requires_action', 'payment_method.attached', 'setup_intent.succeeded'],
  'setup events');
const offSession = await pay(4200, setUp.payment_method, { customer: customer.id, off_session: true });
check(offSession.status === 'succeeded', 'an off-session payment with the set-up card succeeds');
const fresh = await stripe.paymentMethods.attach('pm_card_authenticationRequired', { customer: customer.id });
const needs = await rejects(pay(4200, fresh.id, { customer: customer.id, off_session: true }),
  'off session, a card that always needs authentication');
check(needs.code === 'authentication_required' && needs.decline_code === 'authentication_required',
  'authentication_required');

console.log(`stripe-node ${sdkVersion} against ${root.origin}: ${passed.length} payment checks passed`);
