// The edge API in process (app.request), one suite for each storage: api_sqlite.test.ts and api_d1.test.ts run it.
import { argmax, keyIdOf, pruneExpired, servingProblem, type Env, type Prediction, type Storage } from '@seed/edge';
import { buildNetwork, gridImage, initialParameters, readModel, softmaxRows, WasmEngine, writeModel } from '@seed/runtime/engine';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { accessMismatches, ADMIN_TOKEN, json, KEY_SETTINGS, KEYS, LINEAR_ARCHITECTURE as LINEAR, modelFile, readExport } from './fixtures';
import { edgeHarness, simdEngine, type RequestOptions, type StorageTarget } from './support';

const WAIT_MS = 60_000;
const SETTINGS: Env = { ...KEY_SETTINGS, EXPLORATION: 'epsilon:0.1', REWARD_WAIT_SECONDS: '60', DEFAULT_REWARD: '-0.5' };

export function describeEdgeApi(name: string, open: () => Promise<StorageTarget>): void {
  describe(`edge API on ${name}`, () => {
    let target: StorageTarget;
    let storage: Storage;
    beforeAll(async () => {
      target = await open();
    });
    afterAll(() => target?.close());
    beforeEach(async () => {
      storage = await target.fresh();
    });

    /** A harness with model v1 uploaded and promoted. */
    async function servingHarness(settings: Env = SETTINGS) {
      const harness = edgeHarness(storage, settings);
      const v1 = await modelFile('v1', 1);
      expect((await harness.request('PUT', '/v1/models/v1', { body: v1, token: ADMIN_TOKEN })).status).toBe(201);
      expect((await harness.request('POST', '/v1/models/v1/promote', { token: ADMIN_TOKEN })).status).toBe(200);
      const predict = async (body: unknown, token: string = KEYS.client) => {
        const response = await harness.request('POST', '/v1/predict', { json: body, token });
        expect(response.status, await response.clone().text()).toBe(200);
        return json(response);
      };
      return { ...harness, v1, predict };
    }

    const exportAll = async (harness: ReturnType<typeof edgeHarness>, after = '0', limit = 1000) =>
      readExport(await harness.request('GET', `/v1/events?after=${after}&limit=${limit}`, { token: ADMIN_TOKEN }));

    it('registry: verifies before storing, lists, serves weights, promotes and rolls back', async () => {
      const { request } = edgeHarness(storage, SETTINGS);
      const v1 = await modelFile('v1', 1);
      const tampered = v1.slice();
      tampered[tampered.length - 1] ^= 0xff;

      const garbage = await request('PUT', '/v1/models/v1', { body: new Uint8Array(100), token: ADMIN_TOKEN });
      expect(garbage.status).toBe(400);
      expect((await json(garbage)).error.code).toBe('invalid_model');
      const corrupt = await json(await request('PUT', '/v1/models/v1', { body: tampered, token: ADMIN_TOKEN }));
      expect(corrupt.error).toMatchObject({ code: 'invalid_model', message: expect.stringContaining('checksum') });
      const mismatch = await request('PUT', '/v1/models/v2', { body: v1, token: ADMIN_TOKEN });
      expect([mismatch.status, (await json(mismatch)).error.code]).toEqual([400, 'version_mismatch']);
      expect((await request('PUT', '/v1/models/bad%20version', { body: v1, token: ADMIN_TOKEN })).status).toBe(400);
      expect(await json(await request('GET', '/v1/models', { token: KEYS.reader }))).toEqual({ active: null, models: [] });

      const added = await request('PUT', '/v1/models/v1', { body: v1, token: ADMIN_TOKEN });
      expect(added.status).toBe(201);
      const { metadata } = await readModel(v1);
      expect(await json(added)).toMatchObject({ version: 'v1', sha256: metadata.sha256, parent: '', sizeBytes: v1.length, active: false, metrics: { seed: 1 } });
      expect((await request('PUT', '/v1/models/v1', { body: v1, token: ADMIN_TOKEN })).status).toBe(200);
      const conflict = await request('PUT', '/v1/models/v1', { body: await modelFile('v1', 9), token: ADMIN_TOKEN });
      expect([conflict.status, (await json(conflict)).error.code]).toEqual([409, 'version_exists']);

      const weights = await request('GET', '/v1/models/v1/weights', { token: KEYS.reader });
      expect(weights.headers.get('Content-Type')).toBe('application/octet-stream');
      expect(Buffer.from(await weights.arrayBuffer()).equals(v1)).toBe(true);
      expect((await request('GET', '/v1/models/v9/weights', { token: KEYS.reader })).status).toBe(404);

      expect(await json(await request('GET', '/health'))).toEqual({ status: 'ok', model: null });
      expect(await json(await request('GET', '/health/live'))).toEqual({ status: 'ok' });
      expect((await json(await request('GET', '/v1/model'))).error.code).toBe('no_model');
      const noModel = await request('POST', '/v1/predict', { json: { pixels: gridImage(1) }, token: KEYS.client });
      expect([noModel.status, (await json(noModel)).error.code]).toEqual([503, 'no_model']);

      expect((await request('POST', '/v1/models/v9/promote', { token: ADMIN_TOKEN })).status).toBe(404);
      expect(await json(await request('POST', '/v1/models/v1/promote', { token: ADMIN_TOKEN }))).toMatchObject({ version: 'v1', active: true });
      expect(await json(await request('GET', '/health'))).toEqual({ status: 'ok', model: { version: 'v1', sha256: metadata.sha256 } });
      expect((await request('PUT', '/v1/models/v2', { body: await modelFile('v2', 2, 'v1'), token: ADMIN_TOKEN })).status).toBe(201);
      expect(await json(await request('POST', '/v1/models/v2/promote', { token: ADMIN_TOKEN }))).toMatchObject({ version: 'v2', parent: 'v1' });
      expect(await json(await request('GET', '/v1/model'))).toMatchObject({ version: 'v2', active: true, promotedAt: expect.any(String) });
      const listing = await json(await request('GET', '/v1/models', { token: KEYS.reader }));
      expect(listing.active).toBe('v2');
      expect(listing.models.map((m: { version: string; active: boolean }) => [m.version, m.active])).toEqual([['v1', false], ['v2', true]]);

      expect((await json(await request('POST', '/v1/rollback', { token: ADMIN_TOKEN }))).version).toBe('v1');
      expect((await json(await request('GET', '/v1/model'))).version).toBe('v1');
      const nothingLeft = await request('POST', '/v1/rollback', { token: ADMIN_TOKEN });
      expect([nothingLeft.status, (await json(nothingLeft)).error.code]).toEqual([409, 'no_previous_model']);
    });

    it('predict: the engine on the logged image, ε-greedy action and its exact propensity', async () => {
      const { predict, v1 } = await servingHarness();
      const engine = new WasmEngine(simdEngine, await readModel(v1));
      for (let seed = 0; seed < 10; seed++) {
        const pixels = gridImage(seed);
        const answer: Prediction = await predict({ pixels });
        const expected = Array.from(softmaxRows(engine.logits(Float32Array.from(pixels), 1), 1, 10));
        expect(answer.probabilities).toEqual(expected);
        expect(answer.modelVersion).toBe('v1');
        expect(answer.eventId).toMatch(/^[0-9a-f-]{36}$/);
        const greedy = argmax(expected);
        expect(answer.explored).toBe(answer.action !== greedy);
        expect(answer.propensity).toBeCloseTo(answer.action === greedy ? 0.9 + 0.01 : 0.01, 12);
      }
      const greedyOnly: Prediction = await predict({ pixels: gridImage(3), explore: false });
      expect([greedyOnly.propensity, greedyOnly.explored]).toEqual([1, false]);
    });

    it('predict: a client eventId makes it idempotent, in a single call and in a batch', async () => {
      const harness = await servingHarness();
      const first: Prediction = await harness.predict({ pixels: gridImage(1), eventId: 'client-1' });
      expect(first.eventId).toBe('client-1');
      // The same id with another image still answers what was logged.
      expect(await harness.predict({ pixels: gridImage(2), eventId: 'client-1' })).toEqual(first);
      const batch = await harness.predict({
        instances: [{ pixels: gridImage(3) }, { pixels: gridImage(4), eventId: 'client-1' }, { pixels: gridImage(5), eventId: 'client-2' }],
      });
      expect(batch.predictions).toHaveLength(3);
      expect(batch.predictions[1]).toEqual(first);
      expect(batch.predictions[2].eventId).toBe('client-2');
      expect(batch.predictions[0].eventId).not.toBe(batch.predictions[2].eventId);
      harness.clock.now += WAIT_MS + 1;
      const { events } = await exportAll(harness);
      expect(events.map((e) => e.eventId)).toEqual(['client-1', batch.predictions[0].eventId, 'client-2']);
    });

    it('predict: refuses bad input with a clear 4xx and logs nothing', async () => {
      const harness = await servingHarness({ ...SETTINGS, API_KEYS: 'key-1' });
      const { request } = harness;
      const image = gridImage(1);
      const padded = (body: object, bytes: number) => JSON.stringify(body).replace(/}$/, `${' '.repeat(bytes)}}`);
      const cases: [string, RequestOptions, number, string][] = [
        ['783 pixels', { json: { pixels: image.slice(1) } }, 400, 'pixels: must hold exactly 784 values, not 783'],
        ['a pixel over 1', { json: { pixels: [...image.slice(1), 1.5] } }, 400, 'pixels[783]: must be in [0, 1]'],
        ['a negative pixel', { json: { pixels: [-0.1, ...image.slice(1)] } }, 400, 'pixels[0]: must be in [0, 1]'],
        ['a string pixel', { json: { pixels: ['0.5', ...image.slice(1)] } }, 400, 'pixels[0]: must be a number in [0, 1]'],
        ['an infinite pixel', { body: `{"pixels":[1e999${',0'.repeat(783)}]}` }, 400, 'pixels[0]'],
        ['a long eventId', { json: { pixels: image, eventId: 'x'.repeat(65) } }, 400, 'eventId'],
        ['a bad eventId', { json: { pixels: image, eventId: 'a b' } }, 400, 'eventId'],
        ['an unknown field', { json: { pixels: image, colour: true } }, 400, 'colour'],
        ['neither pixels nor instances', { json: {} }, 400, 'either "pixels"'],
        ['both pixels and instances', { json: { pixels: image, instances: [{ pixels: image }] } }, 400, 'either "pixels"'],
        ['an empty batch', { json: { instances: [] } }, 400, 'at least one'],
        ['65 instances', { json: { instances: Array.from({ length: 65 }, () => ({ pixels: image })) } }, 400, 'at most 64'],
        ['a repeated eventId in a batch', { json: { instances: [{ pixels: image, eventId: 'a' }, { pixels: image, eventId: 'a' }] } }, 400, 'same "eventId"'],
        ['malformed JSON', { body: '{"pixels": [0.1' }, 400, 'Malformed JSON'],
        ['no JSON content type', { body: JSON.stringify({ pixels: image }), headers: { 'Content-Type': 'text/plain' } }, 415, 'Content-Type'],
        ['a single image over 64 KiB', { body: padded({ pixels: image }, 64 * 1024) }, 413, 'single prediction'],
        ['a batch over 4 MiB', { body: padded({ instances: [{ pixels: image }] }, 4 * 1024 * 1024) }, 413, '4 MiB'],
        ['a batch over 4 MiB, by Content-Length', { body: padded({ instances: [{ pixels: image }] }, 4 * 1024 * 1024), headers: { 'Content-Length': String(4 * 1024 * 1024 + 8000) } }, 413, '4 MiB'],
        ['no API key', { json: { pixels: image }, token: '' }, 401, 'Bearer'],
        ['a wrong API key', { json: { pixels: image }, token: 'key-2' }, 401, 'unknown key'],
      ];
      for (const [what, options, status, message] of cases) {
        const response = await request('POST', '/v1/predict', { token: 'key-1', ...options, headers: { 'Content-Type': 'application/json', ...options.headers } });
        const body = await json(response);
        expect([what, response.status, body.error.code.length > 0]).toEqual([what, status, true]);
        expect(body.error.message, what).toContain(message);
      }
      harness.clock.now += WAIT_MS + 1;
      expect((await exportAll(harness)).events).toEqual([]);
      // A batch may be larger than a single image's limit.
      const padding = await request('POST', '/v1/predict', { body: padded({ instances: [{ pixels: image }] }, 64 * 1024), token: 'key-1', headers: { 'Content-Type': 'application/json' } });
      expect(padding.status).toBe(200);
    });

    it('rewards: 204 once, 204 on the same retry, 409 on a different value or after the wait, 404 when unknown, 400 when invalid', async () => {
      const harness = await servingHarness();
      const { request } = harness;
      const { eventId } = await harness.predict({ pixels: gridImage(1) });
      const reward = (id: string, body: string | object) =>
        request('POST', `/v1/events/${id}/reward`, typeof body === 'string' ? { body, headers: { 'Content-Type': 'application/json' }, token: KEYS.client } : { json: body, token: KEYS.client });
      const code = async (response: Response) => [response.status, response.status === 204 ? null : (await json(response)).error.code];

      expect(await code(await reward('no-such-event', { value: 1 }))).toEqual([404, 'unknown_event']);
      for (const bad of [{ value: 1.01 }, { value: -2 }, { value: '1' }, {}, { value: 1, extra: 0 }, '{"value": 1e999}', '{"value": -1e999}']) {
        expect(await code(await reward(eventId, bad))).toEqual([400, 'invalid_body']);
      }
      expect(await code(await reward('not valid!', { value: 1 }))).toEqual([400, 'invalid_param']);
      expect(await code(await reward(eventId, { value: 0.5 }))).toEqual([204, null]);
      expect(await code(await reward(eventId, { value: 0.5 }))).toEqual([204, null]);
      expect(await code(await reward(eventId, { value: -0.5 }))).toEqual([409, 'reward_conflict']);

      const late = await harness.predict({ pixels: gridImage(2) });
      harness.clock.now += WAIT_MS + 1;
      expect(await code(await reward(late.eventId, { value: 1 }))).toEqual([409, 'reward_window_closed']);
      // The reward given in time still repeats as 204 after the wait.
      expect(await code(await reward(eventId, { value: 0.5 }))).toEqual([204, null]);
    });

    it('export: NDJSON joined with rewards, the default after the wait, a cursor that never skips or repeats', async () => {
      const harness = await servingHarness();
      const { request, clock } = harness;
      const images = [1, 2, 3, 4, 5].map((seed) => gridImage(seed));
      const answers: Prediction[] = (await harness.predict({ instances: images.map((pixels) => ({ pixels })) })).predictions;
      const rewardOf = (i: number, value: number) => request('POST', `/v1/events/${answers[i].eventId}/reward`, { json: { value }, token: KEYS.client });
      await rewardOf(0, 1);
      await rewardOf(1, 0);
      await rewardOf(3, 1);

      // Event 2 is inside its wait with no reward: the export stops before it.
      const early = await request('GET', '/v1/events', { token: ADMIN_TOKEN });
      expect(early.headers.get('Content-Type')).toBe('application/x-ndjson');
      const first = await readExport(early);
      expect(first.events.map((e) => e.eventId)).toEqual([answers[0].eventId, answers[1].eventId]);
      expect(first.end).toEqual({ type: 'end', nextCursor: first.events[1].cursor, count: 2 });
      expect(first.nextCursor).toBe(first.end.nextCursor);
      const stalled = await exportAll(harness, first.end.nextCursor as string);
      expect([stalled.events.length, stalled.end.nextCursor]).toEqual([0, first.end.nextCursor]);

      clock.now += WAIT_MS + 1;
      const rest = await exportAll(harness, first.end.nextCursor as string);
      expect(rest.events.map((e) => [e.eventId, e.reward, e.rewardSource])).toEqual([
        [answers[2].eventId, -0.5, 'default'],
        [answers[3].eventId, 1, 'client'],
        [answers[4].eventId, -0.5, 'default'],
      ]);
      const line = rest.events[1];
      expect(line).toEqual({
        type: 'event',
        cursor: expect.any(String),
        keyId: expect.stringMatching(/^k_[0-9a-f]{16}$/),
        eventId: answers[3].eventId,
        time: new Date(clock.now - WAIT_MS - 1).toISOString(),
        modelVersion: 'v1',
        pixels: images[3],
        action: answers[3].action,
        propensity: answers[3].propensity,
        probabilities: answers[3].probabilities,
        explored: answers[3].explored,
        exploration: 'epsilon:0.1',
        loggingProbabilities: expect.any(Array),
        challengerVersion: null,
        challengerShare: 0,
        reward: 1,
        rewardSource: 'client',
      });

      // Pages of two, with new events logged between pages: every event exactly once, in log order.
      const seen: string[] = [];
      let cursor = '0';
      for (let page = 0; page < 10; page++) {
        const { events, end } = await exportAll(harness, cursor, 2);
        seen.push(...events.map((e) => e.eventId as string));
        expect(end.count).toBe(events.length);
        cursor = end.nextCursor as string;
        if (page < 3) {
          const { eventId } = await harness.predict({ pixels: gridImage(10 + page) });
          await request('POST', `/v1/events/${eventId}/reward`, { json: { value: 1 }, token: KEYS.client });
        }
        if (events.length === 0) break;
      }
      expect(seen).toHaveLength(8);
      expect(new Set(seen).size).toBe(8);
      expect(seen.slice(0, 5)).toEqual(answers.map((a) => a.eventId));

      const bad = async (query: string) => (await json(await request('GET', `/v1/events${query}`, { token: ADMIN_TOKEN }))).error.code;
      expect(await bad('?limit=0')).toBe('invalid_query');
      expect(await bad('?limit=10001')).toBe('invalid_query');
      expect(await bad('?after=abc')).toBe('invalid_query');
    });

    it('logs the exploration policy and the distribution drawn from per event; greedy requests are logged as greedy', async () => {
      const harness = await servingHarness({ ...SETTINGS, REWARD_WAIT_SECONDS: '0' });
      const exploring: Prediction = await harness.predict({ pixels: gridImage(1) });
      const greedy: Prediction = await harness.predict({ pixels: gridImage(1), explore: false });
      const { events } = await exportAll(harness);
      expect(events.map((e) => e.exploration)).toEqual(['epsilon:0.1', 'greedy']);
      const drawnFrom = events[0].loggingProbabilities as number[];
      expect(drawnFrom[exploring.action]).toBe(exploring.propensity);
      expect(Math.min(...drawnFrom)).toBeCloseTo(0.01, 12);
      expect(events[1].loggingProbabilities).toEqual(exploring.probabilities.map((_, a) => (a === greedy.action ? 1 : 0)));
    });

    it('challenger: admin sets, shows and clears it; unknown or active versions and bad shares are refused', async () => {
      const harness = await servingHarness({ ...SETTINGS, API_KEYS: 'key-1' });
      const { request } = harness;
      const status = async (response: Response) => [response.status, response.status < 300 ? 'ok' : (await json(response)).error.code];
      expect((await request('PUT', '/v1/models/v2', { body: await modelFile('v2', 2, 'v1'), token: ADMIN_TOKEN })).status).toBe(201);
      for (const [method, body] of [['GET', undefined], ['PUT', { version: 'v2' }], ['DELETE', undefined]] as const) {
        expect(await status(await request(method, '/v1/challenger', { json: body })), method).toEqual([401, 'unauthorized']);
        expect(await status(await request(method, '/v1/challenger', { json: body, token: 'key-1' })), method).toEqual([403, 'forbidden']);
        expect(await status(await edgeHarness(storage, {}).request(method, '/v1/challenger', { json: body, token: ADMIN_TOKEN })), method).toEqual([403, 'admin_disabled']);
      }
      expect(await json(await request('GET', '/v1/challenger', { token: ADMIN_TOKEN }))).toEqual({ challenger: null });
      expect(await status(await request('PUT', '/v1/challenger', { json: { version: 'v9' }, token: ADMIN_TOKEN }))).toEqual([404, 'unknown_model']);
      expect(await status(await request('PUT', '/v1/challenger', { json: { version: 'v1' }, token: ADMIN_TOKEN }))).toEqual([409, 'challenger_is_active']);
      for (const share of [0, 1, -1, 'half']) {
        expect(await status(await request('PUT', '/v1/challenger', { json: { version: 'v2', share }, token: ADMIN_TOKEN })), String(share)).toEqual([400, 'invalid_body']);
      }
      const set = await json(await request('PUT', '/v1/challenger', { json: { version: 'v2' }, token: ADMIN_TOKEN }));
      expect(set).toEqual({ challenger: { version: 'v2', share: 0.5, setAt: new Date(harness.clock.now).toISOString() } });
      expect(await json(await request('GET', '/v1/challenger', { token: ADMIN_TOKEN }))).toEqual(set);
      const answer: Prediction = await harness.predict({ pixels: gridImage(1) }, 'key-1');
      expect(answer.modelVersion).toBe('v1');
      expect((await request('DELETE', '/v1/challenger', { token: ADMIN_TOKEN })).status).toBe(204);
      expect((await request('DELETE', '/v1/challenger', { token: ADMIN_TOKEN })).status).toBe(204);
      expect(await json(await request('GET', '/v1/challenger', { token: ADMIN_TOKEN }))).toEqual({ challenger: null });
    });

    it('serves the registry’s active model: loaded once, swapped on promote and rollback', async () => {
      let loads = 0;
      const { events, models } = storage;
      const countingLoads = Object.assign(Object.create(models), {
        weights: (version: string) => {
          loads++;
          return models.weights(version);
        },
      });
      storage = { events, models: countingLoads };
      const harness = await servingHarness();
      await harness.request('PUT', '/v1/models/v2', { body: await modelFile('v2', 2, 'v1'), token: ADMIN_TOKEN });
      const versionOf = async () => ((await harness.predict({ pixels: gridImage(1) })) as Prediction).modelVersion;
      for (let i = 0; i < 3; i++) expect(await versionOf()).toBe('v1');
      expect(loads).toBe(1);
      await harness.request('POST', '/v1/models/v2/promote', { token: ADMIN_TOKEN });
      for (let i = 0; i < 3; i++) expect(await versionOf()).toBe('v2');
      expect(loads).toBe(2);
      await harness.request('POST', '/v1/rollback', { token: ADMIN_TOKEN });
      expect(await versionOf()).toBe('v1');
    });

    it('promote, rollback and challenger changes reach the very next predict and GET /health', async () => {
      const harness = await servingHarness({ ...SETTINGS, EXPLORATION: 'softmax:1', REWARD_WAIT_SECONDS: '0' });
      const { request } = harness;
      expect((await request('PUT', '/v1/models/v2', { body: await modelFile('v2', 2, 'v1'), token: ADMIN_TOKEN })).status).toBe(201);
      const served: unknown[][] = [];
      // Two predictions per step: the first right after the change, the second from whatever the first left behind.
      const step = async () => {
        for (let i = 0; i < 2; i++) await harness.predict({ pixels: gridImage(i + 1) });
        served.push(['health', null, ((await json(await request('GET', '/health'))) as { model: { version: string } }).model.version]);
      };
      await step();
      expect((await request('PUT', '/v1/challenger', { json: { version: 'v2' }, token: ADMIN_TOKEN })).status).toBe(200);
      await step();
      expect((await request('DELETE', '/v1/challenger', { token: ADMIN_TOKEN })).status).toBe(204);
      await step();
      expect((await request('POST', '/v1/models/v2/promote', { token: ADMIN_TOKEN })).status).toBe(200);
      await step();
      expect((await request('PUT', '/v1/challenger', { json: { version: 'v1' }, token: ADMIN_TOKEN })).status).toBe(200);
      await step();
      expect((await request('POST', '/v1/rollback', { token: ADMIN_TOKEN })).status).toBe(200);
      // v1 is active again and the challenger, so no challenger serves.
      await step();
      const { events } = await exportAll(harness);
      const logged = events.map((e) => [e.modelVersion, e.challengerVersion]);
      const steps = [0, 1, 2, 3, 4, 5].map((s) => [...logged.slice(2 * s, 2 * s + 2), served[s]]);
      expect(steps).toEqual([
        [['v1', null], ['v1', null], ['health', null, 'v1']],
        [['v1', 'v2'], ['v1', 'v2'], ['health', null, 'v1']],
        [['v1', null], ['v1', null], ['health', null, 'v1']],
        [['v2', null], ['v2', null], ['health', null, 'v2']],
        [['v2', 'v1'], ['v2', 'v1'], ['health', null, 'v2']],
        [['v1', null], ['v1', null], ['health', null, 'v1']],
      ]);
    });

    it('access: every route × every caller answers as documented', async () => {
      const { app } = await servingHarness();
      const call: Parameters<typeof accessMismatches>[0] = async (method, path, { token, json: body, body: bytes }) =>
        app.request(
          path,
          {
            method,
            body: body === undefined ? bytes : JSON.stringify(body),
            headers: { ...(body !== undefined && { 'Content-Type': 'application/json' }), ...(token && { Authorization: `Bearer ${token}` }) },
          },
          SETTINGS,
        );
      expect(await accessMismatches(call, 'v1')).toEqual([]);
    });

    it('access: fails closed without API_KEYS, admin routes are off without ADMIN_TOKEN, ALLOW_ANONYMOUS lets clients in and warns', async () => {
      const status = async (response: Response) => [response.status, response.status < 300 ? 'ok' : (await json(response)).error.code];
      const { request } = await servingHarness();
      const image = { pixels: gridImage(1) };
      const closed = edgeHarness(storage, { ADMIN_TOKEN });
      expect(await status(await closed.request('POST', '/v1/predict', { json: image }))).toEqual([401, 'unauthorized']);
      expect(await status(await closed.request('POST', '/v1/predict', { json: image, token: ADMIN_TOKEN }))).toEqual([403, 'forbidden']);
      expect(await status(await closed.request('GET', '/v1/models'))).toEqual([401, 'unauthorized']);

      const adminOff = edgeHarness(storage, { API_KEYS: KEYS.client });
      const v3 = await modelFile('v3', 3);
      expect(await status(await adminOff.request('PUT', '/v1/models/v3', { body: v3, token: KEYS.client }))).toEqual([403, 'admin_disabled']);
      expect(await status(await adminOff.request('GET', '/v1/events', { token: ADMIN_TOKEN }))).toEqual([403, 'admin_disabled']);
      const weightsTooLarge = await request('PUT', '/v1/models/v3', { body: new Uint8Array(16 * 1024 * 1024 + 1), token: ADMIN_TOKEN });
      expect(await status(weightsTooLarge)).toEqual([413, 'too_large']);

      const warnings: string[] = [];
      const warn = console.warn;
      console.warn = (line: string) => warnings.push(line);
      try {
        const open = edgeHarness(storage, { ...KEY_SETTINGS, ALLOW_ANONYMOUS: 'true' });
        const anonymous = await json(await open.request('POST', '/v1/predict', { json: image }));
        expect(await status(await open.request('POST', `/v1/events/${anonymous.eventId}/reward`, { json: { value: 1 } }))).toEqual([204, 'ok']);
        // A key that is sent must still be right, and the anonymous bucket is not a key's.
        expect(await status(await open.request('POST', '/v1/predict', { json: image, token: 'wrong' }))).toEqual([401, 'unauthorized']);
        expect(await status(await open.request('POST', `/v1/events/${anonymous.eventId}/reward`, { json: { value: 1 }, token: KEYS.client }))).toEqual([404, 'unknown_event']);
        expect(await status(await open.request('GET', '/v1/models'))).toEqual([401, 'unauthorized']);
      } finally {
        console.warn = warn;
      }
      expect(warnings).toEqual([expect.stringContaining('ALLOW_ANONYMOUS=true')]);
    });

    it('attribution: events and rewards carry the key id, never the key; a reward from another key is an unknown event; ids are scoped to the key', async () => {
      const harness = await servingHarness();
      const { request } = harness;
      const code = async (response: Response) => [response.status, response.status === 204 ? null : (await json(response)).error.code];
      const mine: Prediction = await harness.predict({ pixels: gridImage(1), eventId: 'shared-id' });
      const reward = (id: string, token: string, value = 1) => request('POST', `/v1/events/${id}/reward`, { json: { value }, token });

      // Another key asking with the same id gets its own event, not the first key's answer.
      const theirs: Prediction = await harness.predict({ pixels: gridImage(2), eventId: 'shared-id' }, KEYS.otherClient);
      expect(theirs.eventId).toBe('shared-id');
      expect(theirs.probabilities).not.toEqual(mine.probabilities);
      // Rewarding another key's event looks exactly like rewarding an id nobody used.
      const { eventId: onlyMine } = await harness.predict({ pixels: gridImage(3) });
      const foreign = await reward(onlyMine, KEYS.otherClient);
      const unknown = await reward('never-used', KEYS.otherClient);
      expect([foreign.status, await foreign.json()]).toEqual([404, { error: { code: 'unknown_event', message: `no event ${onlyMine} is logged` } }]);
      expect([unknown.status, await unknown.json()]).toEqual([404, { error: { code: 'unknown_event', message: 'no event never-used is logged' } }]);
      expect(await code(await reward('shared-id', KEYS.client, 1))).toEqual([204, null]);
      expect(await code(await reward('shared-id', KEYS.otherClient, 0))).toEqual([204, null]);
      expect(await code(await reward(onlyMine, KEYS.client, 0.5))).toEqual([204, null]);

      harness.clock.now += WAIT_MS + 1;
      const { events } = await exportAll(harness);
      const [client, other] = [await keyIdOf(KEYS.client), await keyIdOf(KEYS.otherClient)];
      expect(events.map((e) => [e.keyId, e.eventId, e.reward])).toEqual([
        [client, 'shared-id', 1],
        [other, 'shared-id', 0],
        [client, onlyMine, 0.5],
      ]);
      expect(client).not.toBe(other);
      const logged = JSON.stringify(events);
      for (const key of Object.values(KEYS)) expect(logged.includes(key)).toBe(false);
    });

    it('rate limits: each key gets RATE_LIMIT_PER_MINUTE requests a minute, then 429 with Retry-After', async () => {
      const harness = await servingHarness({ ...SETTINGS, RATE_LIMIT_PER_MINUTE: '3' });
      const image = { pixels: gridImage(1) };
      const predict = (token: string) => harness.request('POST', '/v1/predict', { json: image, token });
      for (let i = 0; i < 3; i++) expect((await predict(KEYS.client)).status).toBe(200);
      harness.clock.now += 20_000;
      const limited = await predict(KEYS.client);
      expect([limited.status, (await json(limited)).error.code, limited.headers.get('Retry-After')]).toEqual([429, 'rate_limited', '40']);
      // Another key has its own count; the admin routes are not limited.
      expect((await predict(KEYS.otherClient)).status).toBe(200);
      expect((await harness.request('GET', '/v1/events', { token: ADMIN_TOKEN })).status).toBe(200);
      harness.clock.now += 40_000;
      expect((await predict(KEYS.client)).status).toBe(200);
    });

    it('headers: every answer forbids framing and sniffing and sends no referrer', async () => {
      const { request } = await servingHarness();
      for (const [method, path, token] of [['GET', '/health', undefined], ['GET', '/v1/models', KEYS.reader], ['POST', '/v1/predict', undefined], ['GET', '/nowhere', undefined]] as const) {
        const response = await request(method, path, { token });
        expect([path, response.headers.get('Content-Security-Policy')]).toEqual([path, expect.stringContaining("frame-ancestors 'none'")]);
        expect([path, response.headers.get('X-Content-Type-Options'), response.headers.get('Referrer-Policy')]).toEqual([path, 'nosniff', 'no-referrer']);
      }
    });

    it('uploads: refused with 400 when over the layer cap, when ReLU stages push the work over the limit, or when outputs are not finite', async () => {
      const { request } = edgeHarness(storage, SETTINGS);
      const refusal = async (file: Uint8Array, version: string) => {
        const response = await request('PUT', `/v1/models/${version}`, { body: file, token: ADMIN_TOKEN });
        return [response.status, (await json(response)).error?.message ?? ''];
      };
      const input = [{ kind: 'input' as const, shape: [1, 28, 28] as [number, number, number] }, { kind: 'flatten' as const }];
      const policy = (inFeatures: number) => ({ kind: 'dense' as const, name: 'policy', inFeatures, outFeatures: 10, head: 'policy' as const });
      const relus = (count: number) => Array.from({ length: count }, () => ({ kind: 'relu' as const }));
      const manyLayers = [...input, ...relus(40), policy(784)];
      expect(await refusal(await modelFile('deep', 1, undefined, manyLayers), 'deep')).toEqual([400, expect.stringContaining('42 layers, over the edge')]);
      // 16.67 M multiply-adds, under the limit alone: each ReLU over the 21,000 hidden values adds 21,000 operations.
      const wide = (reluStages: number) => buildNetwork([...input, { kind: 'dense', name: 'hidden', inFeatures: 784, outFeatures: 21_000 }, ...relus(reluStages), policy(21_000)]);
      expect(servingProblem(wide(1))).toBeNull();
      expect(servingProblem(wide(4))).toMatch(/needs 16779794 multiply-adds per image, over the edge's limit/);

      const network = buildNetwork(LINEAR);
      const huge = new Map([...initialParameters(network, 1)].map(([name, values]) => [name, values.map(() => 3e38)]));
      const overflowing = await writeModel(network, huge, { version: 'inf', created: '2026-04-01T00:00:00.000Z', metrics: {} });
      expect(await refusal(overflowing, 'inf')).toEqual([400, expect.stringContaining('not finite')]);
      expect(await json(await request('GET', '/v1/models', { token: KEYS.reader }))).toEqual({ active: null, models: [] });
    });

    it('retention: RETENTION_DAYS prunes old events and their rewards, never those the evolution has not read', async () => {
      const harness = await servingHarness({ ...SETTINGS, RETENTION_DAYS: '1' });
      const { clock } = harness;
      const day = 86_400_000;
      const predictions: Prediction[] = [];
      for (let i = 0; i < 4; i++) {
        const prediction: Prediction = await harness.predict({ pixels: gridImage(i) });
        predictions.push(prediction);
        await harness.request('POST', `/v1/events/${prediction.eventId}/reward`, { json: { value: 1 }, token: KEYS.client });
        clock.now += WAIT_MS + 1;
      }
      // The evolution reads the first two and keeps the cursor; then two days pass.
      const firstRead = await exportAll(harness, '0', 2);
      clock.now += 2 * day;
      // Asking from the saved cursor says the first two are read: only they may go, though all four are old.
      const rest = await exportAll(harness, firstRead.end.nextCursor as string);
      expect(rest.events.map((e) => e.eventId)).toEqual(predictions.slice(2).map((p) => p.eventId));
      const everything = await exportAll(harness, '0');
      expect(everything.events.map((e) => [e.eventId, e.reward, e.rewardSource])).toEqual(predictions.slice(2).map((p) => [p.eventId, 1, 'client']));
      // Pruned rewards go with their events: the id is unknown now, to a reward as to a prediction.
      const gone = await harness.request('POST', `/v1/events/${predictions[0].eventId}/reward`, { json: { value: 1 }, token: KEYS.client });
      expect(gone.status).toBe(404);
      // Recent events stay whatever was read.
      const fresh: Prediction = await harness.predict({ pixels: gridImage(9) });
      clock.now += WAIT_MS + 1;
      const afterAll = await exportAll(harness, rest.end.nextCursor as string);
      await exportAll(harness, afterAll.end.nextCursor as string);
      expect((await exportAll(harness, '0')).events.map((e) => e.eventId)).toEqual([fresh.eventId]);
      // The storage call alone: everything read and logged before the given time.
      expect(await storage.events.prune(clock.now)).toEqual({ events: 1, rewards: 0 });
      expect((await exportAll(harness, '0')).events).toEqual([]);
    });

    it('retention without exports: pruneExpired (the Workers cron, the Node timer) prunes read events older than RETENTION_DAYS, and nothing unread or when unset', async () => {
      const harness = await servingHarness({ ...SETTINGS, RETENTION_DAYS: '1' });
      const { clock } = harness;
      const day = 86_400_000;
      const predictions: Prediction[] = [];
      for (let i = 0; i < 3; i++) predictions.push(await harness.predict({ pixels: gridImage(i) }));
      await harness.request('POST', `/v1/events/${predictions[0].eventId}/reward`, { json: { value: 1 }, token: KEYS.client });
      clock.now += WAIT_MS + 1;
      // The evolution reads the first two and asks from its saved cursor: those two are read, the third is not.
      const firstRead = await exportAll(harness, '0', 2);
      await exportAll(harness, firstRead.end.nextCursor as string);
      clock.now += 2 * day;
      expect(await pruneExpired(storage, { retentionMs: 0 }, clock.now)).toBeNull();
      expect(await pruneExpired(storage, { retentionMs: 3 * day }, clock.now)).toEqual({ events: 0, rewards: 0 });
      expect(await pruneExpired(storage, { retentionMs: day }, clock.now)).toEqual({ events: 2, rewards: 1 });
      // An export from the start shows what is left: only the unread event, though it is as old.
      expect((await exportAll(harness, '0')).events.map((e) => e.eventId)).toEqual([predictions[2].eventId]);
    });

    it('metrics: Prometheus text with requests by route and status, predictions and mean reward by model', async () => {
      const harness = await servingHarness();
      for (let i = 0; i < 3; i++) {
        const { eventId } = await harness.predict({ pixels: gridImage(i) });
        if (i < 2) await harness.request('POST', `/v1/events/${eventId}/reward`, { json: { value: i }, token: KEYS.client });
      }
      await harness.request('POST', '/v1/predict', { json: { pixels: [] }, token: KEYS.client });
      harness.clock.now += WAIT_MS + 1;
      const response = await harness.request('GET', '/metrics', { token: KEYS.reader });
      expect(response.headers.get('Content-Type')).toContain('text/plain');
      const text = await response.text();
      expect(text).toContain('seed_http_requests_total{method="POST",route="/v1/predict",status="200"} 3');
      expect(text).toContain('seed_http_requests_total{method="POST",route="/v1/predict",status="400"} 1');
      expect(text).toContain('seed_http_requests_total{method="POST",route="/v1/events/:eventId/reward",status="204"} 2');
      expect(text).toMatch(/seed_http_request_duration_seconds_bucket\{method="POST",route="\/v1\/predict",status="200",le="\+Inf"\} 3/);
      expect(text).toContain('seed_predictions_total{model_version="v1"} 3');
      expect(text).toContain('seed_rewards_total{model_version="v1"} 2');
      // (0 + 1 + the default −0.5) / 3
      expect(text).toContain(`seed_reward_mean{model_version="v1"} ${0.5 / 3}`);
      // The registry listing says the same per version (the /models page charts it).
      const { models } = await json(await harness.request('GET', '/v1/models', { token: KEYS.reader }));
      expect(models.map((m: { version: string; online: unknown }) => [m.version, m.online])).toEqual([['v1', { predictions: 3, rewards: 2, rewardMean: 0.5 / 3 }]]);
    });
  });
}
