// What the suite's tests share: stripe-node pointed at the worker's
// session, and a record of which session each test ran on (read by the
// Rust harness, tests/tests/vitest_plugin.rs).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Stripe from 'stripe';
import { mirraSession } from '../src/index.js';

export function stripe() {
  const { apiKey, options } = mirraSession().stripe;
  return new Stripe(apiKey, options);
}

export function record(name) {
  const out = process.env.MIRRA_PLUGIN_TEST_OUT;
  if (!out) return;
  mkdirSync(out, { recursive: true });
  const rec = { test: name, worker: process.env.VITEST_POOL_ID, pid: process.pid, session: mirraSession().id };
  writeFileSync(join(out, `${name.replace(/\W+/g, '_')}.json`), JSON.stringify(rec));
}

export async function resendDomains() {
  const { apiKey, baseUrl } = mirraSession().resend;
  const res = await fetch(`${baseUrl}/domains`, { headers: { authorization: `Bearer ${apiKey}` } });
  if (!res.ok) throw new Error(`GET /domains: ${res.status}`);
  return (await res.json()).data;
}
