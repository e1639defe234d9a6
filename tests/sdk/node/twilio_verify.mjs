#!/usr/bin/env node
// Drives a live Mirra Twilio mirror's Verify v2 with the OFFICIAL `twilio`
// Node SDK, pointed at the session the way twilio-node allows: each domain
// is a `Domain` whose `baseUrl` every request is built on
// (lib/base/Domain.js `absoluteUrl`), and the client keeps one per product
// (lib/rest/Twilio.js `get verify()`), so `client.verify.baseUrl = url` and
// `client.api.baseUrl = url` point Verify and Messages at the session.
//
// Environment:
//   TWILIO_BASE_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN   the session's mirror
//   MIRRA_SDK_NODE_DIR  where infra/test installed tests/sdk/node's package.json
//
// Exercises services (create, fetch, list, update, remove), a verification
// whose code is read back with `client.messages.list({to})`, a wrong code
// (pending), the right one (approved), 20404 for what Twilio forgets, a
// canceled verification, an unknown channel (60200), five wrong codes then
// 60202, five sends then 60203. Exits non-zero on the first failure; prints
// one summary line.

import { check, env, passed, sdk, twilioRefused } from './checks.mjs';

const { module: twilio, version: sdkVersion } = sdk('twilio');

/** Awaits fn, which must throw RestException with `code` and `status`. */
const refused = (code, status, fn, what) => twilioRefused(code, fn, what, status);

const TO = '+14155552671';
const url = env('TWILIO_BASE_URL');
const client = twilio(env('TWILIO_ACCOUNT_SID'), env('TWILIO_AUTH_TOKEN'));
client.verify.baseUrl = url;
client.api.baseUrl = url;

/** The code in the newest message to `to`, as the Messages API lists it. */
async function codeSentTo(to) {
  const sent = await client.messages.list({ to, limit: 1 });
  check(sent.length === 1, `a message to ${to} is listed`);
  const { body } = sent[0];
  check(body.includes(' verification code is: '), `the message carries a code: ${body}`);
  return body.split(' ').pop();
}

const wrong = (code) => [...code].map((c) => (c === '0' ? '1' : '0')).join('');

// -- services
const services = client.verify.v2.services;
const svc = await services.create({ friendlyName: 'Acme' });
check(svc.sid.startsWith('VA') && svc.sid.length === 34, 'create answers a VA sid');
check(svc.codeLength === 6, `the default code length is 6, got ${svc.codeLength}`);
check(svc.url === `${url}/v2/Services/${svc.sid}`, `url leads back to the mirror: ${svc.url}`);
check(svc.dateCreated instanceof Date, 'dateCreated parses as a Date');
check((await services(svc.sid).fetch()).friendlyName === 'Acme', 'fetch reads the service back');
check((await services.list()).some((s) => s.sid === svc.sid), 'list has the service');
check((await services(svc.sid).update({ codeLength: 8 })).codeLength === 8, 'update sets codeLength');
await services(svc.sid).update({ codeLength: 6 });
const verify = services(svc.sid);

// -- start, read the code back, a wrong code, the right one
const v = await verify.verifications.create({ to: TO, channel: 'sms' });
check(v.sid.startsWith('VE') && v.status === 'pending', `a pending VE verification: ${v.status}`);
check(v.sendCodeAttempts.length === 1, 'one send attempt');
let code = await codeSentTo(TO);
check(/^\d{6}$/.test(code), `the code has 6 digits: ${code}`);
const denied = await verify.verificationChecks.create({ to: TO, code: wrong(code) });
check(denied.status === 'pending' && denied.valid === false, `a wrong code is pending: ${denied.status}`);
const ok = await verify.verificationChecks.create({ to: TO, code });
check(ok.status === 'approved' && ok.valid === true, `the right code approves: ${ok.status}`);
await refused(20404, 404, () => verify.verifications(v.sid).fetch(), 'an approved verification');
await refused(20404, 404, () => verify.verificationChecks.create({ to: TO, code }), 'a check with nothing pending');

// -- by verificationSid, and canceled
const byId = await verify.verifications.create({ to: TO, channel: 'sms' });
code = await codeSentTo(TO);
check(
  (await verify.verificationChecks.create({ verificationSid: byId.sid, code })).status === 'approved',
  'a check by verificationSid approves',
);
const toCancel = await verify.verifications.create({ to: TO, channel: 'whatsapp' });
const canceled = await verify.verifications(toCancel.sid).update({ status: 'canceled' });
check(canceled.status === 'canceled', `update({status: 'canceled'}): ${canceled.status}`);
await refused(60200, 400, () => verify.verifications.create({ to: TO, channel: 'pigeon' }), 'an unknown channel');

// -- five wrong codes, then 60202
const other = '+14155550123';
await verify.verifications.create({ to: other, channel: 'sms' });
code = await codeSentTo(other);
for (let i = 0; i < 5; i += 1) {
  const r = await verify.verificationChecks.create({ to: other, code: wrong(code) });
  check(r.status === 'pending', 'a wrong code stays pending');
}
await refused(60202, 429, () => verify.verificationChecks.create({ to: other, code }), 'the sixth check');

// -- five sends, then 60203
const third = '+14155550124';
const first = await verify.verifications.create({ to: third, channel: 'sms' });
for (let n = 2; n <= 5; n += 1) {
  const again = await verify.verifications.create({ to: third, channel: 'sms' });
  check(again.sid === first.sid && again.sendCodeAttempts.length === n, `send ${n} reuses the verification`);
}
await refused(60203, 429, () => verify.verifications.create({ to: third, channel: 'sms' }), 'the sixth send');

// -- remove
check((await services(svc.sid).remove()) === true, 'remove answers true');
await refused(20404, 404, () => services(svc.sid).fetch(), 'a deleted service');

console.log(`twilio-node ${sdkVersion} Verify: ${passed()} checks passed`);
