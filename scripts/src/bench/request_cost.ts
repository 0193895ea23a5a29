// pnpm bench:requests [--requests N] [--turns N] [--connections N]: the Node entry's main-thread CPU time per request.
// The server is the Node entry itself (startNodeServer, in this process, with fresh storage); the load comes from a
// child process (request_load.ts, autocannon over loopback), so its work is not counted. Per turn, `--requests`
// requests of each route (predict, reward, GET /health/live: the route that does nothing) with `--connections` in
// flight; the figure is the main thread's own CPU time (Linux schedstat, ns) over the turn divided by the requests.
// CPU time, not req/s: a busy machine slows the run but barely moves the figure. The SQLite writer thread's time is
// not in it (it is in the process column), and req/s on one thread is bounded by 1 s ÷ this figure.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startNodeServer } from '@seed/edge/node';
import { buildNetwork, IMAGE_PIXELS, initialParameters, loadMnist, SEED_ARCHITECTURE, writeModel } from '@seed/runtime';
import { intFlag, parseFlags } from '../lib/cli';
import { median } from './measure';
import type { LoadDone, LoadOrder, LoadRoute } from './request_load';

const ADMIN_TOKEN = 'cost-admin';
const API_KEY = 'cost-client';

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
  /** CPU of every thread of this process per request, µs (the SQLite writer and the GC threads too). */
  process: number;
}

const ROUTES: [LoadRoute, string][] = [['live', 'GET /health/live'], ['predict', 'POST /v1/predict'], ['reward', 'POST /v1/events/{id}/reward']];

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({ requests: { type: 'string' }, turns: { type: 'string' }, connections: { type: 'string' } }, argv);
  const requests = intFlag('requests', flags.requests, 3000, 1, 1_000_000);
  const turns = intFlag('turns', flags.turns, 5, 1, 100);
  const connections = intFlag('connections', flags.connections, 8, 1, 1024);
  const dataDir = await mkdtemp(join(tmpdir(), 'seed-request-cost-'));
  const server = await startNodeServer({ port: await freePort(), dataDir, env: { ADMIN_TOKEN, API_KEYS: API_KEY } });
  const load = fork(new URL('./request_load.ts', import.meta.url), { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  try {
    const network = buildNetwork(SEED_ARCHITECTURE);
    for (const [path, body] of [['/v1/models/bench', await writeModel(network, initialParameters(network, 1), { version: 'bench' })], ['/v1/models/bench/promote', undefined]] as const) {
      const response = await fetch(`${server.url}${path}`, { method: body ? 'PUT' : 'POST', body, headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
      if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    }
    // Real digits, written as the API bench writes them (4 decimals): JSON parsing depends on the text.
    const { test } = loadMnist();
    const images = Array.from({ length: 32 }, (_, i) => JSON.stringify(Array.from(test.images.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS), (v) => Number(v.toFixed(4)))));
    const next: Record<LoadRoute, number> = { live: 0, predict: 0, reward: 0 };
    const run = async (route: LoadRoute, count: number): Promise<Cost> => {
      const order: LoadOrder = { url: server.url, route, count, connections, first: next[route], images, apiKey: API_KEY };
      next[route] += count;
      const mainStart = mainThreadMicros();
      const processStart = processMicros();
      const done = new Promise<LoadDone>((resolve) => load.once('message', (message) => resolve(message as LoadDone)));
      load.send(order);
      const { statuses } = await done;
      const cost = { main: (mainThreadMicros() - mainStart) / count, process: (processMicros() - processStart) / count };
      const failed = Object.entries(statuses).filter(([code]) => !/^2\d\d$/.test(code));
      if (failed.length > 0) throw new Error(`${route}: answers other than 2xx: ${JSON.stringify(Object.fromEntries(failed))}`);
      return cost;
    };
    // Warm-up: the JIT, the engine's first load, SQLite's page cache.
    for (const [route] of ROUTES) await run(route, Math.min(requests, 1000));
    const costs: Cost[][] = ROUTES.map(() => []);
    // Predict first in every turn, so each reward has an event to reward.
    for (let turn = 0; turn < turns; turn++) for (const [r, [route]] of ROUTES.entries()) costs[r].push(await run(route, requests));
    const live = median(costs[0].map((c) => c.main));
    console.log(`the Node entry's main-thread CPU per request: median of ${turns} turns of ${requests} requests, ${connections} connections, loopback, load from a child process`);
    console.log(`${'route'.padEnd(30)} ${'main µs'.padStart(8)} ${'process µs'.padStart(11)} ${'÷ live'.padStart(7)}  turns (main µs)`);
    for (const [r, [, what]] of ROUTES.entries()) {
      const m = median(costs[r].map((c) => c.main));
      const cells = [m.toFixed(1).padStart(8), median(costs[r].map((c) => c.process)).toFixed(1).padStart(11), (m / live).toFixed(2).padStart(7)];
      console.log(`${what.padEnd(30)} ${cells.join(' ')}  ${costs[r].map((c) => c.main.toFixed(0)).join(' ')}`);
    }
  } finally {
    load.kill();
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
