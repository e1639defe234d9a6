// The OFFICIAL Node SDKs left at their DEFAULT URLs (api.stripe.com,
// api.twilio.com, verify.twilio.com, api.resend.com), reaching a Mirra
// session through `mirra proxy` only, with the environment `mirra env
// --proxy` printed. Each gets what the README tells a Node app to do:
//   twilio-node   nothing (it reads HTTP_PROXY; the CA from NODE_EXTRA_CA_CERTS)
//   stripe-node   one option: httpAgent: new HttpsProxyAgent(process.env.HTTPS_PROXY)
//   resend-node   (fetch) one line: setGlobalDispatcher(new EnvHttpProxyAgent())
// Node 20 has no NODE_USE_ENV_PROXY; from 22.21 / 24.5 it covers the last two.

import { check, env, passed, sdk, twilioRefused } from './checks.mjs';

const Stripe = sdk('stripe').module;
const twilio = sdk('twilio').module;
const { Resend } = sdk('resend').module;
const { HttpsProxyAgent } = sdk('https-proxy-agent').module;
const { setGlobalDispatcher, EnvHttpProxyAgent } = sdk('undici').module;

for (const name of ['STRIPE_API_BASE', 'RESEND_BASE_URL', 'TWILIO_BASE_URL']) {
  check(process.env[name] === undefined, `no base URL for the SDKs (${name} unset)`);
}

const stripe = new Stripe(env('STRIPE_SECRET_KEY'), {
  httpAgent: new HttpsProxyAgent(env('HTTPS_PROXY')),
});
const customer = await stripe.customers.create({ email: 'proxy-node@example.com' });
check(customer.id.startsWith('cus_'), `a customer through the proxy: ${customer.id}`);
check(
  (await stripe.customers.retrieve(customer.id)).email === 'proxy-node@example.com',
  'it reads back',
);
const stranger = new Stripe('sk_test_nosuchsession', {
  httpAgent: new HttpsProxyAgent(env('HTTPS_PROXY')),
});
try {
  await stranger.customers.list();
  throw new Error('an unknown key was accepted');
} catch (e) {
  check(e.type === 'StripeAuthenticationError' && e.statusCode === 401, `Stripe's 401: ${e.type}`);
}

const client = twilio(env('TWILIO_ACCOUNT_SID'), env('TWILIO_AUTH_TOKEN'));
const msg = await client.messages.create({ to: '+15005550010', from: '+15005550006', body: 'via proxy' });
check(msg.sid.startsWith('SM'), `a message through the proxy: ${msg.sid}`);
const service = await client.verify.v2.services.create({ friendlyName: 'Proxy' });
check(service.sid.startsWith('VA'), 'Verify on verify.twilio.com through the proxy');
const nobody = twilio(`AC${'0'.repeat(32)}`, 'nope');
await twilioRefused(20003, () => nobody.messages.list({ limit: 1 }), 'an unknown Account SID', 401);

setGlobalDispatcher(new EnvHttpProxyAgent());
const resend = new Resend(env('RESEND_API_KEY'));
const sent = await resend.emails.send({
  from: 'App <app@example.com>', to: 'delivered@resend.dev', subject: 'via proxy', text: 'hi',
});
check(sent.error === null && typeof sent.data.id === 'string', `an email through the proxy: ${JSON.stringify(sent.error)}`);

console.log(`proxy_defaults.mjs: ${passed()} checks passed`);
