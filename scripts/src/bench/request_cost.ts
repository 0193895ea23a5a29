// pnpm bench:requests [--requests N] [--turns N] [--concurrency N]: main-thread CPU time per request of the Node
// entry's app, in process. The app and its storage are built as the Node entry builds them (createApp over
// openNodeStorage, the SIMD engine, node:crypto's SHA-256) and `app.fetch` is called with `--concurrency` requests in
// flight for predict, reward and GET /health/live (the route that does nothing). The figure is the main thread's own
// CPU time (Linux schedstat, ns), so a busy machine slows the run but barely moves it, unlike req/s under autocannon.
// The SQLite writer thread's time is not in it (it is in the process CPU column); nor is the HTTP server's parsing.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type Env } from '@seed/edge';
import { nodeSha256, openNodeStorage, simdEngineModule } from '@seed/edge/node';
import { buildNetwork, IMAGE_PIXELS, initialParameters, loadMnist, SEED_ARCHITECTURE, writeModel } from '@seed/runtime';
import { intFlag, parseFlags } from '../lib/cli';
import { median } from './measure';

const ENV: Env = { ADMIN_TOKEN: 'cost-admin', API_KEYS: 'cost-client' };
const CLIENT = { 'Content-Type': 'application/json', Authorization: 'Bearer cost-client' };
const ADMIN = { Authorization: 'Bearer cost-admin' };

/** The main thread's CPU time so far, in µs (its thread id is the process id). */
const MAIN_THREAD_STAT = `/proc/self/task/${process.pid}/schedstat`;
const mainThreadMicros = () => Number(readFileSync(MAIN_THREAD_STAT, 'utf8').split(' ')[0]) / 1000;
const processMicros = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

interface Cost {
  /** Main-thread CPU per request, µs. */
  main: number;
  /** Event-loop active time per request, µs: wall time, so it grows when the machine is busy. */
  loop: number;
  /** CPU of every thread of the process per request, µs (the SQLite writer and the GC threads too). */
  process: number;
}

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({ requests: { type: 'string' }, turns: { type: 'string' }, concurrency: { type: 'string' } }, argv);
  const requests = intFlag('requests', flags.requests, 2000, 1, 1_000_000);
  const turns = intFlag('turns', flags.turns, 5, 1, 100);
  const concurrency = intFlag('concurrency', flags.concurrency, 8, 1, 1024);
  const dataDir = await mkdtemp(join(tmpdir(), 'seed-request-cost-'));
  const storage = await openNodeStorage(dataDir);
  try {
    const app = createApp<Env>({ storage: () => storage, simdEngine: await simdEngineModule(), sha256: nodeSha256 });
    const call = async (path: string, init: RequestInit) => {
      const response = await app.fetch(new Request(`http://127.0.0.1${path}`, init), ENV);
      if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${await response.text()}`);
      await response.arrayBuffer();
    };
    const network = buildNetwork(SEED_ARCHITECTURE);
    await call('/v1/models/bench', { method: 'PUT', headers: ADMIN, body: await writeModel(network, initialParameters(network, 1), { version: 'bench' }) });
    await call('/v1/models/bench/promote', { method: 'POST', headers: ADMIN });
    // Real digits, written as the API bench writes them (4 decimals): JSON parsing depends on the text.
    const { test } = loadMnist();
    const bodies = Array.from({ length: 32 }, (_, i) => JSON.stringify(Array.from(test.images.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS), (v) => Number(v.toFixed(4)))));
    let predicted = 0;
    let rewarded = 0;
    const routes: [string, () => Promise<void>][] = [
      ['GET /health/live', () => call('/health/live', {})],
      ['POST /v1/predict', () => {
        const n = predicted++;
        return call('/v1/predict', { method: 'POST', headers: CLIENT, body: `{"eventId":"cost-${n}","pixels":${bodies[n % bodies.length]}}` });
      }],
      // Each event the predictions logged is rewarded once (predict runs first in every turn, so enough exist).
      ['POST /v1/events/{id}/reward', () => call(`/v1/events/cost-${rewarded++}/reward`, { method: 'POST', headers: CLIENT, body: '{"value":1}' })],
    ];
    // `count` calls with `concurrency` in flight, then until the writer has committed them all.
    const run = async (route: () => Promise<void>, count: number): Promise<Cost> => {
      let started = 0;
      const lane = async () => {
        while (started < count) {
          started++;
          await route();
        }
      };
      const loop = performance.eventLoopUtilization();
      const mainStart = mainThreadMicros();
      const processStart = processMicros();
      await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
      const active = performance.eventLoopUtilization(loop).active * 1000;
      return { main: (mainThreadMicros() - mainStart) / count, loop: active / count, process: (processMicros() - processStart) / count };
    };
    // Warm-up: the JIT, the engine's first load, SQLite's page cache.
    for (const [, route] of routes) await run(route, Math.min(requests, 500));
    const costs: Cost[][] = routes.map(() => []);
    for (let turn = 0; turn < turns; turn++) for (const [r, [, route]] of routes.entries()) costs[r].push(await run(route, requests));
    const live = median(costs[0].map((c) => c.main));
    console.log(`main-thread CPU per request: median of ${turns} turns of ${requests} requests, ${concurrency} in flight, in process (app.fetch)`);
    console.log(`${'route'.padEnd(30)} ${'main µs'.padStart(8)} ${'loop µs'.padStart(8)} ${'process µs'.padStart(11)} ${'÷ live'.padStart(7)}  turns (main µs)`);
    for (const [r, [what]] of routes.entries()) {
      const m = median(costs[r].map((c) => c.main));
      const cells = [m.toFixed(1).padStart(8), median(costs[r].map((c) => c.loop)).toFixed(1).padStart(8), median(costs[r].map((c) => c.process)).toFixed(1).padStart(11), (m / live).toFixed(2).padStart(7)];
      console.log(`${what.padEnd(30)} ${cells.join(' ')}  ${costs[r].map((c) => c.main.toFixed(0)).join(' ')}`);
    }
  } finally {
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
