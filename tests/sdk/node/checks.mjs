// What every Node SDK script here checks with: `check` counts a passed check
// or throws with its description, `env` reads a variable the Rust test set,
// `sdk(name)` loads an official SDK from the install infra/test made
// (MIRRA_SDK_NODE_DIR) with its version, `twilioRefused` checks a refusal as
// twilio-node throws it.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import assert from 'node:assert/strict';

export function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

let passedCount = 0;

export function check(cond, what) {
  assert.ok(cond, what);
  passedCount += 1;
}

/** How many checks passed so far. */
export function passed() {
  return passedCount;
}

/** The SDK package `name` and its version. */
export function sdk(name) {
  const dir = env('MIRRA_SDK_NODE_DIR');
  const require = createRequire(join(dir, 'package.json'));
  const version = JSON.parse(
    readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8'),
  ).version;
  return { module: require(name), version };
}

/**
 * Awaits fn, which must throw twilio-node's RestException with Twilio error
 * `code` and HTTP `status` (any 4xx when not given); returns the exception.
 */
export async function twilioRefused(code, fn, what, status) {
  try {
    await fn();
  } catch (e) {
    check(e.code === code, `${what}: code ${code}, got ${e.code} (${e.message})`);
    if (status === undefined) {
      check(e.status >= 400 && e.status < 500, `${what}: a 4xx, got ${e.status}`);
    } else {
      check(e.status === status, `${what}: status ${status}, got ${e.status}`);
    }
    return e;
  }
  throw new Error(`${what}: expected RestException ${code}, nothing thrown`);
}
