// The Node entry over HTTP on loopback: `pnpm --filter @seed/edge serve:node --port P --data DIR`, SQLite and files on
// disk; a SIGKILL in the middle of a burst of predictions loses no answered event and corrupts nothing.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { freePort, startDetached, waitForHttp } from '@seed/edge/node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { accessMismatches, ADMIN_TOKEN, json, KEY_SETTINGS, KEYS, modelFile, readExport } from './fixtures';
import { ROOT_DIR } from '@seed/scripts/lib/paths';
import { temporaryDir } from './support';
import { gridImage } from '@seed/runtime/engine';

const WAIT_MS = 1000;
let dataDir: Awaited<ReturnType<typeof temporaryDir>>;
const servers: ReturnType<typeof startDetached>[] = [];

beforeAll(async () => {
  dataDir = await temporaryDir('node-entry');
});
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop('SIGKILL')));
  await dataDir.remove();
});

async function startServer(data = dataDir.path) {
  const port = await freePort();
  const server = startDetached('pnpm', ['--filter', '@seed/edge', 'serve:node', '--port', String(port), '--data', data], {
    cwd: ROOT_DIR,
    // A short wait for rewards, so the events of the burst are exportable soon after.
    env: { ...KEY_SETTINGS, REWARD_WAIT_SECONDS: String(WAIT_MS / 1000), DEFAULT_REWARD: '0' },
  });
  servers.push(server);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`, server, 60_000);
  return { url, server };
}

const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const client = { Authorization: `Bearer ${KEYS.client}` };
const predict = (url: string, eventId: string, seed: number) =>
  fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...client }, body: JSON.stringify({ pixels: gridImage(seed), eventId }) });

it('serves the API, and after a SIGKILL mid-burst keeps every answered event and the registry intact', async () => {
  const first = await startServer();
  expect((await fetch(`${first.url}/v1/models/v1`, { method: 'PUT', headers: admin, body: await modelFile('v1') })).status).toBe(201);
  expect((await fetch(`${first.url}/v1/models/v1/promote`, { method: 'POST', headers: admin })).status).toBe(200);
  const answer = await json(await predict(first.url, 'before-burst', 1));
  expect(answer).toMatchObject({ eventId: 'before-burst', modelVersion: 'v1' });
  const reward = await fetch(`${first.url}/v1/events/before-burst/reward`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...client }, body: '{"value":1}' });
  expect(reward.status).toBe(204);

  // A bounded burst: 60 requests, 6 at a time; the server is killed once 10 have been answered.
  const answered: string[] = [];
  let killed: Promise<unknown> | null = null;
  const ids = Array.from({ length: 60 }, (_, i) => `burst-${i}`);
  const worker = async () => {
    for (let id = ids.shift(); id; id = ids.shift()) {
      try {
        const response = await predict(first.url, id, 2);
        if (response.status === 200) answered.push(id);
      } catch {
        // The connection died with the server.
      }
      if (answered.length >= 10 && !killed) killed = first.server.stop('SIGKILL');
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  await killed;
  expect(answered.length).toBeGreaterThanOrEqual(10);

  const db = new Database(join(dataDir.path, 'seed.sqlite'));
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  db.close();

  await new Promise((resolve) => setTimeout(resolve, WAIT_MS));
  const second = await startServer();
  expect(await json(await fetch(`${second.url}/health`))).toMatchObject({ model: { version: 'v1' } });
  const exported = await readExport(await fetch(`${second.url}/v1/events?limit=1000`, { headers: admin }));
  const logged = new Set(exported.events.map((e) => e.eventId));
  expect(answered.filter((id) => !logged.has(id))).toEqual([]);
  expect(exported.events[0]).toMatchObject({ eventId: 'before-burst', reward: 1, rewardSource: 'client' });
  const weights = await fetch(`${second.url}/v1/models/v1/weights`, { headers: { Authorization: `Bearer ${KEYS.reader}` } });
  expect(Buffer.from(await weights.arrayBuffer()).equals(await modelFile('v1'))).toBe(true);
  await second.server.stop('SIGTERM');
});

it('answers every route × every caller as documented over HTTP, with the security headers', async () => {
  const data = await temporaryDir('node-entry-access');
  try {
    const { url, server } = await startServer(data.path);
    expect((await fetch(`${url}/v1/models/v1`, { method: 'PUT', headers: admin, body: await modelFile('v1') })).status).toBe(201);
    expect((await fetch(`${url}/v1/models/v1/promote`, { method: 'POST', headers: admin })).status).toBe(200);
    const call = (method: string, path: string, init: { token?: string; json?: unknown; body?: Uint8Array }) =>
      fetch(`${url}${path}`, {
        method,
        body: init.json === undefined ? init.body : JSON.stringify(init.json),
        headers: { ...(init.json !== undefined && { 'Content-Type': 'application/json' }), ...(init.token && { Authorization: `Bearer ${init.token}` }) },
      });
    expect(await accessMismatches(call, 'v1')).toEqual([]);
    // The body read both ways (see limitBody): with its Content-Length at once, and chunked, without one, as a stream.
    const body = (eventId: string) => JSON.stringify({ pixels: gridImage(3), eventId });
    const chunked = (text: string) => new Blob([text]).stream();
    const answers = await Promise.all([
      fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...client }, body: body('declared') }),
      fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...client }, body: chunked(body('chunked')), duplex: 'half' } as RequestInit),
    ]);
    const [declared, streamed] = await Promise.all(answers.map((answer) => json(answer)));
    expect([answers[0].status, answers[1].status, declared.eventId, streamed.eventId]).toEqual([200, 200, 'declared', 'chunked']);
    expect(streamed.probabilities).toEqual(declared.probabilities);
    const { headers } = await fetch(`${url}/health`);
    expect([headers.get('Content-Security-Policy'), headers.get('X-Content-Type-Options'), headers.get('Referrer-Policy')]).toEqual([
      expect.stringContaining("frame-ancestors 'none'"),
      'nosniff',
      'no-referrer',
    ]);
    await server.stop('SIGTERM');
  } finally {
    await data.remove();
  }
});

it('logs one warning line at start when ALLOW_ANONYMOUS=true, and never a key', async () => {
  const data = await temporaryDir('node-entry-anonymous');
  const port = await freePort();
  const server = startDetached('pnpm', ['--filter', '@seed/edge', 'serve:node', '--port', String(port), '--data', data.path], {
    cwd: ROOT_DIR,
    env: { ...KEY_SETTINGS, ALLOW_ANONYMOUS: 'true' },
  });
  servers.push(server);
  try {
    await waitForHttp(`http://127.0.0.1:${port}/health`, server, 60_000);
    const warnings = server.output().split('\n').filter((line) => line.includes('ALLOW_ANONYMOUS'));
    expect(warnings).toEqual([expect.stringMatching(/^warning: ALLOW_ANONYMOUS=true/)]);
    for (const key of Object.values(KEYS)) expect(server.output().includes(key)).toBe(false);
    await server.stop('SIGTERM');
  } finally {
    await data.remove();
  }
});
