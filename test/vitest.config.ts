import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: the software GPU already uses both, so test files run one or two at a time.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
