// The control plane over HTTP with one kept-alive connection pool: a reset
// before each test is one request on an open connection, no CLI subprocess.

import http from 'node:http';
import https from 'node:https';

export class MirraError extends Error {
  constructor(message, { status, type, code } = {}) {
    super(message);
    this.name = 'MirraError';
    this.status = status;
    this.type = type;
    this.code = code;
  }
}

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 4 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 4 }),
};

export class Control {
  constructor(url, token) {
    this.url = url.replace(/\/+$/, '');
    this.token = token;
  }

  /** `method path` with a JSON `body`; the JSON answer, or a MirraError. */
  request(method, path, body) {
    const target = new URL(this.url + path);
    const mod = target.protocol === 'https:' ? https : http;
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = mod.request(target, {
        method,
        agent: agents[target.protocol],
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}),
        },
      }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json = null;
          try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
          if (res.statusCode >= 200 && res.statusCode < 300) return resolve(json);
          const err = json && json.error ? json.error : {};
          reject(new MirraError(
            `${method} ${path}: ${res.statusCode} ${err.message || text}`,
            { status: res.statusCode, type: err.type, code: err.code },
          ));
        });
        res.on('error', reject);
      });
      req.on('error', (e) => reject(new MirraError(`${method} ${this.url}${path}: ${e.message}`)));
      if (data) req.write(data);
      req.end();
    });
  }

  /** Whether a Mirra server answers at this URL with this token. */
  async answers() {
    try {
      await this.request('GET', '/v1/sessions?limit=1');
      return true;
    } catch {
      return false;
    }
  }
}
