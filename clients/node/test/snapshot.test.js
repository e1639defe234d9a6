import { expect, test } from 'vitest';
import { resetMirraMirrors, restore, snapshot } from '../src/index.js';
import { record, stripe } from './support.js';

test('snapshot, reset and restore bring state back', async () => {
  record('snapshot-round-trip');
  const s = stripe();
  const c = await s.customers.create({ email: 'snap@test.dev' });
  const id = await snapshot();
  expect(id).toMatch(/^snap_/);
  await resetMirraMirrors({ mirrors: ['stripe'] });
  expect((await s.customers.list({ email: 'snap@test.dev' })).data).toEqual([]);
  await restore(id);
  expect((await s.customers.list({ email: 'snap@test.dev' })).data.map((x) => x.id)).toEqual([c.id]);
});

test('after a restore, the next test still starts from the seed', async () => {
  record('snapshot-next-is-clean');
  expect((await stripe().customers.list({ email: 'snap@test.dev' })).data).toEqual([]);
});
