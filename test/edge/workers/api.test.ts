// The Workers entry inside workerd (@cloudflare/vitest-pool-workers) with its D1 and R2 bindings from wrangler.toml.
import { applyD1Migrations, createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { gridImage, readModel, softmaxRows, WasmEngine } from '@seed/runtime/engine';
import simdEngine from '@seed/runtime/engine/simd_engine.wasm';
import { beforeAll, expect, it, vi } from 'vitest';
import worker, { app, scheduledPrune } from '../../../edge/src/worker';
import { REGISTRY_CACHE_MS } from '../../../edge/src/storage/cached_registry';
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

it('counts each key through the Rate Limiting binding once RATE_LIMIT_PER_MINUTE is set: its own limit (600) holds when the variable allows more', async () => {
  expect(env.RATE_LIMITER).toBeDefined();
  const limited = { ...env, RATE_LIMIT_PER_MINUTE: '1000' };
  // A reader route that fails after the access check, so each try is cheap: the binding's limit is 600 a minute.
  const read = (key: string) => app.fetch(new Request('http://edge/v1/models/none/weights', { headers: { Authorization: `Bearer ${key}` } }), limited);
  const statuses: number[] = [];
  for (let i = 0; i < 620 && !statuses.includes(429); i++) statuses.push((await read(KEYS.reader)).status);
  const refused = await read(KEYS.reader);
  expect([statuses.filter((s) => s === 404).length >= 590, refused.status, refused.headers.get('Retry-After')]).toEqual([true, 429, '60']);
  expect((await read(KEYS.admin)).status).toBe(404);
});

it('RATE_LIMIT_PER_MINUTE below the binding\'s limit holds too, counted in the isolate: 429 with Retry-After within the minute', async () => {
  const limited = { ...env, RATE_LIMIT_PER_MINUTE: '5' };
  // A client route that fails after the access check (no such event), from a key no other test here uses.
  const reward = (key: string) =>
    app.fetch(new Request('http://edge/v1/events/none/reward', { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` }, body: '{"value":1}' }), limited);
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await reward(KEYS.otherClient)).status);
  const refused = await reward(KEYS.otherClient);
  const retryAfter = Number(refused.headers.get('Retry-After'));
  expect([statuses, refused.status, retryAfter >= 1 && retryAfter <= 60]).toEqual([[404, 404, 404, 404, 404], 429, true]);
  expect((await json(refused)).error.code).toBe('rate_limited');
});

it('the cron trigger prunes read events older than RETENTION_DAYS from D1 without an export, never unread ones', async () => {
  const kept = { ...env, RETENTION_DAYS: '1', REWARD_WAIT_SECONDS: '0' };
  const send = (eventId: string) =>
    app.fetch(new Request('http://edge/v1/predict', { method: 'POST', headers: { 'Content-Type': 'application/json', ...client }, body: JSON.stringify({ pixels: gridImage(7), eventId }) }), kept);
  const exportFrom = async (after: string) => readExport(await app.fetch(new Request(`http://edge/v1/events?after=${after}&limit=10000`, { headers: admin }), kept));
  // A model of its own, so the test stands alone.
  expect((await call('/v1/models/vcron', { method: 'PUT', headers: admin, body: await modelFile('vcron') })).status).toBe(201);
  expect((await call('/v1/models/vcron/promote', { method: 'POST', headers: admin })).status).toBe(200);
  expect((await send('cron-1')).status).toBe(200);
  expect((await send('cron-2')).status).toBe(200);
  // The evolution reads everything so far and asks again from its cursor: read; then one more event, unread.
  await exportFrom((await exportFrom('0')).end.nextCursor as string);
  expect((await send('cron-3')).status).toBe(200);
  // The log stores each id scoped to its key (`k_…:id`).
  const mine = async () => (await env.DB.prepare(`SELECT event_id FROM events WHERE event_id LIKE '%:cron-%' ORDER BY event_id`).all()).results.map((row) => String(row.event_id).split(':')[1]);
  expect(await mine()).toEqual(['cron-1', 'cron-2', 'cron-3']);
  expect(await scheduledPrune({ ...env, REWARD_WAIT_SECONDS: '0' }, Date.now() + 2 * 86_400_000)).toBeNull();
  expect((await scheduledPrune(kept, Date.now() + 2 * 86_400_000))?.events).toBeGreaterThanOrEqual(2);
  expect(await mine()).toEqual(['cron-3']);
  // The module's scheduled handler runs the same prune with the Worker's settings.
  const log = vi.spyOn(console, 'log');
  const context = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: '23 * * * *' }), kept, context);
  await waitOnExecutionContext(context);
  expect(log).toHaveBeenCalledWith(expect.stringMatching(/^retention: pruned \d+ events and \d+ rewards$/));
  log.mockRestore();
  expect(await mine()).toEqual(['cron-3']);
});

it(`remembers the active model per isolate: a promotion through the Worker is seen at once, one written straight into D1 (as another isolate would) within REGISTRY_CACHE_MS (${REGISTRY_CACHE_MS} ms)`, async () => {
  for (const version of ['viso1', 'viso2']) expect((await call(`/v1/models/${version}`, { method: 'PUT', headers: admin, body: await modelFile(version) })).status).toBe(201);
  const answeredBy = async () => ((await json(await postJson('/v1/predict', { pixels: gridImage(5) }))) as { modelVersion: string }).modelVersion;
  expect((await call('/v1/models/viso1/promote', { method: 'POST', headers: admin })).status).toBe(200);
  expect(await answeredBy()).toBe('viso1');
  await env.DB.prepare('INSERT INTO promotions (version, promoted_at) VALUES (?, ?)').bind('viso2', Date.now()).run();
  const written = Date.now();
  expect(await answeredBy()).toBe('viso1');
  await new Promise((resolve) => setTimeout(resolve, REGISTRY_CACHE_MS + 100));
  expect(await answeredBy()).toBe('viso2');
  expect(Date.now() - written).toBeLessThan(REGISTRY_CACHE_MS + 2000);
});
