// The worker's session, shared by the setup file and the tests' imports
// (kept on globalThis: one per worker whatever path imported this module).

const KEY = Symbol.for('mirra-test.session');

export function setCurrent(session) {
  globalThis[KEY] = session;
}

export function current() {
  const s = globalThis[KEY];
  if (!s) {
    throw new Error('mirra-test: no session in this worker; add withMirra() to vitest.config (see the README)');
  }
  return s;
}
