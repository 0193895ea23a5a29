// End to end: `pnpm dev` (wrangler dev, local D1 and R2 on disk) on a free loopback port, called over HTTP.
import { readdir } from 'node:fs/promises';
import { freePort, startDetached, waitForHttp, WRANGLER_OFFLINE_ENV } from '@seed/edge/node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN_TOKEN, json, KEYS, modelFile, readExport } from './fixtures';
import { ROOT_DIR } from '@seed/scripts/lib/paths';
import { temporaryDir } from './support';
import { gridImage } from '@seed/runtime/engine';

let state: Awaited<ReturnType<typeof temporaryDir>>;
let server: ReturnType<typeof startDetached>;
let url: string;

beforeAll(async () => {
  state = await temporaryDir('wrangler-dev');
  const [port, inspectorPort] = [await freePort(), await freePort()];
  server = startDetached(
    'pnpm',
    ['dev', '--port', String(port), '--inspector-port', String(inspectorPort), '--persist-to', state.path, '--var', `ADMIN_TOKEN:${ADMIN_TOKEN}`, '--var', `API_KEYS:${KEYS.client}`, '--var', `READ_KEYS:${KEYS.reader}`],
    { cwd: ROOT_DIR, env: WRANGLER_OFFLINE_ENV },
  );
  url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`, server, 90_000);
});
afterAll(async () => {
  await server?.stop('SIGTERM');
  await state?.remove();
});

const postJson = (body: unknown) => ({ method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEYS.client}` }, body: JSON.stringify(body) });
const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const reader = { Authorization: `Bearer ${KEYS.reader}` };

it('uploads, promotes, predicts, rewards and exports over HTTP, with D1 and R2 kept on disk', async () => {
  expect(await json(await fetch(`${url}/health`))).toEqual({ status: 'ok', model: null });
  const noModel = await fetch(`${url}/v1/predict`, postJson({ pixels: gridImage(1) }));
  expect([noModel.status, (await json(noModel)).error.code]).toEqual([503, 'no_model']);

  const file = await modelFile('v1');
  expect((await fetch(`${url}/v1/models/v1`, { method: 'PUT', headers: admin, body: file })).status).toBe(201);
  expect((await fetch(`${url}/v1/models/v1/promote`, { method: 'POST', headers: admin })).status).toBe(200);
  expect(Buffer.from(await (await fetch(`${url}/v1/models/v1/weights`, { headers: reader })).arrayBuffer()).equals(file)).toBe(true);

  const single = await json(await fetch(`${url}/v1/predict`, postJson({ pixels: gridImage(1), eventId: 'e2e-1' })));
  expect(single).toMatchObject({ eventId: 'e2e-1', modelVersion: 'v1', probabilities: expect.any(Array) });
  const { predictions } = await json(await fetch(`${url}/v1/predict`, postJson({ instances: [2, 3, 4].map((seed) => ({ pixels: gridImage(seed) })) })));
  expect(predictions).toHaveLength(3);
  for (const eventId of ['e2e-1', ...predictions.map((p: { eventId: string }) => p.eventId)]) {
    expect((await fetch(`${url}/v1/events/${eventId}/reward`, postJson({ value: 1 }))).status).toBe(204);
  }
  expect((await fetch(`${url}/v1/events/e2e-1/reward`, postJson({ value: 0 }))).status).toBe(409);

  const exported = await readExport(await fetch(`${url}/v1/events`, { headers: admin }));
  expect(exported.events.map((e) => e.eventId)).toEqual(['e2e-1', ...predictions.map((p: { eventId: string }) => p.eventId)]);
  expect(exported.events.every((e) => e.reward === 1 && e.rewardSource === 'client')).toBe(true);
  expect(exported.nextCursor).toBe(exported.end.nextCursor);

  const metrics = await (await fetch(`${url}/metrics`, { headers: reader })).text();
  expect(metrics).toContain('seed_predictions_total{model_version="v1"} 4');
  // The embedded default: both D1 and R2 live under the persist folder.
  expect((await readdir(`${state.path}/v3`)).sort()).toEqual(expect.arrayContaining(['d1', 'r2']));
});

it('serves the page and the API with the security headers: no framing, no sniffing, no referrer', async () => {
  for (const path of ['/', '/models', '/draw.js', '/health']) {
    const { headers } = await fetch(`${url}${path}`);
    expect([path, headers.get('Content-Security-Policy'), headers.get('X-Content-Type-Options'), headers.get('Referrer-Policy')]).toEqual([
      path,
      expect.stringContaining("frame-ancestors 'none'"),
      'nosniff',
      'no-referrer',
    ]);
  }
});
