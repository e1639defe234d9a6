// Finding a Mirra server as the `mirra` CLI does, or starting one.
//
// Order: MIRRA_API_URL (token from MIRRA_TOKEN, else the record `mirra serve`
// left for that URL in the state dir, else <MIRRA_DATA_DIR or ./.mirra>/token);
// else http://127.0.0.1:4400 with the same token lookup; else, when
// MIRRA_AUTOSTART is set, a `mirra serve` of our own on a free port and a
// temporary data dir, stopped when this process exits (it reads its stdin:
// `--stop-with-stdin`, so it also goes when this process is killed).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Control, MirraError } from './control.js';

export const DEFAULT_URL = 'http://127.0.0.1:4400';

const truthy = (v) => !!v && !['0', 'false', 'no', 'off'].includes(v.trim().toLowerCase());

/** Mirra's per-user state dir, as the CLI finds it. */
export function stateDir() {
  const e = process.env;
  if (e.MIRRA_STATE_DIR) return e.MIRRA_STATE_DIR;
  if (e.XDG_STATE_HOME) return join(e.XDG_STATE_HOME, 'mirra');
  if (e.HOME) return join(e.HOME, '.local/state/mirra');
  return null;
}

function recordFile(url) {
  const rest = url.includes('://') ? url.split('://')[1] : url;
  const stem = [...rest].map((c) => (/^[A-Za-z0-9.-]$/.test(c) ? c : '_')).join('');
  const dir = stateDir();
  return dir === null ? null : join(dir, 'servers', `${stem}.json`);
}

function tokenFor(url) {
  if (process.env.MIRRA_TOKEN) return process.env.MIRRA_TOKEN;
  const rec = recordFile(url);
  if (rec && existsSync(rec)) {
    try { return JSON.parse(readFileSync(rec, 'utf8')).token; } catch { /* fall through */ }
  }
  const tokenFile = join(process.env.MIRRA_DATA_DIR || '.mirra', 'token');
  if (existsSync(tokenFile)) return readFileSync(tokenFile, 'utf8').trim();
  return null;
}

let started = null;

/**
 * A Control for the server this environment names, starting one when none
 * answers and `autostart` (default: MIRRA_AUTOSTART) allows it.
 */
export async function findServer({ autostart } = {}) {
  const url = (process.env.MIRRA_API_URL || DEFAULT_URL).replace(/\/+$/, '');
  const token = tokenFor(url);
  if (token !== null && token !== undefined) {
    const control = new Control(url, token);
    if (await control.answers()) return control;
  }
  if (autostart === undefined) autostart = truthy(process.env.MIRRA_AUTOSTART || '');
  if (autostart) return startServer();
  const why = token == null ? 'no token for it (set MIRRA_TOKEN)' : 'nothing answered';
  throw new MirraError(
    `no Mirra server at ${url}: ${why}. Start one with \`mirra serve\`, point `
    + 'MIRRA_API_URL/MIRRA_TOKEN at one, or set MIRRA_AUTOSTART=1 to start one per run.',
  );
}

function which(name) {
  for (const dir of (process.env.PATH || '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** Starts (once per process) `mirra serve` on a free loopback port. */
export async function startServer() {
  if (started) return started.control;
  const binary = process.env.MIRRA_BIN || which('mirra');
  if (!binary) throw new MirraError('MIRRA_AUTOSTART: no `mirra` on PATH (or set MIRRA_BIN)');
  const data = mkdtempSync(join(tmpdir(), 'mirra-autostart-'));
  const token = randomBytes(24).toString('base64url');
  const proc = spawn(binary, ['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir',
    join(data, 'data'), '--quiet', '--stop-with-stdin'], {
    env: { ...process.env, MIRRA_TOKEN: token, MIRRA_STATE_DIR: join(data, 'state') },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    const onData = (c) => {
      buf += c.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      proc.stdout.off('data', onData);
      proc.stdout.resume(); // keep reading so the server never blocks on a full pipe
      const first = buf.slice(0, nl);
      const found = first.split(/\s+/).find((w) => w.startsWith('http://'));
      if (found) resolve(found);
      else reject(new MirraError(`MIRRA_AUTOSTART: \`${binary} serve\` printed no URL: ${first}`));
    };
    proc.stdout.on('data', onData);
    proc.on('error', (e) => reject(new MirraError(`MIRRA_AUTOSTART: ${binary}: ${e.message}`)));
    proc.on('exit', (code) => reject(new MirraError(`MIRRA_AUTOSTART: \`${binary} serve\` exited (${code})`)));
  });
  const stop = () => {
    try { proc.stdin.end(); proc.kill('SIGTERM'); } catch { /* already gone */ }
    try { rmSync(data, { recursive: true, force: true }); } catch { /* best effort */ }
  };
  process.once('exit', stop);
  // The child must not keep this process alive on its own.
  proc.unref();
  proc.stdout.unref?.();
  proc.stdin.unref?.();
  started = { control: new Control(url, token), stop, url, token };
  return started.control;
}

/** Stops a server startServer() started (the run's end). */
export function stopStartedServer() {
  if (started) {
    started.stop();
    started = null;
  }
}
