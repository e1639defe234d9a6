#!/usr/bin/env node
// An app written with the OFFICIAL `twilio` Node SDK receives an inbound SMS
// from a live Mirra session: its webhook checks `X-Twilio-Signature` with
// `twilio.validateRequest` and answers with `twilio.twiml.MessagingResponse`;
// the replies are read back through the SDK's Messages API and move to
// delivered.
//
// Environment:
//   MIRRA_URL           the server's root (control plane and mirrors)
//   MIRRA_TOKEN         the workspace token
//   MIRRA_SDK_NODE_DIR  where infra/test installed tests/sdk/node's package.json
//
// The script creates its own session, whose one number's SmsUrl is the app
// it runs on loopback. Exits non-zero on the first failure.

import { createServer } from 'node:http';
import { check, env, passed, sdk } from './checks.mjs';

const { module: twilio, version: sdkVersion } = sdk('twilio');

const NUMBER = '+14155550100';
const SENDER = '+14155552671';

async function control(method, path, body) {
  const res = await fetch(env('MIRRA_URL') + path, {
    method,
    headers: { authorization: `Bearer ${env('MIRRA_TOKEN')}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  check(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const state = { token: '', valid: [], params: [] };
const app = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    const params = Object.fromEntries(new URLSearchParams(body));
    const url = `http://127.0.0.1:${app.address().port}${req.url}`;
    state.valid.push(twilio.validateRequest(state.token, req.headers['x-twilio-signature'], url, params));
    state.params.push(params);
    const twiml = new twilio.twiml.MessagingResponse();
    twiml.message(`You said: ${params.Body}`);
    twiml.message({ to: '+14155550199' }, 'Forwarded');
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(twiml.toString());
  });
});
await new Promise((r) => app.listen(0, '127.0.0.1', r));
const appUrl = `http://127.0.0.1:${app.address().port}/sms`;

const session = await control('POST', '/v1/sessions', {
  mirrors: ['twilio'],
  seed_files: { twilio: { phone_numbers: [{ phone_number: NUMBER, sms_url: appUrl }] } },
});
const creds = session.mirrors.twilio.credentials;
state.token = creds.auth_token;
const client = twilio(creds.account_sid, creds.auth_token);
client.api.baseUrl = session.mirrors.twilio.url;

const out = await control('POST', `/v1/sessions/${session.id}/twilio/inbound`, {
  from: SENDER, to: NUMBER, body: 'hello',
});
check(out.errors.length === 0, `no errors: ${JSON.stringify(out.errors)}`);
check(JSON.stringify(state.valid) === '[true]', `validateRequest accepts the webhook: ${state.valid}`);
check(state.params[0].Body === 'hello' && state.params[0].From === SENDER, 'webhook params');

const inbound = await client.messages(out.message.sid).fetch();
check(inbound.direction === 'inbound' && inbound.status === 'received', `inbound ${inbound.direction} ${inbound.status}`);
const replies = (await client.messages.list({ from: NUMBER })).filter((m) => m.direction === 'outbound-reply');
check(replies.length === 2, `two replies, got ${replies.length}`);
const byTo = Object.fromEntries(replies.map((m) => [m.to, m.body]));
check(byTo[SENDER] === 'You said: hello', `the reply to the sender: ${byTo[SENDER]}`);
check(byTo['+14155550199'] === 'Forwarded', `the reply with to=: ${byTo['+14155550199']}`);

const deadline = Date.now() + 15000;
let statuses = [];
while (Date.now() < deadline) {
  statuses = await Promise.all(replies.map(async (m) => (await client.messages(m.sid).fetch()).status));
  if (statuses.every((s) => s === 'delivered')) break;
  await new Promise((r) => setTimeout(r, 200));
}
check(statuses.every((s) => s === 'delivered'), `replies delivered: ${statuses}`);
await control('DELETE', `/v1/sessions/${session.id}`);
app.close();
console.log(`twilio-node ${sdkVersion}: inbound SMS with TwiML replies, ${passed()} checks passed`);
