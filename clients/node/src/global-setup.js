// Vitest globalSetup (the main process): the server and the run's name; at
// the end of the run, ends every session the run's workers made.

import { randomBytes } from 'node:crypto';
import { findServer, stopStartedServer } from './server.js';

export default async function setup(project) {
  const control = await findServer();
  const runId = randomBytes(4).toString('hex');
  project.provide('mirra', { url: control.url, token: control.token, runId });
  return async () => {
    const prefix = `vitest-${runId}-`;
    try {
      let after;
      const mine = [];
      for (;;) {
        const q = `/v1/sessions?status=active&limit=1000${after ? `&starting_after=${after}` : ''}`;
        const page = await control.request('GET', q);
        for (const s of page.data) if ((s.name || '').startsWith(prefix) && s.mode !== 'persistent') mine.push(s.id);
        if (!page.has_more || page.data.length === 0) break;
        after = page.data[page.data.length - 1].id;
      }
      await Promise.all(mine.map((id) => control.request('DELETE', `/v1/sessions/${id}`).catch(() => null)));
    } finally {
      stopStartedServer();
    }
  };
}
