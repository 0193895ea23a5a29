// Exploration policies: the formulas, and many draws through the API whose frequencies match the propensities.
import { argmax, DEFAULT_SOFTMAX_FLOOR, explorationFloor, formatExploration, parseExploration, policyDistribution, sampleIndex, type Env, type Storage } from '@seed/edge';
import { challengerMixture, gridImage, readModel, WasmEngine } from '@seed/runtime/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, json, KEY_SETTINGS, KEYS, LINEAR_ARCHITECTURE, modelFile, readExport } from './fixtures';
import { edgeHarness, simdEngine, sqliteTarget, type StorageTarget } from './support';

const LOGITS = [0.3, -1.2, 2.5, 0.0, 0.7, 2.4, -0.4, 1.1, 0.2, -2.0];

describe('exploration policies', () => {
  it('parses the EXPLORATION setting and refuses anything else', () => {
    expect(parseExploration('epsilon:0.1')).toEqual({ kind: 'epsilon', epsilon: 0.1 });
    expect(parseExploration('softmax:1.0')).toEqual({ kind: 'softmax', temperature: 1, floor: DEFAULT_SOFTMAX_FLOOR });
    expect(parseExploration('softmax:0.5:0.2')).toEqual({ kind: 'softmax', temperature: 0.5, floor: 0.2 });
    expect(parseExploration('greedy')).toEqual({ kind: 'greedy' });
    for (const text of ['epsilon:0.1', 'softmax:0.5:0.2', 'greedy']) expect(formatExploration(parseExploration(text))).toBe(text);
    // No floor, no exploring policy: ε = 0 and a softmax without its uniform share are refused.
    for (const bad of ['epsilon:1.5', 'epsilon:', 'epsilon:0', 'epsilon:0.1:0.1', 'softmax:0', 'softmax:-1', 'softmax:1:0', 'softmax:1:', 'softmax:1:1.5', 'greedy:1', 'boltzmann:1', '']) {
      expect(() => parseExploration(bad), bad).toThrow(/EXPLORATION must be/);
    }
  });

  it('gives ε-greedy, softmax and greedy distributions by their formulas', () => {
    const best = argmax(LOGITS);
    const epsilon = policyDistribution(LOGITS, { kind: 'epsilon', epsilon: 0.2 });
    epsilon.forEach((p, a) => expect(p).toBeCloseTo((a === best ? 0.8 : 0) + 0.02, 15));
    const softmax = policyDistribution(LOGITS, { kind: 'softmax', temperature: 0.5, floor: 0.1 });
    const total = LOGITS.reduce((sum, l) => sum + Math.exp(l / 0.5), 0);
    softmax.forEach((p, a) => expect(p).toBeCloseTo((0.9 * Math.exp(LOGITS[a] / 0.5)) / total + 0.01, 15));
    expect(Array.from(policyDistribution(LOGITS, { kind: 'greedy' }))).toEqual(LOGITS.map((_, a) => (a === best ? 1 : 0)));
  });

  it('every exploring policy gives each action at least γ/K, even against logits a sharp softmax would zero', () => {
    const sharp = [60, -60, 0, 0, 0, 0, 0, 0, 0, 0];
    for (const exploration of [parseExploration('epsilon:0.05'), parseExploration('softmax:0.1'), parseExploration('softmax:1:0.3')]) {
      const distribution = policyDistribution(sharp, exploration);
      expect(explorationFloor(exploration, 10)).toBeGreaterThan(0);
      expect(Math.min(...distribution)).toBeGreaterThanOrEqual(explorationFloor(exploration, 10) * (1 - 1e-12));
      expect(distribution.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
    expect(explorationFloor(parseExploration('softmax:1'), 10)).toBeCloseTo(DEFAULT_SOFTMAX_FLOOR / 10, 15);
  });

  it('a challenger mixes in only where its greedy action differs, at its share', () => {
    const active = policyDistribution(LOGITS, parseExploration('epsilon:0.1'));
    const other = policyDistribution(LOGITS.map((l, a) => (a === 7 ? 9 : l)), parseExploration('epsilon:0.1'));
    const mixed = challengerMixture(active, other, true, 0.25);
    expect(mixed.share).toBe(0.25);
    mixed.distribution.forEach((p, a) => expect(p).toBeCloseTo(0.75 * active[a] + 0.25 * other[a], 15));
    expect(Array.from(challengerMixture(active, other, false, 0.25).distribution)).toEqual(Array.from(active));
    expect(challengerMixture(active, other, false, 0.25).share).toBe(0);
    for (const bad of [0, 1, -0.1, Number.NaN]) expect(() => challengerMixture(active, other, true, bad)).toThrow(/share must be in \(0, 1\)/);
  });

  it('samples each index with its probability (inverse CDF)', () => {
    const distribution = new Float64Array([0.5, 0, 0.25, 0.25]);
    expect([0, 0.49, 0.5, 0.74, 0.75, 0.999999].map((u) => sampleIndex(distribution, u))).toEqual([0, 0, 2, 2, 3, 3]);
  });
});

describe('exploration through POST /v1/predict', () => {
  let target: StorageTarget;
  let storage: Storage;
  beforeAll(async () => {
    target = await sqliteTarget();
    storage = await target.fresh();
  });
  afterAll(() => target?.close());

  /** Draws 64 × `batches` predictions of one image from a linear policy and compares action frequencies with the returned propensities. */
  async function drawMany(exploration: string, batches: number) {
    const harness = edgeHarness(storage, { ...KEY_SETTINGS, EXPLORATION: exploration } satisfies Env, 11);
    const file = await modelFile('linear', 5, undefined, LINEAR_ARCHITECTURE);
    await harness.request('PUT', '/v1/models/linear', { body: file, token: ADMIN_TOKEN });
    await harness.request('POST', '/v1/models/linear/promote', { token: ADMIN_TOKEN });
    const pixels = gridImage(42);
    const counts = new Array<number>(10).fill(0);
    const propensities = new Array<number | undefined>(10);
    let explored = 0;
    for (let b = 0; b < batches; b++) {
      const response = await harness.request('POST', '/v1/predict', { json: { instances: Array.from({ length: 64 }, () => ({ pixels })) }, token: KEYS.client });
      for (const p of (await json(response)).predictions) {
        counts[p.action]++;
        explored += p.explored ? 1 : 0;
        // One image, one policy: every draw of an action reports the same propensity.
        expect(p.propensity).toBe(propensities[p.action] ?? (propensities[p.action] = p.propensity));
      }
    }
    const engine = new WasmEngine(simdEngine, await readModel(file));
    const logits = engine.logits(Float32Array.from(pixels), 1);
    return { counts, propensities, explored, draws: 64 * batches, logits };
  }

  /** Pearson's χ² of the counts against draws·propensity; 27.88 is the 0.999 quantile for 9 degrees of freedom. */
  function expectFrequenciesMatch(counts: number[], propensities: (number | undefined)[], draws: number, expected: Float64Array) {
    let chiSquare = 0;
    expected.forEach((p, a) => {
      if (propensities[a] !== undefined) expect(propensities[a]).toBeCloseTo(p, 12);
      chiSquare += (counts[a] - draws * p) ** 2 / (draws * p);
    });
    expect(chiSquare).toBeLessThan(27.88);
  }

  it('ε-greedy: frequencies match (1−ε)·[a = argmax] + ε/10', async () => {
    const { counts, propensities, explored, draws, logits } = await drawMany('epsilon:0.3', 16);
    const expected = policyDistribution(logits, { kind: 'epsilon', epsilon: 0.3 });
    expectFrequenciesMatch(counts, propensities, draws, expected);
    expect(explored).toBe(draws - counts[argmax(logits)]);
  });

  it('softmax: frequencies match softmax(logits / T)', async () => {
    const { counts, propensities, draws, logits } = await drawMany('softmax:0.25', 16);
    const expected = policyDistribution(logits, { kind: 'softmax', temperature: 0.25, floor: DEFAULT_SOFTMAX_FLOOR });
    // Far from uniform, so the test cannot pass by accident, and every expected count large enough for χ².
    expect(Math.max(...expected) / Math.min(...expected)).toBeGreaterThan(5);
    expect(Math.min(...expected) * draws).toBeGreaterThan(5);
    expectFrequenciesMatch(counts, propensities, draws, expected);
  });

  it('refuses to serve with a bad setting: a 500 that names it', async () => {
    const response = await edgeHarness(storage, { EXPLORATION: 'boltzmann:2' }).request('GET', '/health');
    expect(response.status).toBe(500);
    expect((await json(response)).error).toEqual({ code: 'misconfigured', message: expect.stringContaining('EXPLORATION must be') });
  });

  it('with a challenger: frequencies match the logged mixture where the two disagree, the active policy alone where they agree', async () => {
    // No reward wait: every event exports at once.
    const harness = edgeHarness(storage, { ...KEY_SETTINGS, EXPLORATION: 'epsilon:0.2', REWARD_WAIT_SECONDS: '0' } satisfies Env, 13);
    const files = { active: await modelFile('lin-a', 5, undefined, LINEAR_ARCHITECTURE), challenger: await modelFile('lin-c', 6, undefined, LINEAR_ARCHITECTURE) };
    await harness.request('PUT', '/v1/models/lin-a', { body: files.active, token: ADMIN_TOKEN });
    await harness.request('PUT', '/v1/models/lin-c', { body: files.challenger, token: ADMIN_TOKEN });
    await harness.request('POST', '/v1/models/lin-a/promote', { token: ADMIN_TOKEN });
    expect((await harness.request('PUT', '/v1/challenger', { json: { version: 'lin-c', share: 0.3 }, token: ADMIN_TOKEN })).status).toBe(200);
    const engines = { active: new WasmEngine(simdEngine, await readModel(files.active)), challenger: new WasmEngine(simdEngine, await readModel(files.challenger)) };
    const greedyOf = (engine: WasmEngine, pixels: number[]) => argmax(engine.logits(Float32Array.from(pixels), 1));
    const images = Array.from({ length: 200 }, (_, i) => gridImage(i));
    const disagreeing = images.find((p) => greedyOf(engines.active, p) !== greedyOf(engines.challenger, p))!;
    const agreeing = images.find((p) => greedyOf(engines.active, p) === greedyOf(engines.challenger, p))!;
    expect(disagreeing && agreeing).toBeTruthy();
    const epsilon = parseExploration('epsilon:0.2');
    const distributionOf = (engine: WasmEngine, pixels: number[]) => policyDistribution(engine.logits(Float32Array.from(pixels), 1), epsilon);
    for (const [pixels, disagree] of [[disagreeing, true], [agreeing, false]] as const) {
      const expected = challengerMixture(distributionOf(engines.active, pixels), distributionOf(engines.challenger, pixels), disagree, 0.3);
      const counts = new Array<number>(10).fill(0);
      for (let b = 0; b < 16; b++) {
        const { predictions } = await json(await harness.request('POST', '/v1/predict', { json: { instances: Array.from({ length: 64 }, () => ({ pixels })) }, token: KEYS.client }));
        for (const p of predictions) {
          counts[p.action]++;
          expect(p.propensity).toBeCloseTo(expected.distribution[p.action], 12);
        }
      }
      const propensities = Array.from(expected.distribution);
      expectFrequenciesMatch(counts, propensities, 64 * 16, expected.distribution);
    }
    const logged = await readExport(await harness.request('GET', '/v1/events?limit=10000', { token: ADMIN_TOKEN }));
    const last = logged.events.at(-1)!;
    expect(last).toMatchObject({ exploration: 'epsilon:0.2', challengerVersion: 'lin-c', challengerShare: 0 });
    expect(logged.events.find((e) => e.challengerShare === 0.3)).toBeTruthy();
    // A greedy request is the active model's answer alone, logged as greedy.
    const greedy = await json(await harness.request('POST', '/v1/predict', { json: { pixels: disagreeing, explore: false }, token: KEYS.client }));
    expect([greedy.action, greedy.propensity]).toEqual([greedyOf(engines.active, disagreeing), 1]);
    const [greedyEvent] = (await readExport(await harness.request('GET', `/v1/events?after=${logged.nextCursor}`, { token: ADMIN_TOKEN }))).events;
    expect(greedyEvent).toMatchObject({ exploration: 'greedy', challengerVersion: null, challengerShare: 0 });
    expect((await harness.request('DELETE', '/v1/challenger', { token: ADMIN_TOKEN })).status).toBe(204);
  });

  it('greedy: always the argmax, with propensity 1', async () => {
    const { counts, propensities, explored, draws, logits } = await drawMany('greedy', 2);
    expect(counts[argmax(logits)]).toBe(draws);
    expect(propensities[argmax(logits)]).toBe(1);
    expect(explored).toBe(0);
  });

});
