// Vitest setup file (each worker, before each test file): this worker slot's
// session, its env in process.env, a reset before each test when asked.

import { beforeEach, inject } from 'vitest';
import { Control, MirraError } from './control.js';
import { Session, parseSeeds, readSeedFiles } from './session.js';
import { setCurrent } from './current.js';

const server = inject('mirra');
const options = inject('mirraOptions') || {};
if (!server) {
  throw new MirraError("mirra-test: no server from globalSetup; use withMirra() in vitest.config");
}
const control = new Control(server.url, server.token);
const slot = process.env.VITEST_POOL_ID || process.env.VITEST_WORKER_ID || '1';
const name = options.persistent
  ? `${options.name || 'vitest'}-w${slot}`
  : `vitest-${server.runId}-${slot}${options.name ? `-${options.name}` : ''}`;
const start = { seeds: parseSeeds(options.seeds), seedFiles: readSeedFiles(options.seedFiles) };

let session;
try {
  session = await Session.attach(control, name, start);
} catch (e) {
  if (e.status !== 404 && e.status !== 410) throw e;
  session = await Session.create(control, {
    mirrors: options.mirrors || ['stripe'],
    seeds: options.seeds,
    seedFiles: options.seedFiles,
    timeout: options.timeout ?? (options.persistent ? undefined : '30m'),
    persistent: options.persistent,
    name,
  });
}
Object.assign(process.env, session.env(), { MIRRA_SESSION: session.id });
setCurrent(session);

if (options.resetBetweenTests) {
  beforeEach(async () => {
    await session.resetToStart();
  });
}
