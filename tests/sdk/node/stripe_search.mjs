#!/usr/bin/env node
// Searches a live Mirra Stripe mirror's customers with the OFFICIAL `stripe`
// Node SDK, set up with host, port and protocol only (credential routing, as in
// stripe_customers.mjs): `stripe.customers.search({query})`, auto-pagination
// over `next_page` (`for await` and `autoPagingToArray`), `expand:
// ['total_count']`, and StripeInvalidRequestError for refused queries.
//
// Environment:
//   MIRRA_URL           the server's root, e.g. http://127.0.0.1:4400
//   STRIPE_SECRET_KEY   the session's secret key
//   MIRRA_SDK_NODE_DIR  where infra/test installed tests/sdk/node's package.json
//
// Exits non-zero with a message on the first failure; prints one summary line.

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

async function refused(params, what, needle, param = 'query') {
  try {
    await stripe.customers.search(params);
  } catch (err) {
    check(err instanceof Stripe.errors.StripeInvalidRequestError, `${what}: StripeInvalidRequestError`);
    check(err.statusCode === 400 && err.param === param, `${what}: 400 naming ${param} (${err.statusCode} ${err.param})`);
    check(err.message.includes(needle), `${what}: ${JSON.stringify(needle)} in ${JSON.stringify(err.message)}`);
    return;
  }
  throw new Error(`${what}: expected an error, the search succeeded`);
}

const tag = `n${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
const made = [];
for (let i = 0; i < 5; i++) {
  const c = await stripe.customers.create({
    email: `${tag}-${i}@example.com`,
    name: `Node Person ${i}`,
    metadata: { tag, parity: i % 2 === 0 ? 'even' : 'odd' },
  });
  made.push(c.id);
}
const newestFirst = [...made].reverse();
const query = `metadata['tag']:'${tag}'`;

const page = await stripe.customers.search({ query, limit: 2 });
check(page.object === 'search_result' && page.url === '/v1/customers/search', 'search_result envelope');
check(page.has_more === true && typeof page.next_page === 'string', 'a full page has has_more and next_page');
same(page.data.map((c) => c.id), newestFirst.slice(0, 2), 'the first page holds the newest two');
check(!('total_count' in page), 'no total_count unless expanded');

const walked = [];
for await (const c of stripe.customers.search({ query, limit: 2 })) walked.push(c.id);
same(walked, newestFirst, 'for await walks every match newest first');
const all = await stripe.customers.search({ query, limit: 3 }).autoPagingToArray({ limit: 100 });
same(all.map((c) => c.id), newestFirst, 'autoPagingToArray walks every match');

const counted = await stripe.customers.search({ query, expand: ['total_count'] });
check(counted.total_count === 5, `expand total_count counts every match (${counted.total_count})`);

const evens = await stripe.customers
  .search({ query: `${query} AND metadata['parity']:'even'` })
  .autoPagingToArray({ limit: 100 });
same(evens.map((c) => c.id), [made[4], made[2], made[0]], 'AND narrows to both clauses');
const either = await stripe.customers.search({
  query: `email:'${tag}-1@example.com' OR email:'${tag}-3@example.com'`,
});
same(either.data.map((c) => c.id), [made[3], made[1]], 'OR finds either clause');
const sub = await stripe.customers.search({ query: `email~'${tag}-2'` });
same(sub.data.map((c) => c.id), [made[2]], 'email~ finds a substring');
const phrase = await stripe.customers.search({ query: `${query} name:"PERSON 4"` });
same(phrase.data.map((c) => c.id), [made[4]], 'name: matches a phrase, case insensitive');
const notOdd = await stripe.customers.search({ query: `${query} -metadata['parity']:'odd'` });
same(notOdd.data.map((c) => c.id), [made[4], made[2], made[0]], '- negates a clause');

await stripe.customers.del(made[0]);
const left = await stripe.customers.search({ query }).autoPagingToArray({ limit: 100 });
same(left.map((c) => c.id), newestFirst.slice(0, 4), 'a deleted customer is no longer found');

await refused({ query: "emial:'a@b.co'" }, 'unknown field', 'unsupported search field for resource `customers`');
await refused({ query: "email:'a' AND name:'b' OR phone:'c'" }, 'AND mixed with OR', 'AND and OR cannot be combined');
await refused({ query: "name~'ab'" }, 'short substring', 'at least 3 characters');
await refused({ query, page: 'garbage' }, 'bad page', 'Invalid page', 'page');

console.log(`stripe-node ${sdkVersion} search against ${root.origin}: ${passed.length} checks passed`);
