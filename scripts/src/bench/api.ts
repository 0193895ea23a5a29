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
/** Predict and reward need a client key (the service fails closed). */
const API_KEY = 'bench-client';

type Target = 'node' | 'wrangler';
/** Concurrent connections per target: the Node entry also at 32, where group commit has company to gather. */
const CONNECTIONS: Record<Target, number[]> = { node: [8, 32], wrangler: [8] };

function start(target: Target, port: number, dataDir: string, inspectorPort: number): DetachedProcess {
  return target === 'node'
    ? startDetached('pnpm', ['--filter', '@seed/edge', 'serve:node', '--port', String(port), '--data', dataDir], { cwd: ROOT_DIR, env: { ADMIN_TOKEN, API_KEYS: API_KEY } })
    : startDetached('pnpm', ['dev', '--port', String(port), '--inspector-port', String(inspectorPort), '--persist-to', dataDir, '--var', `ADMIN_TOKEN:${ADMIN_TOKEN}`, '--var', `API_KEYS:${API_KEY}`], {
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
 * Requests from `connections` connections for `seconds`. The rate is responses over the time from the first request to
 * the last response (autocannon's own counts are per whole second).
 */
async function load(url: string, connections: number, seconds: number, request: autocannon.Request): Promise<Load> {
  let first = 0;
  let last = 0;
  let responses = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({ url, connections, duration: seconds, timeout: 30, sampleInt: 100, requests: [request] }, (error, done) => (error ? reject(error) : resolve(done)));
    instance.on('start', () => (first = performance.now()));
    instance.on('response', () => {
      responses++;
      last = performance.now();
    });
  });
  const elapsed = (last - first) / 1000;
  const statuses: Record<string, number> = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, stats]) => [code, stats?.count ?? 0]));
  if (result.errors) statuses.errors = result.errors;
  if (result.timeouts) statuses.timeouts = result.timeouts;
  return { requests: responses, seconds: elapsed, ratePerSecond: responses / elapsed, p50: result.latency.p50, p99: result.latency.p99, statuses };
}

/** The turn with the median rate (the lower middle one for an even count). */
function medianTurn(turns: Load[]): Load {
  return [...turns].sort((a, b) => a.ratePerSecond - b.ratePerSecond)[Math.floor((turns.length - 1) / 2)];
}

export async function apiRows(settings: Settings): Promise<Row[]> {
  // Each route is first warmed up at the turn's connections (the JIT, the engine's buffers, SQLite's page cache), then
  // measured in turns that alternate the routes, so a slow spell of the machine falls on all of them alike.
  const warmSeconds = settings.quick ? 0.3 : 1;
  const turnSeconds = settings.quick ? 0.5 : 2;
  const turns = settings.quick ? 1 : 3;
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
      const client = { 'Content-Type': 'application/json', Authorization: `Bearer ${API_KEY}` };
      for (const [path, init] of [['/v1/models/bench', { method: 'PUT', body: model }], ['/v1/models/bench/promote', { method: 'POST' }]] as const) {
        const response = await fetch(`${url}${path}`, { ...init, headers: admin });
        if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
      }
      // Warm-up: the model loads into the engine on the first prediction.
      for (let i = 0; i < 20; i++) {
        const response = await fetch(`${url}/v1/predict`, { method: 'POST', headers: client, body: `{"pixels":${bodies[i % bodies.length]}}` });
        if (!response.ok) throw new Error(`warm-up predict: ${response.status} ${await response.text()}`);
      }

      let predicted = 0;
      const eventIds: string[] = [];
      let rewarded = 0;
      const routes: [string, autocannon.Request][] = [
        ['GET /health/live (does nothing)', { method: 'GET', path: '/health/live' }],
        ['POST /v1/predict', {
          method: 'POST', path: '/v1/predict', headers: client,
          setupRequest: (request) => {
            const eventId = `bench-${predicted}`;
            eventIds.push(eventId);
            return { ...request, body: `{"eventId":"${eventId}","pixels":${bodies[predicted++ % bodies.length]}}` };
          },
        }],
        ['POST /v1/events/{id}/reward', {
          method: 'POST', headers: client, body: '{"value":1}',
          // Each event logged by the predictions above is rewarded once.
          setupRequest: (request) => ({ ...request, path: `/v1/events/${eventIds[rewarded++ % eventIds.length]}/reward` }),
        }],
      ];
      for (const connections of CONNECTIONS[target]) {
        for (const [, request] of routes) await load(url, connections, warmSeconds, request);
        const measured: Load[][] = routes.map(() => []);
        for (let turn = 0; turn < turns; turn++) {
          for (let k = 0; k < routes.length; k++) {
            const r = (k + turn) % routes.length;
            measured[r].push(await load(url, connections, turnSeconds, routes[r][1]));
          }
        }
        routes.forEach(([what], r) => {
          const result = medianTurn(measured[r]);
          // A figure counts only answers that did the work: a 401 or 429 is fast and would flatter the route.
          const failed = measured[r].flatMap((t) => Object.entries(t.statuses).filter(([code, count]) => count > 0 && !/^2\d\d$/.test(code)));
          if (failed.length > 0) {
            rows.push(unavailable('api', what, 'seed edge', apiBackend(serverName, connections), new Error(`answers other than 2xx: ${JSON.stringify(Object.fromEntries(failed))}`)));
            return;
          }
          const requests = measured[r].reduce((sum, t) => sum + t.requests, 0);
          rows.push({
            part: 'api', what, who: 'seed edge', backend: apiBackend(serverName, connections),
            figures: { rate: { value: result.ratePerSecond, unit: 'req/s' }, p50: { value: result.p50, unit: 'ms' }, p99: { value: result.p99, unit: 'ms' } },
            samples: requests,
            note: `median of ${turns} turns of ${turnSeconds} s (${measured[r].map((t) => Math.round(t.ratePerSecond)).join(', ')} req/s) after ${warmSeconds} s of warm-up, ${connections} connections, loopback; the median turn's status ${JSON.stringify(result.statuses)}`,
          });
        });
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
