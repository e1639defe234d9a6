import { expect, test } from 'vitest';
import { mirraSession, resetMirraMirrors } from '../src/index.js';
import { record, resendDomains } from './support.js';

test('the session env is in process.env before the test file runs', () => {
  record('seed-env');
  const env = mirraSession().env();
  expect(env.RESEND_API_KEY).toMatch(/^re_/);
  for (const [k, v] of Object.entries(env)) expect(process.env[k]).toBe(v);
});

test('resetMirraMirrors({ seed }) puts a mirror on another seed', async () => {
  record('seed-other');
  expect((await resendDomains()).length).toBe(1); // resend:default verifies example.com
  await resetMirraMirrors({ seed: 'resend:empty' });
  expect(await resendDomains()).toEqual([]);
});

test('the test after gets the session\'s own seed back', async () => {
  record('seed-back');
  expect((await resendDomains()).map((d) => d.name)).toEqual(['example.com']);
});
