// Exploration policies: the formulas, and many draws through the API whose frequencies match the propensities.
import { argmax, parseExploration, policyDistribution, sampleIndex, type Env, type Storage } from '@seed/edge';
import { gridImage, readModel, WasmEngine } from '@seed/runtime/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, json, LINEAR_ARCHITECTURE, modelFile } from './fixtures';
import { edgeHarness, simdEngine, sqliteTarget, type StorageTarget } from './support';

const LOGITS = [0.3, -1.2, 2.5, 0.0, 0.7, 2.4, -0.4, 1.1, 0.2, -2.0];

describe('exploration policies', () => {
  it('parses the EXPLORATION setting and refuses anything else', () => {
    expect(parseExploration('epsilon:0.1')).toEqual({ kind: 'epsilon', epsilon: 0.1 });
    expect(parseExploration('softmax:1.0')).toEqual({ kind: 'softmax', temperature: 1 });
    expect(parseExploration('greedy')).toEqual({ kind: 'greedy' });
    for (const bad of ['epsilon:1.5', 'epsilon:', 'softmax:0', 'softmax:-1', 'greedy:1', 'boltzmann:1', '']) {
      expect(() => parseExploration(bad), bad).toThrow(/EXPLORATION must be/);
    }
  });

  it('gives ε-greedy, softmax and greedy distributions by their formulas', () => {
    const best = argmax(LOGITS);
    const epsilon = policyDistribution(LOGITS, { kind: 'epsilon', epsilon: 0.2 });
    epsilon.forEach((p, a) => expect(p).toBeCloseTo((a === best ? 0.8 : 0) + 0.02, 15));
    const softmax = policyDistribution(LOGITS, { kind: 'softmax', temperature: 0.5 });
    const total = LOGITS.reduce((sum, l) => sum + Math.exp(l / 0.5), 0);
    softmax.forEach((p, a) => expect(p).toBeCloseTo(Math.exp(LOGITS[a] / 0.5) / total, 15));
    expect(Array.from(policyDistribution(LOGITS, { kind: 'greedy' }))).toEqual(LOGITS.map((_, a) => (a === best ? 1 : 0)));
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
    const harness = edgeHarness(storage, { ADMIN_TOKEN, EXPLORATION: exploration } satisfies Env, 11);
    const file = await modelFile('linear', 5, undefined, LINEAR_ARCHITECTURE);
    await harness.request('PUT', '/v1/models/linear', { body: file, token: ADMIN_TOKEN });
    await harness.request('POST', '/v1/models/linear/promote', { token: ADMIN_TOKEN });
    const pixels = gridImage(42);
    const counts = new Array<number>(10).fill(0);
    const propensities = new Array<number | undefined>(10);
    let explored = 0;
    for (let b = 0; b < batches; b++) {
      const response = await harness.request('POST', '/v1/predict', { json: { instances: Array.from({ length: 64 }, () => ({ pixels })) } });
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
    const expected = policyDistribution(logits, { kind: 'softmax', temperature: 0.25 });
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

  it('greedy: always the argmax, with propensity 1', async () => {
    const { counts, propensities, explored, draws, logits } = await drawMany('greedy', 2);
    expect(counts[argmax(logits)]).toBe(draws);
    expect(propensities[argmax(logits)]).toBe(1);
    expect(explored).toBe(0);
  });

});
