#!/usr/bin/env node
// Drives a live Mirra Twilio mirror with the OFFICIAL `twilio` Node SDK,
// pointed at the session the way twilio-node allows: each domain's `baseUrl`
// (`client.api.baseUrl = url`; Verify and Messaging alike), with the session's
// Account SID and auth token (or its API key and secret).
//
// Environment:
//   TWILIO_BASE_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_API_KEY,
//   TWILIO_API_SECRET   the session's Twilio mirror (see twilio_messages.py)
//   MIRRA_URL           the server's root (credential routing)
//   MIRRA_SDK_NODE_DIR  where infra/test installed tests/sdk/node's package.json
//
// Exercises create (MediaUrl, StatusCallback), fetch, list and page through
// nextPage, the magic numbers' RestException codes, the status callbacks
// validated with `twilio.validateRequest`, redaction, deletion, the API key,
// and the server's root. Exits non-zero on the first failure; prints one
// summary line.

import { createServer } from 'node:http';
import { check, env, passed, sdk, twilioRefused } from './checks.mjs';

const { module: twilio, version: sdkVersion } = sdk('twilio');

const FROM = '+15005550006';

/** A client whose every domain is the mirror at `url`. */
function clientFor(url, user, password, accountSid) {
  const c = twilio(user, password, accountSid ? { accountSid } : {});
  c.api.baseUrl = url;
  c.verify.baseUrl = url;
  c.messaging.baseUrl = url;
  return c;
}

const refused = twilioRefused;

function startReceiver() {
  const got = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(200);
      res.end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      server.unref();
      resolve({ url: `http://127.0.0.1:${server.address().port}/status`, got });
    });
  });
}

async function waitFor(cond, what, seconds = 30) {
  const deadline = Date.now() + seconds * 1000;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  check(cond(), what);
}

const url = env('TWILIO_BASE_URL');
const sid = env('TWILIO_ACCOUNT_SID');
const token = env('TWILIO_AUTH_TOKEN');
const c = clientFor(url, sid, token);

// -- create, fetch, media
const hook = await startReceiver();
const m = await c.messages.create({
  to: '+14155552671',
  from: FROM,
  body: 'Your code is 654321',
  mediaUrl: ['https://demo.test/a.jpg'],
  statusCallback: hook.url,
});
check(m.sid.startsWith('SM') && m.sid.length === 34, 'create answers an SM sid');
check(m.status === 'queued', `a new message is queued, got ${m.status}`);
check(m.dateCreated instanceof Date, 'dateCreated parses as a Date');
check((await c.messages(m.sid).media.list()).length === 1, 'one media');
check((await c.messages(m.sid).fetch()).body === 'Your code is 654321', 'fetch reads the body back');

// -- status callbacks, validated by the SDK
await waitFor(() => hook.got.length >= 3, 'three status callbacks arrive');
const statuses = [];
for (const { headers, body } of hook.got) {
  const params = Object.fromEntries(new URLSearchParams(body));
  check(
    twilio.validateRequest(token, headers['x-twilio-signature'], hook.url, params),
    'validateRequest accepts the callback',
  );
  statuses.push(params.MessageStatus);
}
check(JSON.stringify(statuses) === '["sending","sent","delivered"]', `statuses in order: ${statuses}`);
const tampered = Object.fromEntries(new URLSearchParams(hook.got[0].body));
tampered.MessageStatus = 'failed';
check(
  !twilio.validateRequest(token, hook.got[0].headers['x-twilio-signature'], hook.url, tampered),
  'validateRequest refuses a tampered callback',
);
check((await c.messages(m.sid).fetch()).status === 'delivered', 'the message ends delivered');

// -- paging
for (let i = 0; i < 5; i += 1) {
  await c.messages.create({ to: '+14155550102', from: FROM, body: `page ${i}` });
}
const all = await c.messages.list({ to: '+14155550102', pageSize: 2 });
check(
  JSON.stringify(all.map((x) => x.body)) === JSON.stringify(['page 4', 'page 3', 'page 2', 'page 1', 'page 0']),
  `list follows every page: ${all.map((x) => x.body)}`,
);
const first = await c.messages.page({ to: '+14155550102', pageSize: 2 });
const second = await first.nextPage();
check(second && second.instances.length === 2, 'nextPage() follows next_page_uri');

// -- magic numbers
for (const [to, code] of [['+15005550001', 21211], ['+15005550002', 21612], ['+15005550003', 21408],
  ['+15005550004', 21610], ['+15005550009', 21614]]) {
  await refused(code, () => c.messages.create({ to, from: FROM, body: 'x' }), `To ${to}`);
}
for (const [from, code] of [['+15005550001', 21212], ['+15005550007', 21606], ['+15005550008', 21611]]) {
  await refused(code, () => c.messages.create({ to: '+14155552671', from, body: 'x' }), `From ${from}`);
}

// -- redact, delete
check((await c.messages(m.sid).update({ body: '' })).body === '', 'update({body: ""}) redacts');
check((await c.messages(m.sid).remove()) === true, 'remove answers true');
await refused(20404, () => c.messages(m.sid).fetch(), 'a deleted message');

// -- the API key, a wrong token, the server's root
const keyed = clientFor(url, env('TWILIO_API_KEY'), env('TWILIO_API_SECRET'), sid);
check((await keyed.messages.list({ limit: 1 })).length === 1, 'the API key is accepted');
await refused(20003, () => clientFor(url, sid, 'wrong').messages.list({ limit: 1 }), 'a wrong token');
const root = clientFor(env('MIRRA_URL'), sid, token);
check((await root.messages.list({ to: '+14155550102' })).length === 5, 'the server root reaches the session');

console.log(`twilio-node ${sdkVersion}: ${passed()} checks passed`);
