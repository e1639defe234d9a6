#!/usr/bin/env node
// A person pays Checkout Sessions in a REAL headless Chromium: the OFFICIAL
// `stripe` Node SDK (reaching its session by host, port and key) makes the
// sessions, and playwright-core drives the system's Chromium through the
// page each session's `url` opens, as a customer's browser would.
//
// Environment:
//   MIRRA_URL            the server's root, e.g. http://127.0.0.1:4400
//   STRIPE_SECRET_KEY    the session's secret key
//   MIRRA_SDK_NODE_DIR   where infra/test installed tests/sdk/node's package.json
//   MIRRA_CHROMIUM       the Chromium executable (infra/test installs Debian's)
//
// Payment mode: a declined card (4000 0000 0000 0002) shows Stripe's message
// on the form and leaves the session open; 4242 4242 4242 4242 sends the
// browser to success_url (a loopback server of this script's) with the
// session's id, and the SDK reads the session complete and paid, its
// PaymentIntent succeeded, and `checkout.session.completed`. Subscription
// mode: the 3-D Secure card (4000 0025 0000 3155) goes through the challenge
// page's "Complete" back to success_url, and the SDK reads an active
// subscription. Exits non-zero with a message on the first failure; prints
// one summary line.

import { createServer } from 'node:http';
import { check, env, passed, sdk } from './checks.mjs';

const { module: Stripe, version: sdkVersion } = sdk('stripe');
const { module: playwright, version: playwrightVersion } = sdk('playwright-core');
const root = new URL(env('MIRRA_URL'));
const stripe = new Stripe(env('STRIPE_SECRET_KEY'), {
  host: root.hostname,
  port: Number(root.port),
  protocol: root.protocol.replace(':', ''),
  maxNetworkRetries: 0,
});

// -- the shop's success page: records what the browser asked for, says "ok"
// (Chromium's own favicon requests aside)
const landings = [];
const shop = createServer((req, res) => {
  if (req.url === '/favicon.ico') {
    res.writeHead(404).end();
    return;
  }
  landings.push(req.url);
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('ok');
});
await new Promise((resolve) => shop.listen(0, '127.0.0.1', resolve));
const shopUrl = `http://127.0.0.1:${shop.address().port}`;
const successUrl = `${shopUrl}/done?cs={CHECKOUT_SESSION_ID}`;

const browser = await playwright.chromium.launch({
  executablePath: env('MIRRA_CHROMIUM'),
  args: ['--no-sandbox'],
});
const chromiumVersion = browser.version();
const started = Date.now();

/** Fills the page's card form with `number` and a name. */
async function fillCard(page, number, name) {
  await page.fill('#number', number);
  await page.fill('#exp_month', '12');
  await page.fill('#exp_year', '2034');
  await page.fill('#cvc', '123');
  await page.fill('#name', name);
}

/** Clicks the form's submit button; answers the response to the POST it sends. */
async function submit(page) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    page.click('#submit'),
  ]);
  return response;
}

/** Waits until the browser is on the shop's success page; answers its URL. */
async function landed(page) {
  await page.waitForURL((u) => u.href.startsWith(shopUrl), { timeout: 15000 });
  return page.url();
}

/** The `checkout.session.completed` events for session `id`. */
async function completedEvents(id) {
  const events = await stripe.events.list({ type: 'checkout.session.completed', limit: 100 });
  return events.data.filter((e) => e.data.object.id === id);
}

