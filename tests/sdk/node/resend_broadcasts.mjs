#!/usr/bin/env node
// Runs a newsletter on a live Mirra Resend mirror with the OFFICIAL `resend`
// Node SDK (`baseUrl` pointed at the session): the story of
// resend_broadcasts.py — API keys, segments, audiences, contacts in them, a
// broadcast sent, personalized, its unsubscribe link opened, a scheduled one
// canceled.
//
// Environment:
//   RESEND_BASE_URL, RESEND_API_KEY   the session's mirror
//   MIRRA_URL, MIRRA_TOKEN            the server's root and token (inbox)
//   MIRRA_SDK_NODE_DIR                where infra/test installed tests/sdk/node

import { check, env, passed, sdk } from './checks.mjs';

const { module: resendModule, version: sdkVersion } = sdk('resend');
const { Resend } = resendModule;

const base = env('RESEND_BASE_URL');
const key = env('RESEND_API_KEY');
const session = base.replace(/\/+$/, '').split('/').slice(-2)[0];
const resend = new Resend(key, { baseUrl: base });

/** An SDK call that must succeed: its data. */
async function ok(promise, what) {
  const { data, error } = await promise;
  check(error === null, `${what}: ${JSON.stringify(error)}`);
  return data;
}

/** An SDK call that must fail with `name`. */
async function refused(promise, name, what) {
  const { data, error } = await promise;
  check(data === null && error?.name === name, `${what}: expected ${name}, got ${JSON.stringify(error)}`);
}

async function inbox(to) {
  const res = await fetch(`${env('MIRRA_URL')}/v1/sessions/${session}/inbox?to=${to}`, {
    headers: { Authorization: `Bearer ${env('MIRRA_TOKEN')}` },
  });
  return (await res.json()).data;
}

// -- API keys
const made = await ok(resend.apiKeys.create({ name: 'CI sender', permission: 'sending_access' }), 'key made');
check(made.token.startsWith('re_'), 'its token is shown');
const sender = new Resend(made.token, { baseUrl: base });
await ok(sender.emails.send({ from: 'hi@example.com', to: 'k@test.dev', subject: 's', text: 't' }), 'the sending key sends');
await refused(sender.domains.list(), 'restricted_api_key', 'the sending key may not list domains');
await ok(resend.apiKeys.remove(made.id), 'key removed');
await refused(sender.emails.send({ from: 'hi@example.com', to: 'k@test.dev', subject: 's', text: 't' }),
  'invalid_api_key', 'a deleted key');

// -- segments, audiences, contacts
const news = await ok(resend.segments.create({ name: 'News' }), 'segment');
await ok(resend.contacts.create({ email: 'ann@test.dev', firstName: 'Ann', segments: [{ id: news.id }] }), 'Ann');
await ok(resend.contacts.create({ email: 'bob@test.dev' }), 'Bob');
await ok(resend.contacts.segments.add({ email: 'bob@test.dev', segmentId: news.id }), 'Bob joins');
const members = (await ok(resend.contacts.list({ segmentId: news.id }), 'members')).data.map((c) => c.email).sort();
check(JSON.stringify(members) === JSON.stringify(['ann@test.dev', 'bob@test.dev']), `members: ${members}`);
const aud = await ok(resend.audiences.create({ name: 'Legacy' }), 'audience');
await ok(resend.contacts.create({ audienceId: aud.id, email: 'dee@test.dev' }), 'contact given an audienceId');
const legacy = (await ok(resend.contacts.list({ audienceId: aud.id }), 'audience members')).data;
check(legacy.length === 1 && legacy[0].email === 'dee@test.dev', 'in that audience');

// -- a broadcast
const b = await ok(resend.broadcasts.create({
  segmentId: news.id,
  from: 'Acme <news@example.com>',
  subject: 'Hello {{{FIRST_NAME|there}}}',
  html: '<p>Hi</p><a href="{{{RESEND_UNSUBSCRIBE_URL}}}">Unsubscribe</a>',
  name: 'November',
}), 'broadcast');
await ok(resend.broadcasts.update(b.id, { name: 'November news' }), 'updated');
await ok(resend.broadcasts.send(b.id), 'sent');
const got = await ok(resend.broadcasts.get(b.id), 'read back');
check(got.status === 'sent' && got.name === 'November news', `status ${got.status}`);
const ann = await inbox('ann@test.dev');
check(ann.length === 1 && ann[0].subject === 'Hello Ann', "Ann's email is hers");
check((await inbox('bob@test.dev'))[0].subject === 'Hello there', "Bob's has the fallback");
const res = await fetch(ann[0].links[0]);
check(res.status === 200, 'the unsubscribe link opens without a key');
check((await ok(resend.contacts.get({ email: 'ann@test.dev' }), 'Ann')).unsubscribed === true, 'Ann unsubscribed');

const later = await ok(resend.broadcasts.create({
  segmentId: news.id, from: 'news@example.com', subject: 'Later', text: 't', send: true, scheduledAt: 'in 1 hour',
}), 'scheduled');
check((await ok(resend.broadcasts.get(later.id), 'read')).status === 'scheduled', 'status scheduled');
await ok(resend.broadcasts.cancel(later.id), 'canceled');
const draft = await ok(resend.broadcasts.create({ audienceId: aud.id, from: 'news@example.com', subject: 'D' }), 'draft');
check((await ok(resend.broadcasts.remove(draft.id), 'removed')).deleted === true, 'a draft removed');
check((await ok(resend.broadcasts.list(), 'list')).data.length === 2, 'two broadcasts left');

console.log(`resend-node ${sdkVersion}: ${passed()} checks passed`);
