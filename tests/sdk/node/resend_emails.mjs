#!/usr/bin/env node
// Drives a live Mirra Resend mirror with the OFFICIAL `resend` Node SDK, pointed
// at the session the way resend-node allows: the `baseUrl` option (or
// RESEND_BASE_URL) and the session's key. Also reaches the session at the
// server's root, routed by its `re_` key.
//
// Environment:
//   RESEND_BASE_URL       the session's Resend base URL (…/m/ses_xxxx/resend)
//   RESEND_API_KEY        the session's API key
//   MIRRA_URL             the server's root, e.g. http://127.0.0.1:4400
//   MIRRA_SDK_NODE_DIR    where infra/test installed tests/sdk/node's
//                         package.json (its node_modules holds `resend`)
//
// Exercises send (base64 attachments, tags, headers), get, list, batch,
// scheduling with update and cancel, idempotent replays, the SDK's error
// objects, and a webhook whose `email.sent` and `email.delivered` deliveries
// (to a receiver this script runs on loopback) `resend.webhooks.verify`
// accepts, and a tampered one it refuses. Sends one email with a magic link to node@test.dev for the caller
// to find in the session inbox. Exits non-zero with a message on the first
// failure; prints one summary line.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
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
const { Resend } = require('resend');
const sdkVersion = JSON.parse(
  readFileSync(join(sdkDir, 'node_modules', 'resend', 'package.json'), 'utf8'),
).version;

const key = env('RESEND_API_KEY');
const resend = new Resend(key, { baseUrl: env('RESEND_BASE_URL') });
const FROM = 'Acme <hello@example.com>';
let checks = 0;

/** An SDK call that must succeed: its data. */
async function ok(promise, what) {
  const { data, error } = await promise;
  assert.equal(error, null, `${what}: ${JSON.stringify(error)}`);
  checks += 1;
  return data;
}

/** An SDK call that must fail with Resend's error `name` and a 4xx. */
async function refused(promise, name, what) {
  const { data, error } = await promise;
  assert.equal(data, null, `${what}: expected an error, got ${JSON.stringify(data)}`);
  assert.equal(error.name, name, `${what}: ${JSON.stringify(error)}`);
  assert.ok(error.statusCode >= 400 && error.statusCode < 500, `${what}: ${JSON.stringify(error)}`);
  checks += 1;
  return error;
}

const sent = await ok(
  resend.emails.send({
    from: FROM,
    to: 'node@test.dev',
    subject: 'Your magic link',
    html: '<a href="https://app.test/magic?token=node-456">Sign in</a>',
    headers: { 'X-Test': 'node' },
    tags: [{ name: 'flow', value: 'signin' }],
    attachments: [{ filename: 'hello.txt', content: Buffer.from('hello') }],
  }),
  'send',
);
assert.match(sent.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);

const got = await ok(resend.emails.get(sent.id), 'get');
assert.equal(got.last_event, 'sent');
assert.deepEqual(got.to, ['node@test.dev']);

const page = await ok(resend.emails.list({ limit: 1 }), 'list');
assert.equal(page.object, 'list');
assert.equal(page.data[0].id, sent.id);

const batch = await ok(
  resend.batch.send([
    { from: FROM, to: 'n1@test.dev', subject: 'n1', text: '1' },
    { from: FROM, to: 'n2@test.dev', subject: 'n2', text: '2' },
  ]),
  'batch',
);
assert.equal(batch.data.length, 2);
await refused(
  resend.batch.send([
    { from: FROM, to: 'n3@test.dev', subject: 'n3', text: '3' },
    { from: FROM, subject: 'no to', text: '4' },
  ]),
  'missing_required_field',
  'a strict batch with an email without `to`',
);

const later = await ok(
  resend.emails.send({ from: FROM, to: 'later@test.dev', subject: 'later', text: 'l', scheduledAt: 'in 1 hour' }),
  'schedule',
);
await ok(resend.emails.update({ id: later.id, scheduledAt: new Date(Date.now() + 7200e3).toISOString() }), 'reschedule');
await ok(resend.emails.cancel(later.id), 'cancel');
assert.equal((await ok(resend.emails.get(later.id), 'get canceled')).last_event, 'canceled');

const idem = { idempotencyKey: `node-${Date.now()}` };
const once = { from: FROM, to: 'idem@test.dev', subject: 'once', text: 'once' };
const first = await ok(resend.emails.send(once, idem), 'first send under a key');
const again = await ok(resend.emails.send(once, idem), 'replay under the key');
assert.equal(first.id, again.id);
await refused(resend.emails.send({ ...once, subject: 'other' }, idem), 'invalid_idempotent_request', 'key reuse');

await refused(
  resend.emails.send({ from: 'me@gmail.com', to: 'a@test.dev', subject: 's', text: 't' }),
  'validation_error',
  'an unverified domain',
);
await refused(resend.emails.get('00000000-0000-4000-8000-000000000000'), 'not_found', 'an unknown email');
await refused(new Resend('re_nobody_123', { baseUrl: env('RESEND_BASE_URL') }).emails.list(), 'invalid_api_key', 'a wrong key');

// At the server's root, the key names the session (credential routing).
const atRoot = new Resend(key, { baseUrl: env('MIRRA_URL') });
assert.equal((await ok(atRoot.emails.get(sent.id), 'get at the root')).id, sent.id);

// Webhooks: registered through the SDK, deliveries verified by it.
const received = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    received.push({ headers: req.headers, body });
    res.end('ok');
  });
});
await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
const hookUrl = `http://127.0.0.1:${receiver.address().port}/hook`;
const hook = await ok(resend.webhooks.create({ endpoint: hookUrl, events: ['email.sent', 'email.delivered'] }), 'create webhook');
assert.match(hook.signing_secret, /^whsec_/);
const hooked = await ok(resend.emails.send({ from: FROM, to: 'delivered@resend.dev', subject: 'hook', text: 'h' }), 'send for the hook');
const deadline = Date.now() + 30000;
// Emails sent earlier in this script are delivered meanwhile too: keep this one's.
const ours = () => received.filter((g) => JSON.parse(g.body).data.email_id === hooked.id);
while (ours().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
receiver.close();
const mine = ours();
assert.equal(mine.length, 2, `two deliveries (sent, delivered), got ${mine.length}`);
const verify = (g, payload) =>
  resend.webhooks.verify({
    payload,
    headers: { id: g.headers['svix-id'], timestamp: g.headers['svix-timestamp'], signature: g.headers['svix-signature'] },
    webhookSecret: hook.signing_secret,
  });
const types = mine.map((g) => {
  const event = verify(g, g.body);
  assert.equal(event.data.email_id, hooked.id);
  checks += 1;
  return event.type;
});
assert.deepEqual(types, ['email.sent', 'email.delivered']);
assert.throws(() => verify(mine[0], mine[0].body.replace('email.sent', 'email.bounced')), 'a tampered delivery is refused');
checks += 1;

console.log(`resend-node ${sdkVersion}: ${checks} checks passed; magic link email ${sent.id}`);
