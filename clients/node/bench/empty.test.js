// 200 empty tests: what is left of their run time is the per-test overhead.
import { test } from 'vitest';

for (let i = 0; i < 200; i += 1) test(`empty ${i}`, () => {});
