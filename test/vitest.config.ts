import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { execFileSync } from 'node:child_process';
import { configDefaults, defineConfig } from 'vitest/config';
import { KEY_SETTINGS } from './edge/keys.js';

const root = new URL('..', import.meta.url).pathname;
// Tests that run inside workerd (the Workers runtime) with D1 and R2 bindings; every other test runs on Node.
const workersTests = 'test/edge/workers/**/*.test.ts';
// Tests that start workerd through wrangler's platform proxy. Two workerd-backed suites at once (these, or these and
// the Workers pool) have broken the proxy's synchronous channel mid-run ("false == true" in miniflare's fetch-sync,
// then every later call of that suite failing): they run one at a time, after the Node tests, before the Workers pool.
const proxyTests = ['test/edge/{api_d1,faults}.test.ts'];

export default defineConfig({
  test: {
    root,
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: the software GPU already uses both, so test files run one or two at a time.
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'node', exclude: [...configDefaults.exclude, workersTests, ...proxyTests], sequence: { groupOrder: 0 } } },
      { test: { name: 'proxy', root, include: proxyTests, pool: 'forks', testTimeout: 120_000, hookTimeout: 120_000, fileParallelism: false, sequence: { groupOrder: 1 } } },
      {
        plugins: [
          cloudflareTest(async () => {
            // wrangler.toml serves the page from edge/web/dist, which must exist before the pool reads it.
            execFileSync(process.execPath, ['--import', 'tsx', 'src/node/build_web.ts'], { cwd: `${root}edge`, stdio: 'ignore' });
            return {
              main: `${root}edge/src/worker.ts`,
              wrangler: { configPath: `${root}edge/wrangler.toml` },
              miniflare: {
                bindings: { TEST_MIGRATIONS: await readD1Migrations(`${root}edge/migrations`), ...KEY_SETTINGS },
              },
            };
          }),
        ],
        test: { name: 'workers', root, include: [workersTests], testTimeout: 120_000, hookTimeout: 120_000, sequence: { groupOrder: 2 } },
      },
    ],
  },
});
