// Faults: refused uploads change nothing, a storage failure is a 503 and never a wrong answer (both storages, in
// process), and the Node entry killed with SIGKILL in the middle of a load run keeps every acknowledged event and reward.
import { readdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { applyMigrations, d1Sql, d1Storage, type Env, type Storage, type WorkerEnv } from '@seed/edge';
import { openNodeStorage, readMigrations, startNodeServer, WRANGLER_OFFLINE_ENV } from '@seed/edge/node';
import { buildNetwork, gridImage, initialParameters, type LayerSpec, SEED_ARCHITECTURE, sha256Hex, writeModel } from '@seed/runtime/engine';
import { getPlatformProxy } from 'wrangler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withHeader } from '@seed/scripts/reliability/fuzz_weights';
import { publishModel, seedModelFile, startEdge, type EdgeSettings, type LocalEdge } from '@seed/scripts/lib/local_edge';
import { auditLoad, runLoad, type LoadLedger } from '@seed/scripts/reliability/soak';
import { ADMIN_TOKEN, json, modelFile, readExport } from './fixtures';
import { EDGE_DIR, edgeHarness, temporaryDir } from './support';

const SETTINGS: Env = { ADMIN_TOKEN, API_KEYS: 'faults-key', REWARD_WAIT_SECONDS: '60' };

/** A storage the test can take away, as a crash of the database would. */
interface BreakableStorage {
  storage: Storage;
  /** Makes every later storage call fail. */
  fail(): Promise<void>;
  /** The same data opened again, where the store keeps it (null for D1 in memory). */
  reopen(): Promise<Storage | null>;
  weightFiles(): Promise<string[]>;
  close(): Promise<void>;
}

async function sqliteStorage(): Promise<BreakableStorage> {
  const dir = await temporaryDir('faults-sqlite');
  let storage = await openNodeStorage(dir.path);
  let open = true;
  return {
    storage,
    fail: async () => {
      await storage.close();
      open = false;
    },
    reopen: async () => {
      storage = await openNodeStorage(dir.path);
      open = true;
      return storage;
    },
    weightFiles: async () => (await readdir(join(dir.path, 'weights'), { recursive: true })).sort(),
    close: async () => {
      if (open) await storage.close();
      await dir.remove();
    },
  };
}

async function d1StorageInMemory(): Promise<BreakableStorage> {
  Object.assign(process.env, WRANGLER_OFFLINE_ENV);
  const proxy = await getPlatformProxy<WorkerEnv>({ configPath: join(EDGE_DIR, 'wrangler.toml'), persist: false });
  await applyMigrations(d1Sql(proxy.env.DB), await readMigrations());
  let disposed = false;
  return {
    storage: d1Storage(proxy.env.DB, proxy.env.WEIGHTS),
    fail: async () => {
      disposed = true;
      await proxy.dispose();
    },
    reopen: async () => null,
    weightFiles: async () => (await proxy.env.WEIGHTS.list()).objects.map((object) => object.key).sort(),
    close: async () => {
      if (!disposed) await proxy.dispose();
    },
  };
}

/** A valid weights file of another architecture. */
async function fileOf(version: string, layers: LayerSpec[]): Promise<Uint8Array> {
  const network = buildNetwork(layers);
  return writeModel(network, initialParameters(network, 3), { version, created: '2026-04-01T00:00:00.000Z' });
}


const input: LayerSpec = { kind: 'input', shape: [1, 28, 28] };

describe.each([
  ['SQLite + files', sqliteStorage],
  ['D1 + R2', d1StorageInMemory],
])('faults on %s', (_, open) => {
  let store: BreakableStorage;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(() => store?.close());

  it('refuses truncated, bit-flipped, mislabelled and unservable weights, and leaves the registry and active model as they were', async () => {
    const { request } = edgeHarness(store.storage, SETTINGS);
    const v1 = await modelFile('v1');
    expect((await request('PUT', '/v1/models/v1', { body: v1, token: ADMIN_TOKEN })).status).toBe(201);
    expect((await request('POST', '/v1/models/v1/promote', { token: ADMIN_TOKEN })).status).toBe(200);
    const snapshot = async () => ({
      models: await json(await request('GET', '/v1/models', { token: ADMIN_TOKEN })),
      active: await json(await request('GET', '/v1/model')),
      weights: await sha256Hex(new Uint8Array(await (await request('GET', '/v1/models/v1/weights', { token: ADMIN_TOKEN })).arrayBuffer())),
      files: await store.weightFiles(),
    });
    const before = await snapshot();
    expect(before.files.filter((file) => file.endsWith('.safetensors'))).toHaveLength(1);

    const v2 = await modelFile('v2', 2, 'v1');
    const flipped = (at: number) => {
      const copy = v2.slice();
      copy[at] ^= 0x04;
      return copy;
    };
    const notFinite = new Map(initialParameters(buildNetwork(SEED_ARCHITECTURE), 2));
    notFinite.get('fc2.bias')![0] = Number.POSITIVE_INFINITY;
    const cases: [string, string, Uint8Array, number, string][] = [
      ['truncated in the data', 'v2', v2.subarray(0, v2.length - 1000), 400, 'invalid_model'],
      ['truncated in the header', 'v2', v2.subarray(0, 200), 400, 'invalid_model'],
      ['a bit flipped in the data', 'v2', flipped(v2.length - 10), 400, 'invalid_model'],
      ['a bit flipped in the header', 'v2', flipped(40), 400, 'invalid_model'],
      ['labelled v2, uploaded as v3', 'v3', v2, 400, 'version_mismatch'],
      ['another format', 'v2', withHeader(v2, (h) => (h.__metadata__.format = 'seed-cnn/0')), 400, 'invalid_model'],
      ['a shape the architecture does not have', 'v2', withHeader(v2, (h) => (h['fc2.weight'].shape = [64, 10])), 400, 'invalid_model'],
      ['a checksum of other data', 'v2', withHeader(v2, (h) => (h.__metadata__.sha256 = '0'.repeat(64))), 400, 'invalid_model'],
      ['a value that is not finite', 'v2', await writeModel(buildNetwork(SEED_ARCHITECTURE), notFinite, { version: 'v2' }), 400, 'invalid_model'],
      ['32×32 inputs', 'v2', await fileOf('v2', [{ kind: 'input', shape: [1, 32, 32] }, { kind: 'flatten' }, { kind: 'dense', name: 'p', inFeatures: 1024, outFeatures: 10, head: 'policy' }]), 400, 'invalid_model'],
      ['9 classes', 'v2', await fileOf('v2', [input, { kind: 'flatten' }, { kind: 'dense', name: 'p', inFeatures: 784, outFeatures: 9, head: 'policy' }]), 400, 'invalid_model'],
      ['too much work per image', 'v2', await fileOf('v2', [
        input, { kind: 'conv2d', name: 'c', inChannels: 1, outChannels: 200, kernelSize: 3, stride: 1, padding: 0 }, { kind: 'maxpool2d', kernelSize: 2, stride: 2 },
        { kind: 'flatten' }, { kind: 'dense', name: 'p', inFeatures: 33800, outFeatures: 10, head: 'policy' },
      ]), 400, 'invalid_model'],
      ['v1 again with other weights', 'v1', await modelFile('v1', 5), 409, 'version_exists'],
      ['over 16 MiB', 'v2', new Uint8Array(16 * 1024 * 1024 + 1), 413, 'too_large'],
    ];
    for (const [what, version, body, status, code] of cases) {
      const response = await request('PUT', `/v1/models/${version}`, { body, token: ADMIN_TOKEN });
      const answer = await json(response);
      expect([what, response.status, answer.error?.code], JSON.stringify(answer)).toEqual([what, status, code]);
      expect(answer.error.message, what).not.toContain('\n');
    }
    const promoteUnknown = await request('POST', '/v1/models/v9/promote', { token: ADMIN_TOKEN });
    expect([promoteUnknown.status, (await json(promoteUnknown)).error.code]).toEqual([404, 'unknown_model']);
    expect((await request('POST', '/v1/models/v2/promote', { token: ADMIN_TOKEN })).status).toBe(404);
    expect(await snapshot()).toEqual(before);
    const answer = await request('POST', '/v1/predict', { json: { pixels: gridImage(1) }, token: 'faults-key' });
    expect((await json(answer)).modelVersion).toBe('v1');
  });

  it('answers a storage failure during predict with a 503 JSON error, not a wrong answer, and logs nothing', async () => {
    const { request, clock } = edgeHarness(store.storage, SETTINGS);
    // v1 is in the registry already when the test above ran: stored again (200) or added (201).
    expect([200, 201]).toContain((await request('PUT', '/v1/models/v1', { body: await modelFile('v1'), token: ADMIN_TOKEN })).status);
    expect((await request('POST', '/v1/models/v1/promote', { token: ADMIN_TOKEN })).status).toBe(200);
    const first = await json(await request('POST', '/v1/predict', { json: { pixels: gridImage(1), eventId: 'before' }, token: 'faults-key' }));
    expect(first.eventId).toBe('before');
    const exportedIds = async (harness: { request: typeof request; clock: typeof clock }) => {
      harness.clock.now += 61_000;
      return (await readExport(await harness.request('GET', '/v1/events', { token: ADMIN_TOKEN }))).events.map((e) => e.eventId);
    };
    const loggedBefore = await exportedIds({ request, clock });
    expect(loggedBefore).toContain('before');

    await store.fail();
    const calls: [string, string, Parameters<typeof request>[2]][] = [
      ['POST', '/v1/predict', { json: { pixels: gridImage(2), eventId: 'during' }, token: 'faults-key' }],
      ['POST', '/v1/predict', { json: { pixels: gridImage(3) }, token: 'faults-key' }],
      ['POST', '/v1/predict', { json: { instances: [{ pixels: gridImage(4) }, { pixels: gridImage(5) }] }, token: 'faults-key' }],
      ['POST', '/v1/events/before/reward', { json: { value: 1 }, token: 'faults-key' }],
      ['GET', '/health', {}],
      ['GET', '/v1/models', { token: ADMIN_TOKEN }],
      ['GET', '/v1/events', { token: ADMIN_TOKEN }],
    ];
    for (const [method, path, options] of calls) {
      const response = await request(method, path, options);
      const text = await response.text();
      expect([method, path, response.status, response.headers.get('Content-Type')]).toEqual([method, path, 503, 'application/json']);
      expect(JSON.parse(text)).toEqual({ error: { code: 'storage_unavailable', message: expect.any(String) } });
      expect(text).not.toMatch(/faults-key|test-admin-token|\bat /);
    }

    const reopened = await store.reopen();
    if (reopened) expect(await exportedIds(edgeHarness(reopened, SETTINGS))).toEqual(loggedBefore);
  });
});

describe('the Node entry killed with SIGKILL in the middle of a load run', () => {
  const settings: EdgeSettings = { adminToken: 'kill-admin', apiKeys: ['kill-key'], rewardWaitSeconds: 1 };
  let dataDir: Awaited<ReturnType<typeof temporaryDir>>;
  let edge: LocalEdge | undefined;
  afterAll(async () => {
    await edge?.stop('SIGKILL');
    await dataDir?.remove();
  });

  it('keeps every acknowledged event and reward, passes the integrity check and answers after a restart', async () => {
    dataDir = await temporaryDir('faults-kill');
    edge = await startEdge('node', settings, dataDir.path);
    await publishModel(edge.url, settings.adminToken, 'v1', await seedModelFile('v1'));
    const ledgers: LoadLedger[] = [];
    for (let round = 0; round < 1; round++) {
      const running = edge;
      let killed: Promise<void> | null = null;
      const ledger = await runLoad(running.url, {
        clients: 6, requests: 400, seconds: 60, apiKey: settings.apiKeys[0], seed: round + 1,
        onAcknowledged: (progress) => {
          if (progress.events.size >= 40 && !killed) killed = running.stop('SIGKILL');
        },
      });
      await killed;
      ledgers.push(ledger);
      expect(ledger.events.size).toBeGreaterThanOrEqual(40);
      // Requests sent after the kill failed: the run did not end before it.
      expect(Object.values(ledger.failures).some((failures) => Object.keys(failures).length > 0)).toBe(true);

      const db = new Database(join(dataDir.path, 'seed.sqlite'), { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      db.close();
      edge = await startEdge('node', settings, dataDir.path);
      expect(await json(await fetch(`${edge.url}/health`))).toMatchObject({ status: 'ok', model: { version: 'v1' } });
    }

    await new Promise((resolve) => setTimeout(resolve, settings.rewardWaitSeconds * 1000 + 200));
    const all: LoadLedger = { ...ledgers[0], events: new Map(ledgers.flatMap((l) => [...l.events])), rewards: new Map(ledgers.flatMap((l) => [...l.rewards])) };
    const audit = await auditLoad(edge.url, settings.adminToken, all);
    console.log(`SIGKILL under load: ${JSON.stringify(audit)}`);
    expect(audit.events).toMatchObject({ lost: 0, duplicated: 0, differing: 0 });
    expect(audit.events.stored).toBe(audit.events.acknowledged);
    expect(audit.rewards).toMatchObject({ lost: 0, differing: 0 });
    expect(audit.rewards.acknowledged).toBeGreaterThan(0);
  });
});

describe('the Node entry on requests that are not valid HTTP', () => {
  /** Sends raw bytes, returns everything the server answers before it closes (or a second passes). */
  const rawExchange = (port: number, bytes: string) =>
    new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk));
      socket.on('close', () => resolve(answer));
      socket.on('error', () => resolve(answer));
      socket.write(bytes);
      setTimeout(() => socket.end(), 1000);
    });

  it('answers a malformed request line, header or Host with the JSON error shape', async () => {
    const dir = await temporaryDir('raw-http');
    const server = await startNodeServer({ port: 0, dataDir: dir.path, env: {} });
    try {
      const port = Number(new URL(server.url).port);
      const cases: [string, string, number, string][] = [
        ['not HTTP', 'GARBAGE\r\n\r\n', 400, 'bad_request'],
        ['a Content-Length that is not a number', 'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 400, 'bad_request'],
        ['both Content-Length and chunked', 'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'bad_request'],
        ['headers over the limit', `GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
        ['a Host no URL can be built from', 'GET /health HTTP/1.1\r\nHost: a b\r\n\r\n', 400, 'bad_request'],
      ];
      for (const [what, bytes, status, code] of cases) {
        const answer = await rawExchange(port, bytes);
        const [head, body] = answer.split('\r\n\r\n');
        expect([what, head.split('\r\n')[0]]).toEqual([what, expect.stringContaining(`HTTP/1.1 ${status} `)]);
        expect(head.toLowerCase(), what).toContain('content-type: application/json');
        expect(JSON.parse(body), what).toEqual({ error: { code, message: expect.any(String) } });
      }
    } finally {
      await server.close();
      await dir.remove();
    }
  });
});
