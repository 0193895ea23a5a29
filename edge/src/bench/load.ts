// `pnpm --filter @seed/edge bench:load [--target node|wrangler] [--requests N] [--concurrency C] [--seconds S]`:
// starts the edge (the Node entry, or `pnpm dev` = wrangler dev) on a free loopback port with fresh storage, publishes a
// model, then sends single-image predictions, bounded in count and in time, and prints requests per second and latency.
// Loopback only; the server is stopped at the end.
import { rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildNetwork, initialParameters, Random, SEED_ARCHITECTURE, writeModel } from '@seed/runtime/engine';
import { freePort, startDetached, waitForHttp, WRANGLER_OFFLINE_ENV } from '../node/local_server';
import { IMAGE_PIXELS } from '../pixels';

const ROOT_DIR = new URL('../../../', import.meta.url).pathname;
const ADMIN_TOKEN = 'load-run-admin';
const WARMUP_REQUESTS = 20;
const MAX_REQUESTS = 5000;
const MAX_SECONDS = 60;

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'node' },
    requests: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '20' },
  },
});
if (values.target !== 'node' && values.target !== 'wrangler') throw new Error('--target is node or wrangler');
const requests = Math.min(MAX_REQUESTS, Number(values.requests));
const concurrency = Math.max(1, Math.min(64, Number(values.concurrency)));
const seconds = Math.min(MAX_SECONDS, Number(values.seconds));

const dataDir = await mkdtemp(join(tmpdir(), 'seed-load-'));
const port = await freePort();
const server =
  values.target === 'node'
    ? startDetached('pnpm', ['--filter', '@seed/edge', 'serve:node', '--port', String(port), '--data', dataDir], { cwd: ROOT_DIR, env: { ADMIN_TOKEN } })
    : startDetached('pnpm', ['dev', '--port', String(port), '--inspector-port', String(await freePort()), '--persist-to', dataDir, '--var', `ADMIN_TOKEN:${ADMIN_TOKEN}`], {
        cwd: ROOT_DIR,
        env: WRANGLER_OFFLINE_ENV,
      });
const url = `http://127.0.0.1:${port}`;

try {
  await waitForHttp(`${url}/health`, server, 90_000);
  const network = buildNetwork(SEED_ARCHITECTURE);
  const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  const model = await writeModel(network, initialParameters(network, 1), { version: 'load' });
  for (const [path, init] of [['/v1/models/load', { method: 'PUT', body: model }], ['/v1/models/load/promote', { method: 'POST' }]] as const) {
    const response = await fetch(`${url}${path}`, { ...init, headers: admin });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  }
  const random = new Random(3);
  const bodies = Array.from({ length: 16 }, () => JSON.stringify({ pixels: Array.from(random.floats(IMAGE_PIXELS, 0, 1)) }));
  const predict = async (i: number) => {
    const response = await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: bodies[i % bodies.length] });
    await response.arrayBuffer();
    return response.status;
  };
  for (let i = 0; i < WARMUP_REQUESTS; i++) await predict(i);

  const latenciesMs: number[] = [];
  const statuses = new Map<number, number>();
  const deadline = performance.now() + seconds * 1000;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests && performance.now() < deadline) {
        const sent = performance.now();
        const status = await predict(next++);
        latenciesMs.push(performance.now() - sent);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latenciesMs.sort((a, b) => a - b);
  const quantile = (q: number) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(q * latenciesMs.length))];
  const result = {
    target: values.target,
    requests: latenciesMs.length,
    concurrency,
    seconds: elapsed,
    requestsPerSecond: latenciesMs.length / elapsed,
    latencyMs: { median: quantile(0.5), p99: quantile(0.99) },
    statuses: Object.fromEntries(statuses),
  };
  console.log(
    `${values.target}: ${result.requestsPerSecond.toFixed(1)} predict requests/s (${result.requests} in ${elapsed.toFixed(1)} s, ${concurrency} at a time), ` +
      `latency median ${result.latencyMs.median.toFixed(1)} ms, p99 ${result.latencyMs.p99.toFixed(1)} ms`,
  );
  console.log(JSON.stringify(result));
} finally {
  await server.stop('SIGTERM');
  await rm(dataDir, { recursive: true, force: true });
}
