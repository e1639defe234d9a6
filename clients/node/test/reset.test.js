import { expect, test } from 'vitest';
import { mirraSession } from '../src/index.js';
import { record, stripe } from './support.js';

test('a customer made here lands in this worker\'s session, reached by stripe-node through credential routing', async () => {
  record('reset-creates');
  const customer = await stripe().customers.create({ email: 'ann@test.dev' });
  expect(customer.id).toMatch(/^cus_/);
  expect((await stripe().customers.list({ email: 'ann@test.dev' })).data.map((c) => c.id)).toEqual([customer.id]);
  expect(process.env.STRIPE_API_KEY || process.env.STRIPE_SECRET_KEY).toBe(mirraSession().stripe.apiKey);
});

test('the next test starts from the seed: the customer is gone', async () => {
  record('reset-sees-none');
  expect((await stripe().customers.list({ email: 'ann@test.dev' })).data).toEqual([]);
});
