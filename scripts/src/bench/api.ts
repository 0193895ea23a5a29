// Part 4: the edge API under a bounded load on loopback (autocannon): predictions, rewards for the events those
// predictions logged, and GET /health/live (a route that does nothing) as the same server's baseline. On the Node entry
// (at 8 and 32 connections) and on `wrangler dev` (local D1 and R2, 8 connections), each started here on a free port
// with fresh storage and stopped at the end. And the Worker's bundle as `wrangler deploy --dry-run` reports it.
import autocannon from 'autocannon';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT_DIR } from '../lib/paths';
import { freePort, startDetached, waitForHttp, WRANGLER_OFFLINE_ENV, type DetachedProcess } from '@seed/edge/node';
import { IMAGE_PIXELS, loadMnist, writeModel } from '@seed/runtime';
import { network, tensors } from './gpus';
import { apiBackend, unavailable, type Row, type Settings } from './measure';

const ADMIN_TOKEN = 'bench-admin';

type Target = 'node' | 'wrangler';
/** Concurrent connections per target: the Node entry also at 32, where group commit has company to gather. */
const CONNECTIONS: Record<Target, number[]> = { node: [8, 32], wrangler: [8] };

function start(target: Target, port: number, dataDir: string, inspectorPort: number): DetachedProcess {
  return target === 'node'
    ? startDetached('pnpm', ['--filter', '@seed/edge', 'serve:node', '--port', String(port), '--data', dataDir], { cwd: ROOT_DIR, env: { ADMIN_TOKEN } })
    : startDetached('pnpm', ['dev', '--port', String(port), '--inspector-port', String(inspectorPort), '--persist-to', dataDir, '--var', `ADMIN_TOKEN:${ADMIN_TOKEN}`], {
        cwd: ROOT_DIR,
        env: WRANGLER_OFFLINE_ENV,
      });
}

interface Load {
  requests: number;
  seconds: number;
  ratePerSecond: number;
  p50: number;
  p99: number;
  statuses: Record<string, number>;
}

/**
 * `amount` requests from `connections` connections, stopped after `maxSeconds` whatever happens. The rate is responses
 * over the time from the first request to the last response (autocannon's own counts per whole second).
 */
async function load(url: string, connections: number, amount: number, maxSeconds: number, request: autocannon.Request): Promise<Load> {
  let first = 0;
  let last = 0;
  let responses = 0;
  let timer: NodeJS.Timeout | undefined;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({ url, connections, amount, timeout: 30, sampleInt: 100, requests: [request] }, (error, done) => (error ? reject(error) : resolve(done)));
    instance.on('start', () => (first = performance.now()));
    instance.on('response', () => {
      responses++;
      last = performance.now();
    });
    timer = setTimeout(() => instance.stop(), maxSeconds * 1000);
  });
  clearTimeout(timer);
  const seconds = (last - first) / 1000;
  const statuses: Record<string, number> = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, stats]) => [code, stats?.count ?? 0]));
  if (result.errors) statuses.errors = result.errors;
  if (result.timeouts) statuses.timeouts = result.timeouts;
  return { requests: responses, seconds, ratePerSecond: responses / seconds, p50: result.latency.p50, p99: result.latency.p99, statuses };
}

export async function apiRows(settings: Settings): Promise<Row[]> {
  const amount = settings.quick ? 200 : 2000;
  const maxSeconds = settings.quick ? 4 : 30;
  const { test } = loadMnist();
  const bodies = Array.from({ length: 32 }, (_, i) => JSON.stringify(Array.from(test.images.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS), (v) => Number(v.toFixed(4)))));
  const model = await writeModel(network, tensors, { version: 'bench' });
  const rows: Row[] = [await bundleRow()];

  for (const target of ['node', 'wrangler'] as Target[]) {
    const serverName = target === 'node' ? 'node' : 'wrangler dev';
    const dataDir = await mkdtemp(join(tmpdir(), 'seed-bench-api-'));
    const port = await freePort();
    let server: DetachedProcess | undefined;
    try {
      server = start(target, port, dataDir, await freePort());
      const url = `http://127.0.0.1:${port}`;
      await waitForHttp(`${url}/health`, server, 90_000);
      settings.log(`api: ${serverName} on ${url}`);
      const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
      for (const [path, init] of [['/v1/models/bench', { method: 'PUT', body: model }], ['/v1/models/bench/promote', { method: 'POST' }]] as const) {
        const response = await fetch(`${url}${path}`, { ...init, headers: admin });
        if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
      }
      // Warm-up: the model loads into the engine on the first prediction.
      for (let i = 0; i < 20; i++) {
        await (await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: `{"pixels":${bodies[i % bodies.length]}}` })).arrayBuffer();
      }

      let predicted = 0;
      const eventIds: string[] = [];
      let rewarded = 0;
      const routes: [string, autocannon.Request][] = [
        ['GET /health/live (does nothing)', { method: 'GET', path: '/health/live' }],
        ['POST /v1/predict', {
          method: 'POST', path: '/v1/predict', headers: { 'Content-Type': 'application/json' },
          setupRequest: (request) => {
            const eventId = `bench-${predicted}`;
            eventIds.push(eventId);
            return { ...request, body: `{"eventId":"${eventId}","pixels":${bodies[predicted++ % bodies.length]}}` };
          },
        }],
        ['POST /v1/events/{id}/reward', {
          method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"value":1}',
          // Each event logged by the predictions above is rewarded once.
          setupRequest: (request) => ({ ...request, path: `/v1/events/${eventIds[rewarded++ % eventIds.length]}/reward` }),
        }],
      ];
      for (const connections of CONNECTIONS[target]) {
        for (const [what, request] of routes) {
          const result = await load(url, connections, amount, maxSeconds, request);
          rows.push({
            part: 'api', what, who: 'seed edge', backend: apiBackend(serverName, connections),
            figures: { rate: { value: result.ratePerSecond, unit: 'req/s' }, p50: { value: result.p50, unit: 'ms' }, p99: { value: result.p99, unit: 'ms' } },
            samples: result.requests,
            note: `${result.requests} requests in ${result.seconds.toFixed(1)} s, ${connections} connections, loopback; status ${JSON.stringify(result.statuses)}`,
          });
        }
      }
    } catch (error) {
      rows.push(unavailable('api', 'predict, reward, baseline', 'seed edge', serverName, error));
    } finally {
      await server?.stop('SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  return rows;
}

/** The Worker bundle's size, raw and gzipped, as `wrangler deploy --dry-run` reports it (its build step runs too). */
async function bundleRow(): Promise<Row> {
  const what = 'Worker bundle (wrangler deploy --dry-run)';
  const outDir = await mkdtemp(join(tmpdir(), 'seed-bench-bundle-'));
  try {
    const { stdout } = await promisify(execFile)(join(ROOT_DIR, 'edge/node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', outDir], {
      cwd: join(ROOT_DIR, 'edge'), env: { ...process.env, ...WRANGLER_OFFLINE_ENV }, timeout: 120_000,
    });
    const sizes = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(stdout);
    if (!sizes) throw new Error(`no "Total Upload" line in wrangler's output: ${stdout.slice(-300)}`);
    return {
      part: 'api', what, who: 'seed edge', backend: 'workers',
      figures: { raw: { value: Number(sizes[1]), unit: 'KiB' }, gzip: { value: Number(sizes[2]), unit: 'KiB' } },
      samples: 1, note: 'the script and the SIMD engine\'s .wasm, as uploaded (the page\'s static assets are not in it)',
    };
  } catch (error) {
    return unavailable('api', what, 'seed edge', 'workers', error);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}
