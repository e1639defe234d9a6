// The package's own suite: two mirrors, reset before each test, at least two
// forked workers running at once (each must get a session of its own).
import { defineConfig } from 'vitest/config';
import { withMirra } from '../src/vitest.js';

export default defineConfig(withMirra(
  { mirrors: ['stripe', 'resend'], resetBetweenTests: true, timeout: '10m' },
  { test: { pool: 'forks', maxWorkers: 2, minWorkers: 2, fileParallelism: true, include: ['test/**/*.test.js'], testTimeout: 30000 } },
));
