#!/usr/bin/env node
// Drives a live Mirra Stripe mirror's payment methods with the OFFICIAL `stripe`
// Node SDK, reaching its session by host, port and key (credential routing).
//
// Environment:
//   MIRRA_URL            the server's root, e.g. http://127.0.0.1:4400
//   STRIPE_SECRET_KEY    the session's secret key
//   MIRRA_SDK_NODE_DIR   where infra/test installed tests/sdk/node's package.json
//
// Creates card payment methods from a test token and a number, attaches them to
// a customer (a `pm_card_*` name too), lists the customer's methods with
// auto-pagination, detaches, and checks StripeCardError for Stripe's card
// errors. Exits non-zero with a message on the first failure; prints one
// summary line.

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

async function rejects(promise, what) {
  try {
    await promise;
  } catch (err) {
    passed.push(what);
    return err;
  }
  throw new Error(`${what}: expected an error, got success`);
}

const year = new Date().getUTCFullYear() + 2;

// ---------------------------------------------------------------- create
const byToken = await stripe.paymentMethods.create({ type: 'card', card: { token: 'tok_visa' } });
check(byToken.object === 'payment_method' && byToken.id.startsWith('pm_'), 'create from tok_visa');
check(byToken.card.brand === 'visa' && byToken.card.last4 === '4242', 'a Visa ending 4242');
check(byToken.customer === null && byToken.type === 'card', 'unattached, of type card');

const byNumber = await stripe.paymentMethods.create({
  type: 'card',
  card: { number: '5555555555554444', exp_month: 8, exp_year: year, cvc: '314' },
});
check(byNumber.card.brand === 'mastercard' && byNumber.card.exp_year === year, 'create from a number');
check(byNumber.card.fingerprint.length === 16, 'with a fingerprint');

const bad = await rejects(
  stripe.paymentMethods.create({ type: 'card', card: { number: '4242424242424241', exp_month: 1, exp_year: year } }),
  'a Luhn-invalid number is refused',
);
check(bad instanceof Stripe.errors.StripeCardError && bad.statusCode === 402, 'as a StripeCardError (402)');
check(bad.code === 'incorrect_number' && bad.message === 'Your card number is incorrect.', "with Stripe's code and message");

// ---------------------------------------------------------------- attach
const customer = await stripe.customers.create({ email: 'node-pm@example.com' });
const attached = await stripe.paymentMethods.attach(byToken.id, { customer: customer.id });
check(attached.customer === customer.id, 'attach sets the customer');
const fromName = await stripe.paymentMethods.attach('pm_card_amex', { customer: customer.id });
check(fromName.id !== 'pm_card_amex' && fromName.card.brand === 'amex', 'attaching pm_card_amex stores a new method');
await stripe.paymentMethods.attach(byNumber.id, { customer: customer.id });

const declined = await rejects(
  stripe.paymentMethods.attach('pm_card_visa_chargeDeclinedLostCard', { customer: customer.id }),
  'a declined card cannot be attached',
);
check(declined instanceof Stripe.errors.StripeCardError && declined.code === 'card_declined'
  && declined.decline_code === 'lost_card', 'StripeCardError card_declined / lost_card');

// ------------------------------------------------------------------ list
const walked = [];
for await (const pm of stripe.customers.listPaymentMethods(customer.id, { limit: 2 })) walked.push(pm.id);
// Newest created first: pm_card_amex became a method when it was attached.
assert.deepEqual(walked, [fromName.id, byNumber.id, byToken.id], 'the customer\'s methods, newest first, across pages');
passed.push('the customer\'s methods, newest first, across pages');
const filtered = await stripe.paymentMethods.list({ customer: customer.id, type: 'card', limit: 10 });
check(filtered.data.length === 3 && filtered.url === '/v1/payment_methods', 'paymentMethods.list by customer and type');

// ---------------------------------------------------------------- detach
const detached = await stripe.paymentMethods.detach(byToken.id);
check(detached.customer === null, 'detach clears the customer');
const twice = await rejects(stripe.paymentMethods.detach(byToken.id), 'detaching twice is refused');
check(twice instanceof Stripe.errors.StripeInvalidRequestError && twice.statusCode === 400, 'as a 400 invalid request');
const left = await stripe.customers.listPaymentMethods(customer.id);
check(left.data.length === 2 && !left.data.some((pm) => pm.id === byToken.id), 'a detached method leaves the list');

console.log(`stripe-node ${sdkVersion} against ${root.origin}: ${passed.length} payment-method checks passed`);
