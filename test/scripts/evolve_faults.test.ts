// `pnpm evolve` as a subprocess, killed with SIGKILL in each of its steps (pull, train, and publish between the upload
// and the challenger's setting), each kill followed by another run: the last one finishes, no event is counted twice,
// and every model in the registry reads back whole.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import { startDetached, startNodeServer, type DetachedProcess, type NodeServer } from '@seed/edge/node';
import { gridImage, readModel } from '@seed/runtime/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportAll, publishModel, seedModelFile } from '@seed/scripts/lib/local_edge';
import { ROOT_DIR } from '@seed/scripts/lib/paths';
import { testGpus } from '../support/gpu';

const ADMIN_TOKEN = 'evolve-faults-admin';
const EVENTS = 300;
const STEP_TIMEOUT_MS = 90_000;

describe.skipIf(testGpus.length === 0)('pnpm evolve killed in each step', () => {
  let dir: string;
  let edge: NodeServer;
  let proxy: Server;
  let url: string;
  /** Sees each request on its way to the Node entry; answering true stops it there with a 503. */
  let interceptor: ((path: string) => Promise<boolean>) | null = null;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seed-evolve-faults-'));
    edge = await startNodeServer({ port: 0, dataDir: join(dir, 'data'), env: { ADMIN_TOKEN, API_KEYS: 'evolve-faults-client', REWARD_WAIT_SECONDS: '1', EXPLORATION: 'softmax:1.0' } });
    // A pass-through proxy in front of the Node entry, where the test steps in between two requests of evolve.
    proxy = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const path = request.url ?? '/';
      if (await interceptor?.(path)) return void response.writeHead(503).end();
      const headers = Object.fromEntries(['authorization', 'content-type'].flatMap((name) => (request.headers[name] ? [[name, String(request.headers[name])]] : [])));
      try {
        const answer = await fetch(`${edge.url}${path}`, { method: request.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
        const body = Buffer.from(await answer.arrayBuffer());
        response.writeHead(answer.status, { 'Content-Type': answer.headers.get('Content-Type') ?? 'application/octet-stream', 'Content-Length': body.length }).end(body);
      } catch {
        response.writeHead(502).end();
      }
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    await publishModel(edge.url, ADMIN_TOKEN, 'v1', await seedModelFile('v1'));
    // Rewards that any update away from v1's choices improves on: 1 unless the action is v1's greedy one.
    const headers = { 'Content-Type': 'application/json', Authorization: 'Bearer evolve-faults-client' };
    for (let first = 0; first < EVENTS; first += 50) {
      const instances = Array.from({ length: 50 }, (_, i) => ({ pixels: gridImage((first + i) % 100) }));
      const { predictions } = (await (await fetch(`${edge.url}/v1/predict`, { method: 'POST', headers, body: JSON.stringify({ instances }) })).json()) as {
        predictions: { eventId: string; action: number; probabilities: number[] }[];
      };
      for (const { eventId, action, probabilities } of predictions) {
        const value = action === probabilities.indexOf(Math.max(...probabilities)) ? 0 : 1;
        await fetch(`${edge.url}/v1/events/${eventId}/reward`, { method: 'POST', headers, body: JSON.stringify({ value }) });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1100));
  });
  afterAll(async () => {
    await new Promise((resolve) => proxy?.close(resolve));
    await edge?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const state = () => join(dir, 'state');
  const evolve = () =>
    startDetached('pnpm', ['evolve', '--api', url, '--state', state(), '--min-events', '50', '--epochs', '1', '--min-steps', '20'], { cwd: ROOT_DIR, env: { SEED_ADMIN_TOKEN: ADMIN_TOKEN } });

  async function killAtMarker(run: DetachedProcess, marker: string): Promise<void> {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    let exited = false;
    void run.exited.then(() => (exited = true));
    while (!run.output().includes(marker)) {
      if (exited || Date.now() > deadline) throw new Error(`evolve never printed "${marker}":\n${run.output().slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await run.stop('SIGKILL')).toBeNull();
  }

  /** Every model in the registry reads back whole, with the checksum its row records; the active model as given. */
  async function expectRegistryWhole(active: string): Promise<string[]> {
    const reader = { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } };
    const { models } = (await (await fetch(`${url}/v1/models`, reader)).json()) as { models: { version: string; sha256: string; active: boolean }[] };
    for (const model of models) {
      const file = new Uint8Array(await (await fetch(`${url}/v1/models/${model.version}/weights`, reader)).arrayBuffer());
      expect((await readModel(file)).metadata.sha256, model.version).toBe(model.sha256);
    }
    expect(models.filter((m) => m.active).map((m) => m.version)).toEqual([active]);
    return models.map((m) => m.version);
  }

  it('finishes after each kill, counts no event twice and leaves no half-written model', async () => {
    await killAtMarker(evolve(), 'step: pull');
    await killAtMarker(evolve(), 'step: train');
    // A kill in the middle of appending pulled events leaves a torn last line: make one.
    const eventsFile = join(state(), 'events.ndjson');
    const pulled = readFileSync(eventsFile, 'utf8');
    expect(pulled.trim().split('\n')).toHaveLength(EVENTS);
    await writeFile(eventsFile, pulled.slice(0, pulled.length - 500));
    await killAtMarker(evolve(), 'step: train');
    expect(await expectRegistryWhole('v1')).toEqual(['v1']);

    // Publish: killed once the candidate is uploaded, before it is made the challenger.
    let freezing: Promise<number | null> | null = null;
    const publishing = evolve();
    interceptor = async (path) => {
      if (!path.endsWith('/v1/challenger')) return false;
      freezing ??= publishing.stop('SIGKILL');
      await freezing;
      return true;
    };
    expect(await publishing.exited).toBeNull();
    interceptor = null;
    expect(freezing).not.toBeNull();
    expect(await expectRegistryWhole('v1')).toEqual(['v1', 'v2']);

    const last = evolve();
    const code = await last.exited;
    expect(code, last.output().slice(-3000)).toBe(0);
    expect(last.output()).toMatch(/frozen: active v1 \(was v1\), challenger v3/);
    expect(await expectRegistryWhole('v1')).toEqual(['v1', 'v2', 'v3']);
    const { challenger } = (await (await fetch(`${url}/v1/challenger`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { challenger: { version: string } };
    expect(challenger.version).toBe('v3');

    // Every logged event once in the evolve state, in whole lines; one lineage record, from the run that finished.
    const logged = (await exportAll(url, ADMIN_TOKEN)).map((e) => e.eventId as string);
    const lines = readFileSync(eventsFile, 'utf8').trim().split('\n');
    const kept = lines.map((line) => JSON.parse(line).eventId as string);
    expect(kept).toHaveLength(EVENTS);
    expect(new Set(kept)).toEqual(new Set(logged));
    const lineage = readFileSync(join(state(), 'lineage.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lineage).toHaveLength(1);
    expect(lineage[0]).toMatchObject({ decision: 'frozen', version: 'v1', parent: 'v1', frozen: 'v3', eventsTotal: EVENTS });
  });
});
