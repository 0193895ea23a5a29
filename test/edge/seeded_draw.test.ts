// EXPLORATION_SEED: each exploration draw a keyed hash of (key id, event id), so paired experiment runs log the same
// actions whatever order their requests arrive in; without it the draws come from the app's random source.
import { EXPLORATION_SEED_WARNING, parseExploration, policyDistribution, seededDraw, settingsFrom, type Env, type Storage } from '@seed/edge';
import { gridImage, readModel, WasmEngine } from '@seed/runtime/engine';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ADMIN_TOKEN, json, KEY_SETTINGS, KEYS, LINEAR_ARCHITECTURE, modelFile } from './fixtures';
import { edgeHarness, simdEngine, sqliteTarget, type StorageTarget } from './support';

it('EXPLORATION_SEED logs one warning line when the settings are read, never the seed; unset, none', () => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    settingsFrom({ EXPLORATION_SEED: 'secret-seed' });
    settingsFrom({});
    expect(warn.mock.calls).toEqual([[EXPLORATION_SEED_WARNING]]);
    expect(EXPLORATION_SEED_WARNING).not.toContain('secret-seed');
  } finally {
    warn.mockRestore();
  }
});

it('seededDraw: the same draw for the same seed, key and event; another for any other; uniform in [0, 1)', async () => {
  const first = await seededDraw('seed-a', 'k_1', 'e-1');
  expect(await seededDraw('seed-a', 'k_1', 'e-1')).toBe(first);
  expect(await seededDraw('seed-b', 'k_1', 'e-1')).not.toBe(first);
  expect(await seededDraw('seed-a', 'k_2', 'e-1')).not.toBe(first);
  expect(await seededDraw('seed-a', 'k_1', 'e-2')).not.toBe(first);
  const draws = await Promise.all(Array.from({ length: 2000 }, (_, i) => seededDraw('seed-a', 'k_1', `e-${i}`)));
  expect(draws.every((d) => d >= 0 && d < 1)).toBe(true);
  // χ² over 10 bins; 27.88 is the 0.999 quantile for 9 degrees of freedom.
  const bins = new Array<number>(10).fill(0);
  draws.forEach((d) => bins[Math.floor(d * 10)]++);
  expect(bins.reduce((sum, count) => sum + (count - 200) ** 2 / 200, 0)).toBeLessThan(27.88);
});

describe('POST /v1/predict with EXPLORATION_SEED', () => {
  let target: StorageTarget;
  beforeAll(async () => {
    target = await sqliteTarget();
  });
  afterAll(() => target?.close());

  const file = modelFile('linear', 5, undefined, LINEAR_ARCHITECTURE);
  const pixels = gridImage(42);

  /** A fresh store and app (its own random source), the linear model active; returns a predict that sends ids in the order given. */
  async function server(settings: Env, randomSeed: number) {
    const storage: Storage = await target.fresh();
    const harness = edgeHarness(storage, { ...KEY_SETTINGS, EXPLORATION: 'softmax:0.5', ...settings }, randomSeed);
    await harness.request('PUT', '/v1/models/linear', { body: await file, token: ADMIN_TOKEN });
    await harness.request('POST', '/v1/models/linear/promote', { token: ADMIN_TOKEN });
    return async (eventIds: string[], key: string = KEYS.client): Promise<Map<string, number>> => {
      const response = await harness.request('POST', '/v1/predict', { json: { instances: eventIds.map((eventId) => ({ pixels, eventId })) }, token: key });
      expect(response.status).toBe(200);
      return new Map((await json(response)).predictions.map((p: { eventId: string; action: number }) => [p.eventId, p.action]));
    };
  }

  const ids = Array.from({ length: 64 }, (_, i) => `h1001-${i}`);

  it('logs the same action for the same key and event id, whatever the order, the batching or the app\'s random source', async () => {
    const one = await (await server({ EXPLORATION_SEED: 'paired' }, 1))(ids);
    const predict = await server({ EXPLORATION_SEED: 'paired' }, 2);
    const reversed = new Map([...(await predict(ids.slice(32).reverse())), ...(await predict(ids.slice(0, 32).reverse()))]);
    expect(reversed).toEqual(one);
    // The draws still vary between events: a softmax at 0.5 on this image gives more than one action.
    expect(new Set(one.values()).size).toBeGreaterThan(1);
    // Another key's events with the same ids are other events, with their own draws.
    const other = await predict(ids, KEYS.otherClient);
    expect([...other].filter(([id, action]) => one.get(id) !== action).length).toBeGreaterThan(0);
    // Another seed draws otherwise.
    const reseeded = await (await server({ EXPLORATION_SEED: 'another' }, 1))(ids);
    expect([...reseeded].filter(([id, action]) => one.get(id) !== action).length).toBeGreaterThan(0);
  });

  it('without it, the draws come from the app\'s random source: two sources, other actions', async () => {
    const [a, b] = [await (await server({}, 1))(ids), await (await server({}, 2))(ids)];
    expect([...a].filter(([id, action]) => b.get(id) !== action).length).toBeGreaterThan(0);
  });

  it('seeded draws keep the policy: action frequencies match the logged softmax', async () => {
    const predict = await server({ EXPLORATION_SEED: 'frequencies' }, 1);
    const counts = new Array<number>(10).fill(0);
    for (let batch = 0; batch < 16; batch++) (await predict(Array.from({ length: 64 }, (_, i) => `f-${batch}-${i}`))).forEach((action) => counts[action]++);
    const engine = new WasmEngine(simdEngine, await readModel(await file));
    const expected = policyDistribution(engine.logits(Float32Array.from(pixels), 1), parseExploration('softmax:0.5'));
    const draws = 16 * 64;
    let chiSquare = 0;
    expected.forEach((p, a) => {
      if (p * draws >= 1) chiSquare += (counts[a] - draws * p) ** 2 / (draws * p);
    });
    expect(chiSquare).toBeLessThan(27.88);
  });
});
