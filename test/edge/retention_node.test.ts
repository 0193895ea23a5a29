// The Node entry prunes on a timer (RETENTION_DAYS), as the Workers entry does on its cron trigger: read events older
// than the setting go without an export, unread ones stay. EXPLORATION_SEED reaches the app from the environment.
import { envFrom, startNodeServer } from '@seed/edge/node';
import { gridImage } from '@seed/runtime/engine';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN_TOKEN, KEYS, modelFile, readExport } from './fixtures';
import { temporaryDir } from './support';

let dataDir: Awaited<ReturnType<typeof temporaryDir>>;
beforeAll(async () => {
  dataDir = await temporaryDir('retention-node');
});
afterAll(() => dataDir?.remove());

it('prunes read events older than RETENTION_DAYS on its timer, without an export; unread events stay', async () => {
  const clock = { now: Date.now() };
  const env = { ADMIN_TOKEN, API_KEYS: KEYS.client, RETENTION_DAYS: '1', REWARD_WAIT_SECONDS: '0', EXPLORATION: 'greedy' };
  const server = await startNodeServer({ port: 0, dataDir: join(dataDir.path, 'data'), env, pruneEveryMs: 20, now: () => clock.now });
  try {
    const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
    const file = await modelFile('v1');
    expect((await fetch(`${server.url}/v1/models/v1`, { method: 'PUT', headers: admin, body: file })).status).toBe(201);
    expect((await fetch(`${server.url}/v1/models/v1/promote`, { method: 'POST', headers: admin })).status).toBe(200);
    const send = async (eventId: string) => {
      const response = await fetch(`${server.url}/v1/predict`, {
        method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEYS.client}` }, body: JSON.stringify({ pixels: gridImage(1), eventId }),
      });
      expect(response.status).toBe(200);
    };
    const exportFrom = async (after: string) => readExport(await fetch(`${server.url}/v1/events?after=${after}`, { headers: admin }));
    await send('a');
    await send('b');
    // Read, and asked again from the cursor: the evolution has read a and b. Then c, unread.
    await exportFrom((await exportFrom('0')).end.nextCursor as string);
    await send('c');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await exportFrom('0')).events.map((e) => e.eventId)).toEqual(['a', 'b', 'c']);
    clock.now += 2 * 86_400_000;
    // A few timer ticks; an export from the start answers before its own prune, so it shows what the timer left.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await exportFrom('0')).events.map((e) => e.eventId)).toEqual(['c']);
  } finally {
    await server.close();
  }
});

it('the Node entry reads EXPLORATION_SEED from the environment, with the other settings', () => {
  expect(envFrom({ EXPLORATION_SEED: 's', RETENTION_DAYS: '3', UNRELATED: 'x' })).toEqual({ EXPLORATION_SEED: 's', RETENTION_DAYS: '3' });
});
