// infra/bench/vitest-reset's config: one worker, reset before each test or
// not (MIRRA_BENCH_RESET), the mirrors MIRRA_BENCH_MIRRORS names.
import { defineConfig } from 'vitest/config';
import { withMirra } from '../src/vitest.js';

export default defineConfig(withMirra(
  {
    mirrors: (process.env.MIRRA_BENCH_MIRRORS || 'stripe').split(','),
    resetBetweenTests: process.env.MIRRA_BENCH_RESET === '1',
  },
  { test: { pool: 'forks', maxWorkers: 1, include: ['bench/**/*.test.js'] } },
));
