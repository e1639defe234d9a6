// mirra-test: Mirra sessions in Vitest. See withMirra() (mirra-test/vitest)
// for the setup; in tests, the worker's session:

import { current } from './current.js';

export { withMirra } from './vitest.js';
export { Control, MirraError } from './control.js';
export { findServer, startServer } from './server.js';
export { Session, parseSeeds, parseTimeout, readSeedFiles } from './session.js';

/** The worker's session: id, URLs, credentials, env, SDK options. */
export function mirraSession() {
  return current();
}

/** Resets the worker's session (all mirrors, or `mirrors`; to `seed` if given). One request. */
export function resetMirraMirrors({ mirrors, seed } = {}) {
  return current().reset({ mirrors, seed });
}

/** Snapshots the worker's session; the `snap_…` id. */
export function snapshot(opts) {
  return current().snapshot(opts);
}

/** Restores snapshot `id` into the worker's session. */
export function restore(id) {
  return current().restore(id);
}