try {
  // ---------------------------------------------------------------- payment
  const product = await stripe.products.create({ name: 'Mirra mug' });
  const price = await stripe.prices.create({ product: product.id, unit_amount: 1250, currency: 'usd' });
  const session = await stripe.checkout.sessions.create({
    mode: 'payment',
    line_items: [{ price: price.id, quantity: 2 }],
    success_url: successUrl,
    cancel_url: `${shopUrl}/cart`,
  });
  check(session.id.startsWith('cs_test_'), `a cs_test_ session: ${session.id}`);
  check(session.status === 'open' && session.payment_status === 'unpaid', 'the new session is open and unpaid');
  check(session.amount_total === 2500, `amount_total is 2 × 12.50: ${session.amount_total}`);
  check(session.url.includes(`/_mirra/checkout/${session.id}`), `url opens the mirror's page: ${session.url}`);

  const page = await browser.newPage();
  const shown = await page.goto(session.url);
  check(shown.status() === 200, `the page answers 200, got ${shown.status()}`);
  const body = await page.textContent('body');
  check(body.includes('Mirra mug'), 'the page lists the line item');
  check(body.includes('25.00'), `the page shows the total: ${await page.textContent('#total')}`);
  check((await page.locator('input[name="email"]').count()) === 1, 'an e-mail field, the session having no customer');
  check(
    (await page.inputValue('#number')).replaceAll(' ', '') === '4242424242424242',
    'the card number field comes filled with 4242…',
  );
  check((await page.textContent('#submit')).trim() === 'Pay', 'the button says Pay');

  // A declined card: the form again, with Stripe's message.
  await page.fill('input[name="email"]', 'buyer@example.com');
  await fillCard(page, '4000 0000 0000 0002', 'Dee Clined');
  const declined = await submit(page);
  check(declined.status() === 402, `a decline answers 402, got ${declined.status()}`);
  await page.waitForSelector('#error', { timeout: 15000 });
  const error = (await page.textContent('#error')).trim();
  check(error === 'Your card was declined.', `the form shows the decline: ${error}`);
  check((await page.getAttribute('#error', 'role')) === 'alert', 'the error is an alert');
  check((await page.locator('#number').count()) === 1, 'the card form is there again');
  check(landings.length === 0, 'the browser did not go to success_url');
  const stillOpen = await stripe.checkout.sessions.retrieve(session.id);
  check(
    stillOpen.status === 'open' && stillOpen.payment_status === 'unpaid',
    `after the decline the session is open and unpaid: ${stillOpen.status}/${stillOpen.payment_status}`,
  );
  check((await completedEvents(session.id)).length === 0, 'no checkout.session.completed yet');

  // A good card: the browser lands on success_url with the session's id.
  await page.fill('input[name="email"]', 'buyer@example.com');
  await fillCard(page, '4242 4242 4242 4242', 'Paid Inful');
  await page.click('#submit');
  const landedAt = await landed(page);
  check(landedAt === `${shopUrl}/done?cs=${session.id}`, `the browser is on success_url with the id: ${landedAt}`);
  check((await page.textContent('body')).trim() === 'ok', "the browser shows the shop's page");
  check(
    landings.length === 1 && landings[0] === `/done?cs=${session.id}`,
    `the shop got one request with the id: ${JSON.stringify(landings)}`,
  );

  const paid = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
  check(paid.status === 'complete', `the session is complete: ${paid.status}`);
  check(paid.payment_status === 'paid', `the session is paid: ${paid.payment_status}`);
  const pi = paid.payment_intent;
  check(pi && typeof pi === 'object' && pi.id.startsWith('pi_'), 'payment_intent expands to a PaymentIntent');
  check(pi.status === 'succeeded', `the PaymentIntent succeeded: ${pi.status}`);
  check(pi.amount === 2500 && pi.currency === 'usd', `the PaymentIntent is for 25.00 USD: ${pi.amount} ${pi.currency}`);
  // One PaymentIntent per session, as on Stripe: the declined card's charge
  // and the paid one are both on it.
  const charges = await stripe.charges.list({ payment_intent: pi.id });
  const paidCharges = charges.data.filter((c) => c.paid);
  const failedCharges = charges.data.filter((c) => c.status === 'failed');
  check(
    paidCharges.length === 1 && paidCharges[0].payment_method_details.card.last4 === '4242',
    'one paid charge on the card ending 4242',
  );
  check(
    failedCharges.length === 1 && failedCharges[0].payment_method_details.card.last4 === '0002',
    "the declined card's failed charge is on the same PaymentIntent",
  );
  const events = await completedEvents(session.id);
  check(events.length === 1, `one checkout.session.completed for the session, got ${events.length}`);
  check(events[0].data.object.payment_status === 'paid', "the event's session is paid");

  // The page of a completed session sends the browser straight on.
  await page.goto(session.url);
  check(
    (await landed(page)) === `${shopUrl}/done?cs=${session.id}`,
    "a completed session's url leads to success_url",
  );
  await page.close();

  // ----------------------------------------------- subscription, 3-D Secure
  const plan = await stripe.products.create({ name: 'Mirra Pro' });
  const monthly = await stripe.prices.create({
    product: plan.id,
    unit_amount: 1500,
    currency: 'usd',
    recurring: { interval: 'month' },
  });
  const sub = await stripe.checkout.sessions.create({
    mode: 'subscription',
    line_items: [{ price: monthly.id, quantity: 1 }],
    success_url: successUrl,
  });
  check(sub.mode === 'subscription' && sub.status === 'open', 'an open subscription-mode session');

  const page2 = await browser.newPage();
  await page2.goto(sub.url);
  check((await page2.textContent('#submit')).trim() === 'Subscribe', 'the button says Subscribe');
  await page2.fill('input[name="email"]', 'subscriber@example.com');
  await fillCard(page2, '4000 0025 0000 3155', 'Tessa Secure');
  await page2.click('#submit');
  await page2.waitForURL(/\/_mirra\/3ds\//, { timeout: 15000 });
  const challengeUrl = new URL(page2.url());
  check(
    /^pi_\w+$/.test(challengeUrl.pathname.split('/_mirra/3ds/')[1]) && challengeUrl.searchParams.has('client_secret'),
    `the browser is on the PaymentIntent's 3-D Secure challenge: ${challengeUrl.pathname}`,
  );
  const challenge = await page2.textContent('body');
  check(challenge.includes('15.00'), 'the challenge names the amount');
  check(
    (await page2.locator('button[name="outcome"][value="fail"]').count()) === 1,
    'the challenge offers Fail',
  );
  const waiting = await stripe.checkout.sessions.retrieve(sub.id);
  check(waiting.status === 'open', `while the challenge waits the session is open: ${waiting.status}`);
  check(landings.length === 2, 'the shop has not been reached for it yet');

  await page2.click('button[name="outcome"][value="complete"]');
  const subLanded = await landed(page2);
  check(subLanded === `${shopUrl}/done?cs=${sub.id}`, `after Complete the browser is on success_url: ${subLanded}`);
  check(landings.at(-1) === `/done?cs=${sub.id}`, 'the shop got the subscription session id');

  const done = await stripe.checkout.sessions.retrieve(sub.id, { expand: ['subscription', 'customer'] });
  check(done.status === 'complete', `the subscription session is complete: ${done.status}`);
  check(done.payment_status === 'paid', `the subscription session is paid: ${done.payment_status}`);
  const subscription = done.subscription;
  check(subscription && subscription.id.startsWith('sub_'), 'subscription expands to a Subscription');
  check(subscription.status === 'active', `the subscription is active: ${subscription.status}`);
  check(subscription.items.data[0].price.id === monthly.id, 'it subscribes to the monthly price');
  check(done.customer.email === 'subscriber@example.com', `the customer has the e-mail typed: ${done.customer.email}`);
  const invoice = await stripe.invoices.retrieve(subscription.latest_invoice);
  check(
    invoice.status === 'paid' && invoice.amount_paid === 1500,
    `its first invoice is paid: ${invoice.status} ${invoice.amount_paid}`,
  );
  check((await completedEvents(sub.id)).length === 1, 'one checkout.session.completed for the subscription session');
  await page2.close();
} finally {
  await browser.close();
  shop.close();
}

console.log(
  `stripe-node ${sdkVersion} + playwright-core ${playwrightVersion} (Chromium ${chromiumVersion}) Checkout: ` +
    `${passed()} checks passed, browser ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
