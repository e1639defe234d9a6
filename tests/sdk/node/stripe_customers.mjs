#!/usr/bin/env node
// Drives a live Mirra Stripe mirror with the OFFICIAL `stripe` Node SDK, set up
// the only way stripe-node allows: host, port and protocol (it cannot take a
// base path), so the session is found by its secret key (credential routing).
//
// Environment:
//   MIRRA_URL                the server's root, e.g. http://127.0.0.1:4400
//   STRIPE_SECRET_KEY        the session's secret key
//   STRIPE_OTHER_SECRET_KEY  another session's secret key (sees none of this
//                            session's customers)
//   MIRRA_SDK_NODE_DIR       where infra/test installed tests/sdk/node's
//                            package.json (its node_modules holds `stripe`)
//
// Exercises customers create/retrieve/update/list (auto-pagination)/delete,
// isolation between sessions, the SDK's authentication error for an unknown
// key, and curl-style Basic auth at the server's root. Exits non-zero with a
// message on the first failure; prints one summary line.

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
const key = env('STRIPE_SECRET_KEY');
const otherKey = env('STRIPE_OTHER_SECRET_KEY');

/** A client pointed at the server the only way stripe-node allows. */
function client(secret) {
  return new Stripe(secret, {
    host: root.hostname,
    port: Number(root.port),
    protocol: root.protocol.replace(':', ''),
    maxNetworkRetries: 0,
  });
}

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

const stripe = client(key);
const tag = `node-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
const email = `${tag}@example.com`;

// ------------------------------------------------------------------ CRUD
const created = await stripe.customers.create({
  email,
  name: 'Ada Lovelace',
  metadata: { plan: 'pro', team: 'engines' },
});
check(created.object === 'customer' && created.id.startsWith('cus_'), 'create returns a customer');
check(created.email === email && created.name === 'Ada Lovelace', 'create stores email and name');
check(created.metadata.plan === 'pro', 'create stores metadata');
check(typeof created.lastResponse?.requestId === 'string'
  && created.lastResponse.requestId.startsWith('req_'), 'responses carry a Request-Id');

const got = await stripe.customers.retrieve(created.id);
check(got.id === created.id && got.email === email, 'retrieve returns the stored customer');

const updated = await stripe.customers.update(created.id, {
  name: 'Ada King',
  metadata: { plan: '', tier: 'gold' },
});
check(updated.name === 'Ada King', 'update changes the name');
assert.deepEqual(updated.metadata, { team: 'engines', tier: 'gold' }, 'update merges metadata; an empty value unsets');
passed.push('update merges metadata; an empty value unsets');

// ------------------------------------------------------- auto-pagination
const made = [created.id];
for (let i = 0; i < 4; i++) {
  const c = await stripe.customers.create({ email, description: `page ${i}` });
  made.push(c.id);
}
const walked = [];
for await (const c of stripe.customers.list({ email, limit: 2 })) {
  walked.push(c.id);
}
assert.deepEqual(walked, [...made].reverse(), 'auto-pagination (limit 2) walks every customer newest first');
passed.push('auto-pagination (limit 2) walks every customer newest first');
const everyone = await stripe.customers.list({ limit: 3 }).autoPagingToArray({ limit: 1000 });
const ids = everyone.map((c) => c.id);
check(new Set(ids).size === ids.length, 'autoPagingToArray returns each customer once');
check(made.every((id) => ids.includes(id)), 'autoPagingToArray sees every customer made here');

// ------------------------------------------------------------- isolation
const other = client(otherKey);
const theirs = await other.customers.list({ limit: 100 }).autoPagingToArray({ limit: 1000 });
check(!theirs.some((c) => made.includes(c.id)), "another session's key sees none of this session's customers");
const foreign = await rejects(other.customers.retrieve(created.id), "another session's key cannot retrieve this one's customer");
check(foreign instanceof Stripe.errors.StripeInvalidRequestError && foreign.statusCode === 404
  && foreign.code === 'resource_missing', 'that retrieve is a 404 resource_missing');

// ------------------------------------------------------------ unknown key
const unknownKey = `sk_test_${'0'.repeat(20)}abcd`;
const denied = await rejects(client(unknownKey).customers.list(), 'an unknown key is refused');
check(denied instanceof Stripe.errors.StripeAuthenticationError, 'an unknown key raises StripeAuthenticationError');
check(denied.type === 'StripeAuthenticationError' && denied.statusCode === 401, 'with status 401');
check(denied.message === `Invalid API Key provided: sk_test_${'*'.repeat(20)}abcd`,
  `with Stripe's message (got ${JSON.stringify(denied.message)})`);

// ------------------------------------------- curl-style Basic auth (-u key:)
const basic = await fetch(new URL(`/v1/customers/${created.id}`, root), {
  headers: { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` },
});
check(basic.status === 200, `Basic auth at the server's root routes by key (status ${basic.status})`);
const basicBody = await basic.json();
check(basicBody.id === created.id, 'and reaches the same customer');

// ------------------------------------------------------------------ delete
const deleted = await stripe.customers.del(created.id);
check(deleted.deleted === true && deleted.id === created.id, 'delete returns the deleted stub');
const afterDelete = await stripe.customers.retrieve(created.id);
check(afterDelete.deleted === true, 'a deleted customer retrieves as deleted');
const remaining = [];
for await (const c of stripe.customers.list({ email, limit: 10 })) remaining.push(c.id);
check(!remaining.includes(created.id) && remaining.length === made.length - 1, 'a deleted customer leaves the list');

console.log(`stripe-node ${sdkVersion} against ${root.origin} (credential routing): ${passed.length} checks passed`);
