#!/usr/bin/env node
// Buys and configures numbers and messaging services on a live Mirra Twilio
// mirror with the OFFICIAL `twilio` Node SDK (its domains' `baseUrl` pointed
// at the session, as in twilio_messages.mjs).
//
// Environment:
//   TWILIO_BASE_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN   the session's mirror
//   MIRRA_URL, MIRRA_TOKEN   the server's root and workspace token (inbound)
//   MIRRA_SDK_NODE_DIR       where infra/test installed tests/sdk/node
//
// The same story as twilio_numbers.py: the catalogue, buying (and Twilio's
// test-number refusals), SmsUrl by update, a messaging service with the
// bought number as sender (send, inbound to its URL validated with
// `twilio.validateRequest`), release. Exits non-zero on the first failure.

import { createServer } from 'node:http';
import { check, env, passed, sdk, twilioRefused } from './checks.mjs';

const { module: twilio, version: sdkVersion } = sdk('twilio');

const refused = twilioRefused;

/** An app on loopback recording each webhook's URL, params and signature. */
function startApp() {
  const got = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const url = `http://127.0.0.1:${server.address().port}${req.url}`;
      const params = Object.fromEntries(new URLSearchParams(body));
      got.push({ url, params, signature: req.headers['x-twilio-signature'] });
      res.writeHead(200, { 'Content-Type': 'text/xml' });
      res.end('<Response/>');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      server.unref();
      resolve({ url: `http://127.0.0.1:${server.address().port}/sms`, got });
    });
  });
}

async function inbound(session, to, body) {
  const res = await fetch(`${env('MIRRA_URL')}/v1/sessions/${session}/twilio/inbound`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${env('MIRRA_TOKEN')}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ from: '+14155552671', to, body }),
  });
  check(res.ok, `inbound answered ${res.status}`);
  return res.json();
}

const url = env('TWILIO_BASE_URL');
const token = env('TWILIO_AUTH_TOKEN');
const session = url.replace(/\/+$/, '').split('/').slice(-2)[0];
const c = twilio(env('TWILIO_ACCOUNT_SID'), token);
c.api.baseUrl = url;
c.messaging.baseUrl = url;

// -- the catalogue
const local = await c.availablePhoneNumbers('US').local.list({ areaCode: 415, limit: 3 });
check(JSON.stringify(local.map((n) => n.phoneNumber)) === JSON.stringify(['+14155550100', '+14155550101', '+14155550102']),
  `three San Francisco numbers, got ${local.map((n) => n.phoneNumber)}`);
check(local[0].friendlyName === '(415) 555-0100' && local[0].locality === 'San Francisco', 'friendlyName, locality');
const matched = await c.availablePhoneNumbers('US').local.list({ contains: '512*****42', limit: 5 });
check(matched.length === 1 && matched[0].phoneNumber === '+15125550142', 'Contains with wildcards');
check((await c.availablePhoneNumbers('GB').mobile.list({ limit: 2 })).length === 2, 'GB mobile');
check((await c.availablePhoneNumbers('CA').tollFree.list({ limit: 2 })).length === 2, 'CA toll-free');
await refused(20404, () => c.availablePhoneNumbers('US').mobile.list({ limit: 1 }), 'US has no mobile numbers');

// -- buying
const app = await startApp();
const bought = await c.incomingPhoneNumbers.create({ phoneNumber: local[0].phoneNumber, smsUrl: app.url });
check(bought.sid.startsWith('PN') && bought.phoneNumber === '+14155550100', 'bought by number');
const second = await c.incomingPhoneNumbers.create({ areaCode: '206' });
check(second.phoneNumber === '+12065550100', `bought by area code: ${second.phoneNumber}`);
await refused(21422, () => c.incomingPhoneNumbers.create({ phoneNumber: '+15005550000' }), 'unavailable');
await refused(21421, () => c.incomingPhoneNumbers.create({ phoneNumber: '+15005550001' }), 'invalid');
await refused(21452, () => c.incomingPhoneNumbers.create({ areaCode: '533' }), 'none in area code');
const listed = (await c.incomingPhoneNumbers.list()).map((n) => n.phoneNumber);
check(listed.includes('+14155550100') && listed.includes('+12065550100'), `both listed: ${listed}`);

// -- an inbound message reaches the SmsUrl set by update
const updated = await c.incomingPhoneNumbers(second.sid).update({ smsUrl: `${app.url}?n=2` });
check(updated.smsUrl === `${app.url}?n=2`, 'update');
await inbound(session, '+12065550100', 'hello');
check(app.got.length === 1 && app.got[0].params.Body === 'hello', 'the webhook went to the updated SmsUrl');
check(twilio.validateRequest(token, app.got[0].signature, app.got[0].url, app.got[0].params), 'its signature validates');

// -- a messaging service with the bought number
const service = await c.messaging.v1.services.create({ friendlyName: 'Alerts', inboundRequestUrl: `${app.url}?via=service` });
check(service.sid.startsWith('MG'), 'service created');
const sender = await c.messaging.v1.services(service.sid).phoneNumbers.create({ phoneNumberSid: bought.sid });
check(sender.phoneNumber === '+14155550100' && sender.serviceSid === service.sid, 'number added');
await refused(21710, () => c.messaging.v1.services(service.sid).phoneNumbers.create({ phoneNumberSid: bought.sid }), 'twice');
const m = await c.messages.create({ to: '+14155552671', messagingServiceSid: service.sid, body: 'via service' });
check(m.from === '+14155550100', `sent from the service's number: ${m.from}`);
await inbound(session, '+14155550100', 'to the service');
check(app.got.length === 2 && app.got[1].url.endsWith('/sms?via=service'), "inbound goes to the service's URL");
check(twilio.validateRequest(token, app.got[1].signature, app.got[1].url, app.got[1].params), 'validates');
check((await c.messaging.v1.services.list()).some((s) => s.sid === service.sid), 'services listed');

// -- release
check((await c.incomingPhoneNumbers(bought.sid).remove()) === true, 'released');
await refused(20404, () => c.incomingPhoneNumbers(bought.sid).fetch(), 'a released number');
check((await c.messaging.v1.services(service.sid).phoneNumbers.list()).length === 0, 'it left the service');
check((await c.messaging.v1.services(service.sid).remove()) === true, 'service deleted');

console.log(`twilio-node ${sdkVersion}: ${passed()} checks passed`);
