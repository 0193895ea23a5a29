// Node-side helpers for the edge tests: the two storages in process, the app over one of them, paths and settings.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyMigrations, createApp, d1Sql, d1Storage, type Env, type Storage, type WorkerEnv } from '@seed/edge';
import { openNodeStorage, readMigrations, simdEngineModule, WRANGLER_OFFLINE_ENV, type NodeStorage } from '@seed/edge/node';
import { Random } from '@seed/runtime/engine';
import { ROOT_DIR } from '@seed/scripts/lib/paths';
import { getPlatformProxy } from 'wrangler';

export const EDGE_DIR = join(ROOT_DIR, 'edge');
/** The engine module the Node entry serves with; tests build their expected answers on it too. */
export const simdEngine = await simdEngineModule();

export async function temporaryDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `seed-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** A storage the in-process tests can empty between tests. */
export interface StorageTarget {
  name: 'sqlite' | 'd1';
  /** Empty storage (the same database, cleared, or a new one). */
  fresh(): Promise<Storage>;
  close(): Promise<void>;
}

/** SQLite and a weights folder, as the Node entry uses them: a new data directory each time. */
export async function sqliteTarget(): Promise<StorageTarget> {
  let current: { storage: NodeStorage; dir: Awaited<ReturnType<typeof temporaryDir>> } | null = null;
  const close = async () => {
    await current?.storage.close();
    await current?.dir.remove();
    current = null;
  };
  return {
    name: 'sqlite',
    async fresh() {
      await close();
      const dir = await temporaryDir('sqlite');
      current = { storage: await openNodeStorage(dir.path), dir };
      return current.storage;
    },
    close,
  };
}

/** D1 and R2 from wrangler's local platform proxy (workerd), in memory, with the migrations applied. */
export async function d1Target(): Promise<StorageTarget> {
  Object.assign(process.env, WRANGLER_OFFLINE_ENV);
  const proxy = await getPlatformProxy<WorkerEnv>({ configPath: join(EDGE_DIR, 'wrangler.toml'), persist: false });
  const sql = d1Sql(proxy.env.DB);
  await applyMigrations(sql, await readMigrations());
  return {
    name: 'd1',
    async fresh() {
      await sql.transaction(['rewards', 'events', 'challenger', 'promotions', 'models', 'model_counters'].map((table) => ({ sql: `DELETE FROM ${table}`, params: [] })));
      return d1Storage(proxy.env.DB, proxy.env.WEIGHTS);
    },
    close: () => proxy.dispose(),
  };
}

export interface RequestOptions {
  json?: unknown;
  body?: RequestInit['body'];
  token?: string;
  headers?: Record<string, string>;
}

/** The app in process over a storage, with a clock the test moves and seeded exploration draws. */
export function edgeHarness(storage: Storage, settings: Env = {}, seed = 7) {
  const clock = { now: Date.UTC(2026, 3, 1) };
  const random = new Random(seed);
  const app = createApp<Env>({ storage: () => storage, simdEngine, now: () => clock.now, random: () => random.next() });
  const request = (method: string, path: string, { json, body, token, headers }: RequestOptions = {}) =>
    app.request(
      path,
      {
        method,
        body: json === undefined ? body : JSON.stringify(json),
        headers: { ...(json !== undefined && { 'Content-Type': 'application/json' }), ...(token && { Authorization: `Bearer ${token}` }), ...headers },
      },
      settings,
    );
  return { app, clock, request };
}
