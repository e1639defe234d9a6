// A Mirra session: its mirrors' URLs, credentials and environment, the calls
// that change its state (reset, snapshot, restore, end), and options for the
// official Node SDKs already pointed at it.

import { readFileSync } from 'node:fs';
import { MirraError } from './control.js';

/** Seconds from a number or `90s` / `30m` / `2h` / `1d` (as `mirra up --timeout`). */
export function parseTimeout(value) {
  if (value === undefined || value === null || typeof value === 'number') return value;
  const m = /^\s*(\d+)\s*([smhd]?)\s*$/.exec(String(value));
  if (!m) throw new MirraError(`timeout ${JSON.stringify(value)}: expected seconds or e.g. 90s, 30m, 2h, 1d`);
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2]];
}

/** `{stripe: 'default'}` from an object, or from `'stripe:default'` strings. */
export function parseSeeds(seeds) {
  if (!seeds) return {};
  if (typeof seeds === 'object' && !Array.isArray(seeds)) return { ...seeds };
  const out = {};
  for (const s of [].concat(seeds)) {
    const i = s.indexOf(':');
    if (i <= 0 || i === s.length - 1) throw new MirraError(`seed ${JSON.stringify(s)}: expected mirror:name, e.g. stripe:default`);
    out[s.slice(0, i)] = s.slice(i + 1);
  }
  return out;
}

/** `{stripe: {...}}` from `{stripe: 'path.json'}` (read here) or parsed seeds. */
export function readSeedFiles(files) {
  if (!files) return {};
  const out = {};
  for (const [mirror, seed] of Object.entries(files)) {
    if (typeof seed === 'string') {
      try {
        out[mirror] = JSON.parse(readFileSync(seed, 'utf8'));
      } catch (e) {
        throw new MirraError(`seed file for ${mirror}: ${e.message}`);
      }
    } else {
      out[mirror] = seed;
    }
  }
  return out;
}

export class Session {
  constructor(control, data, { seeds = {}, seedFiles = {} } = {}) {
    this.control = control;
    this.data = data;
    this.id = data.id;
    this.startSeeds = seeds;
    this.startFiles = seedFiles;
    this.ended = false;
    // Mirrors a test reset to another seed than the session's start.
    this.changed = new Set();
  }

  static async create(control, { mirrors = ['stripe'], seeds, seedFiles, timeout, persistent = false, name, rateLimit } = {}) {
    const s = parseSeeds(seeds);
    const f = readSeedFiles(seedFiles);
    const body = { mirrors: [...mirrors], seeds: s, seed_files: f, persistent: !!persistent };
    if (name) body.name = name;
    if (timeout !== undefined && timeout !== null && !persistent) body.timeout_seconds = parseTimeout(timeout);
    if (rateLimit !== undefined) body.rate_limit = Number(rateLimit);
    return new Session(control, await control.request('POST', '/v1/sessions', body), { seeds: s, seedFiles: f });
  }

  /** An existing live session, by id or name. */
  static async attach(control, idOrName, start = {}) {
    return new Session(control, await control.request('GET', `/v1/sessions/${encodeURIComponent(idOrName)}`), start);
  }

  get mirrors() {
    return Object.keys(this.data.mirrors || {});
  }

  mirror(name) {
    const m = (this.data.mirrors || {})[name];
    if (!m) throw new MirraError(`session ${this.id} has no ${name} mirror (it has: ${this.mirrors.join(', ')})`);
    return m;
  }

  /** The variables `mirra env` prints for this session (STRIPE_API_KEY, …). */
  env() {
    const out = {};
    for (const m of Object.values(this.data.mirrors || {})) Object.assign(out, m.env || {});
    return out;
  }

  url(mirror) { return this.mirror(mirror).url; }

  credentials(mirror) { return this.mirror(mirror).credentials; }

  /**
   * Puts mirrors (default: all) back to their seed — or, with `seed`, to
   * another (`'stripe:empty'` or `{stripe: 'empty'}`): one request.
   */
  async reset({ mirrors, seed, seeds, seedFiles } = {}) {
    const body = {};
    if (mirrors) body.mirrors = [...mirrors];
    const s = { ...parseSeeds(seeds), ...parseSeeds(seed) };
    if (Object.keys(s).length) body.seeds = s;
    const f = readSeedFiles(seedFiles);
    if (Object.keys(f).length) body.seed_files = f;
    const report = await this.control.request('POST', `/v1/sessions/${this.id}/reset`, body);
    for (const m of new Set([...Object.keys(s), ...Object.keys(f)])) {
      const same = this.startSeeds[m] === s[m]
        && JSON.stringify(this.startFiles[m]) === JSON.stringify(f[m]);
      if (same) this.changed.delete(m);
      else this.changed.add(m);
    }
    return report;
  }

  /**
   * A reset in which every mirror an earlier test reset to another seed gets
   * the seed the session started with back (what runs before each test).
   */
  async resetToStart({ mirrors } = {}) {
    const seeds = {};
    const seedFiles = {};
    for (const m of this.changed) {
      if (mirrors && !mirrors.includes(m)) continue;
      if (m in this.startFiles) seedFiles[m] = this.startFiles[m];
      else seeds[m] = this.startSeeds[m] || 'default';
    }
    return this.reset({ mirrors, seeds, seedFiles });
  }

  /** Saves the session's state; the snapshot's `snap_…` id. */
  async snapshot({ keep = false } = {}) {
    return (await this.control.request('POST', `/v1/sessions/${this.id}/snapshots`, { keep: !!keep })).id;
  }

  async restore(snapshotId) {
    return this.control.request('POST', `/v1/sessions/${this.id}/restore`, { snapshot: snapshotId });
  }

  /** Ends the session once; one that already ended or expired is left alone. */
  async end() {
    if (this.ended) return null;
    this.ended = true;
    try {
      return await this.control.request('DELETE', `/v1/sessions/${this.id}`);
    } catch (e) {
      if (e.status === 404 || e.status === 410) return null;
      throw e;
    }
  }

  /**
   * Options for stripe-node, which can set only host, port and protocol:
   * the server's root, where the `sk_test_…` key names this session
   * (credential routing). `new Stripe(s.stripe.apiKey, s.stripe.options)`.
   */
  get stripe() {
    const root = new URL(this.control.url);
    return {
      apiKey: this.credentials('stripe').secret_key,
      options: {
        host: root.hostname,
        port: Number(root.port || (root.protocol === 'https:' ? 443 : 80)),
        protocol: root.protocol.replace(':', ''),
      },
    };
  }

  /** resend-node: `new Resend(s.resend.apiKey, { baseUrl: s.resend.baseUrl })`. */
  get resend() {
    return { apiKey: this.credentials('resend').api_key, baseUrl: this.url('resend') };
  }

  /**
   * twilio-node: `const c = twilio(t.accountSid, t.authToken); t.apply(c)` sets
   * every domain's baseUrl (api, verify, messaging) to this session's mirror.
   */
  get twilio() {
    const c = this.credentials('twilio');
    const baseUrl = this.url('twilio');
    return {
      accountSid: c.account_sid,
      authToken: c.auth_token,
      baseUrl,
      apply(client) {
        for (const d of ['api', 'verify', 'messaging']) client[d].baseUrl = baseUrl;
        return client;
      },
    };
  }
}
