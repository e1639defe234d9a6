// checkout.test.js, with vitest.config.js:
//   export default defineConfig(withMirra({ mirrors: ['stripe'], resetBetweenTests: true }));
import Stripe from 'stripe';
import { expect, test } from 'vitest';
import { mirraSession } from 'mirra-test';

// The worker's own session: stripe-node reaches it by host and port, and
// the key names the session.
const { apiKey, options } = mirraSession().stripe;
const stripe = new Stripe(apiKey, options);

test('checkout creates the customer', async () => {
  await stripe.customers.create({ email: 'buyer@test.dev' });
  const found = await stripe.customers.list({ email: 'buyer@test.dev' });
  expect(found.data).toHaveLength(1);
});

test('each test starts from the seed', async () => {
  const found = await stripe.customers.list({ email: 'buyer@test.dev' });
  expect(found.data).toHaveLength(0);
});
