// withMirra(): the Vitest config that gives every worker its own session.
//
// globalSetup (the main process) finds or starts the server and names the
// run; the setup file (each worker, before a test file is imported) attaches
// to or creates the session of its worker slot (VITEST_POOL_ID: no two
// workers running at once share one), puts its env into process.env, and
// resets it before each test when asked; globalSetup's teardown ends the
// run's sessions, and each session's timeout ends them if the run dies.

import { fileURLToPath } from 'node:url';

const GLOBAL_SETUP = fileURLToPath(new URL('./global-setup.js', import.meta.url));
const SETUP = fileURLToPath(new URL('./setup.js', import.meta.url));

const list = (v) => (v === undefined ? [] : [].concat(v));

/**
 * `defineConfig(withMirra({ mirrors: ['stripe'], resetBetweenTests: true }))`,
 * or `withMirra(options, yourConfig)` to add Mirra to an existing config.
 */
export function withMirra(options = {}, config = {}) {
  const test = config.test || {};
  return {
    ...config,
    test: {
      ...test,
      globalSetup: [...list(test.globalSetup), GLOBAL_SETUP],
      // First, so the session's env is set before the user's setup files run.
      setupFiles: [SETUP, ...list(test.setupFiles)],
      provide: { ...(test.provide || {}), mirraOptions: JSON.parse(JSON.stringify(options)) },
    },
  };
}
