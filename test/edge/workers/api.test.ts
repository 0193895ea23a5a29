// The Workers entry inside workerd (@cloudflare/vitest-pool-workers) with its D1 and R2 bindings from wrangler.toml.
import { applyD1Migrations } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { gridImage, readModel, softmaxRows, WasmEngine } from '@seed/runtime/engine';
import simdEngine from '@seed/runtime/engine/simd_engine.wasm';
import { beforeAll, expect, it } from 'vitest';
import { app } from '../../../edge/src/worker';
import { accessMismatches, json, KEYS, modelFile, readExport } from '../fixtures';

const admin = { Authorization: `Bearer ${env.ADMIN_TOKEN}` };
const call = (path: string, init?: RequestInit) => exports.default.fetch(`http://edge${path}`, init);
const client = { Authorization: `Bearer ${KEYS.client}` };
const reader = { Authorization: `Bearer ${KEYS.reader}` };
const postJson = (path: string, body: unknown) => call(path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...client }, body: JSON.stringify(body) });

beforeAll(async () => {
  await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
});

it('stores weights in R2 and registry rows in D1, and serves the SIMD engine', async () => {
  const file = await modelFile('v1');
  expect((await call('/v1/models/v1', { method: 'PUT', headers: admin, body: file })).status).toBe(201);
  expect((await call('/v1/models/v1/promote', { method: 'POST', headers: admin })).status).toBe(200);

  const stored = await env.WEIGHTS.list({ prefix: 'models/v1/' });
  expect(stored.objects.map((o) => o.size)).toEqual([file.length]);
  const row = await env.DB.prepare('SELECT version, size_bytes FROM models').first();
  expect(row).toEqual({ version: 'v1', size_bytes: file.length });

  const pixels = gridImage(1);
  const answer = await json(await postJson('/v1/predict', { pixels, eventId: 'workers-1' }));
  // The Worker serves with the SIMD engine, from the .wasm bundled with it.
  const engine = new WasmEngine(simdEngine, await readModel(file));
  expect(answer.probabilities).toEqual(Array.from(softmaxRows(engine.logits(Float32Array.from(pixels), 1), 1, 10)));
  expect(answer.modelVersion).toBe('v1');
  // The retry answers from the log.
  expect(await json(await postJson('/v1/predict', { pixels: gridImage(2), eventId: 'workers-1' }))).toEqual(answer);
});

it('logs events in D1, takes rewards once and exports them as NDJSON', async () => {
  const { predictions } = await json(await postJson('/v1/predict', { instances: [{ pixels: gridImage(3) }, { pixels: gridImage(4) }] }));
  for (const { eventId } of [{ eventId: 'workers-1' }, ...predictions]) {
    expect((await postJson(`/v1/events/${eventId}/reward`, { value: 1 })).status).toBe(204);
  }
  expect((await postJson('/v1/events/workers-1/reward', { value: 1 })).status).toBe(204);
  expect((await postJson('/v1/events/workers-1/reward', { value: -1 })).status).toBe(409);
  expect((await postJson('/v1/events/unknown/reward', { value: 1 })).status).toBe(404);
  const count = await env.DB.prepare('SELECT count(*) AS events FROM events').first('events');
  expect(count).toBe(3);

  const exported = await readExport(await call('/v1/events?limit=2', { headers: admin }));
  expect(exported.events.map((e) => e.eventId)).toEqual(['workers-1', predictions[0].eventId]);
  const rest = await readExport(await call(`/v1/events?after=${exported.nextCursor}`, { headers: admin }));
  expect(rest.events.map((e) => e.eventId)).toEqual([predictions[1].eventId]);
  expect(rest.events[0]).toMatchObject({ reward: 1, rewardSource: 'client', modelVersion: 'v1', exploration: 'epsilon:0.1', challengerVersion: null, challengerShare: 0 });
});

it('answers errors in the JSON error shape', async () => {
  const tooFew = await postJson('/v1/predict', { pixels: [0.5] });
  expect([tooFew.status, await json(tooFew)]).toEqual([400, { error: { code: 'invalid_body', message: 'pixels: must hold exactly 784 values, not 1' } }]);
  const notAdmin = await call('/v1/rollback', { method: 'POST' });
  expect([notAdmin.status, ((await json(notAdmin)) as { error: { code: string } }).error.code]).toEqual([401, 'unauthorized']);
});

it('answers every route × every caller as documented', async () => {
  const matrixCall = (method: string, path: string, init: { token?: string; json?: unknown; body?: Uint8Array }) =>
    call(path, {
      method,
      body: init.json === undefined ? init.body : JSON.stringify(init.json),
      headers: { ...(init.json !== undefined && { 'Content-Type': 'application/json' }), ...(init.token && { Authorization: `Bearer ${init.token}` }) },
    });
  expect(await accessMismatches(matrixCall, 'v1')).toEqual([]);
  const headers = (await call('/v1/models', { headers: reader })).headers;
  expect([headers.get('Content-Security-Policy'), headers.get('X-Content-Type-Options'), headers.get('Referrer-Policy')]).toEqual([
    expect.stringContaining("frame-ancestors 'none'"),
    'nosniff',
    'no-referrer',
  ]);
});

it('counts each key through the Rate Limiting binding once RATE_LIMIT_PER_MINUTE is set: 429 with Retry-After past its limit', async () => {
  expect(env.RATE_LIMITER).toBeDefined();
  const limited = { ...env, RATE_LIMIT_PER_MINUTE: '600' };
  // A reader route that fails after the access check, so each try is cheap: the binding's limit is 600 a minute.
  const read = (key: string) => app.fetch(new Request('http://edge/v1/models/none/weights', { headers: { Authorization: `Bearer ${key}` } }), limited);
  const statuses: number[] = [];
  for (let i = 0; i < 620 && !statuses.includes(429); i++) statuses.push((await read(KEYS.reader)).status);
  const refused = await read(KEYS.reader);
  expect([statuses.filter((s) => s === 404).length >= 590, refused.status, refused.headers.get('Retry-After')]).toEqual([true, 429, '60']);
  expect((await read(KEYS.admin)).status).toBe(404);
});
