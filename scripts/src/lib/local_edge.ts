// The edge API started locally for the fuzz, soak and fault runs: the Node entry or `pnpm dev` (wrangler dev), on a free
// loopback port, storage in a folder of the caller's. Keys and tokens reach the server through its environment (Node) or
// an env file (wrangler), never its command line, which pnpm echoes into the log.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT_DIR } from './paths';
import { freePort, startDetached, waitForHttp, WRANGLER_OFFLINE_ENV, type DetachedProcess } from '@seed/edge/node';
import { buildNetwork, initialParameters, Random, SEED_ARCHITECTURE, writeModel } from '@seed/runtime/engine';


export type EntryName = 'node' | 'wrangler';
export const ENTRY_NAMES: EntryName[] = ['node', 'wrangler'];

export interface EdgeSettings {
  adminToken: string;
  apiKeys: string[];
  readKeys?: string[];
  rewardWaitSeconds: number;
  rateLimitPerMinute?: number;
  defaultReward?: number;
  exploration?: string;
  /** EXPLORATION_SEED: reproducible exploration draws (experiments only). */
  explorationSeed?: string;
}

export interface LocalEdge {
  entry: EntryName;
  url: string;
  dataDir: string;
  /** Everything the server printed so far. */
  output(): string;
  /** Signals the server's process group (SIGTERM by default) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const STARTUP_MS = 120_000;

export function parseEntries(text: string): EntryName[] {
  const entries = text === 'both' ? ENTRY_NAMES : [text];
  if (!entries.every((entry): entry is EntryName => (ENTRY_NAMES as string[]).includes(entry))) throw new Error(`--target must be node, wrangler or both, not ${JSON.stringify(text)}`);
  return entries;
}

/** Starts an entry over `dataDir` (created if needed; a second start over the same folder finds the same data). */
export async function startEdge(entry: EntryName, settings: EdgeSettings, dataDir: string): Promise<LocalEdge> {
  await mkdir(dataDir, { recursive: true });
  const port = await freePort();
  const plain = {
    REWARD_WAIT_SECONDS: String(settings.rewardWaitSeconds),
    DEFAULT_REWARD: String(settings.defaultReward ?? 0),
    EXPLORATION: settings.exploration ?? 'epsilon:0.1',
    RATE_LIMIT_PER_MINUTE: String(settings.rateLimitPerMinute ?? 0),
  };
  const secrets = {
    ADMIN_TOKEN: settings.adminToken, API_KEYS: settings.apiKeys.join(','), READ_KEYS: (settings.readKeys ?? []).join(','),
    ...(settings.explorationSeed && { EXPLORATION_SEED: settings.explorationSeed }),
  };
  let server: DetachedProcess;
  if (entry === 'node') {
    // What `pnpm --filter @seed/edge serve:node` runs, without pnpm's start-up.
    server = startDetached(join(ROOT_DIR, 'edge/node_modules/.bin/tsx'), ['src/node/main.ts', '--port', String(port), '--data', dataDir], {
      cwd: join(ROOT_DIR, 'edge'),
      env: { ...plain, ...secrets },
    });
  } else {
    const envFile = join(dataDir, 'secrets.env');
    await writeFile(envFile, Object.entries(secrets).map(([name, value]) => `${name}=${value}\n`).join(''), { mode: 0o600 });
    await chmod(envFile, 0o600);
    const vars = Object.entries(plain).flatMap(([name, value]) => ['--var', `${name}:${value}`]);
    const args = ['dev', '--port', String(port), '--inspector-port', String(await freePort()), '--persist-to', join(dataDir, 'state'), '--env-file', envFile, ...vars];
    server = startDetached('pnpm', args, { cwd: ROOT_DIR, env: WRANGLER_OFFLINE_ENV });
  }
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/health`, server, STARTUP_MS);
  } catch (error) {
    await server.stop('SIGKILL');
    throw error;
  }
  return {
    entry,
    url,
    dataDir,
    output: () => server.output(),
    stop: async (signal = 'SIGTERM') => {
      await server.stop(signal);
    },
  };
}

/** A weights file of the seed network with seeded initial parameters: the same arguments give the same bytes. */
export async function seedModelFile(version: string, seed = 1): Promise<Uint8Array> {
  const network = buildNetwork(SEED_ARCHITECTURE);
  return writeModel(network, initialParameters(network, seed), { version, created: '2026-04-01T00:00:00.000Z', metrics: { seed } });
}

/** Uploads and promotes a model; throws with the server's answer if either step fails. */
export async function publishModel(url: string, adminToken: string, version: string, file: Uint8Array): Promise<void> {
  const headers = { Authorization: `Bearer ${adminToken}` };
  for (const [path, init] of [[`/v1/models/${version}`, { method: 'PUT', body: file }], [`/v1/models/${version}/promote`, { method: 'POST' }]] as const) {
    const response = await fetch(`${url}${path}`, { ...init, headers });
    const text = await response.text();
    if (!response.ok) throw new Error(`${init.method} ${path}: ${response.status} ${text}`);
  }
}

/** 784 values on the 1/255 grid, so the logged image is exactly what was sent. */

/** Reads every event the admin export holds (after the reward wait, so none is held back). */
export async function exportAll(url: string, adminToken: string): Promise<Record<string, any>[]> {
  const events: Record<string, any>[] = [];
  let cursor = '0';
  for (;;) {
    const response = await fetch(`${url}/v1/events?after=${cursor}&limit=10000`, { headers: { Authorization: `Bearer ${adminToken}` } });
    if (!response.ok) throw new Error(`export: ${response.status} ${await response.text()}`);
    const lines = (await response.text()).split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>);
    const end = lines.pop();
    if (end?.type !== 'end') throw new Error('export: the stream ended without its end line');
    events.push(...lines);
    if (end.nextCursor === cursor || lines.length === 0) return events;
    cursor = end.nextCursor;
  }
}
