// A weights file may carry heads besides policy and rotation (the contrastive projection head): it reads, the edge
// accepts the upload, and serving answers from the policy head alone, exactly as without the extra head.
import { expect, it } from 'vitest';
import {
  buildNetwork, CpuEngine, initialParameters, loadMnist, readModel, SEED_ARCHITECTURE, softmaxRows, withProjectionHead, writeModel,
} from '@seed/runtime';
import { ADMIN_TOKEN, json, KEY_SETTINGS, KEYS } from '../edge/fixtures';
import { edgeHarness, sqliteTarget } from '../edge/support';

it('a model with a projection head reads, uploads, and serves the policy probabilities of the same model without it', async () => {
  const plain = buildNetwork(SEED_ARCHITECTURE);
  const extended = buildNetwork(withProjectionHead(SEED_ARCHITECTURE, plain.features));
  expect(extended.heads.projection?.outFeatures).toBe(32);
  const tensors = initialParameters(extended, 5);
  const bytes = await writeModel(extended, tensors, { version: 'v1' });
  expect((await readModel(bytes)).tensors.has('proj.weight')).toBe(true);

  const target = await sqliteTarget();
  try {
    const { request } = edgeHarness(await target.fresh(), KEY_SETTINGS);
    expect((await request('PUT', '/v1/models/v1', { body: bytes, token: ADMIN_TOKEN })).status).toBe(201);
    expect((await request('POST', '/v1/models/v1/promote', { token: ADMIN_TOKEN })).status).toBe(200);
    const pixels = Array.from(loadMnist().test.images.subarray(0, 784));
    const answer = (await json(await request('POST', '/v1/predict', { json: { pixels }, token: KEYS.client }))) as { probabilities: number[] };
    const withoutExtra = new Map([...tensors].filter(([name]) => !name.startsWith('proj.')));
    const expected = softmaxRows(new CpuEngine({ network: plain, tensors: withoutExtra }).logits(Float32Array.from(pixels), 1), 1, 10);
    answer.probabilities.forEach((p, k) => expect(Math.abs(p - expected[k])).toBeLessThan(1e-4));
  } finally {
    await target.close();
  }
});

it('head names are checked like layer names, and a second head of one name is refused', () => {
  const head = (name: string, role: string) => ({ kind: 'dense', name, inFeatures: 64, outFeatures: 8, head: role });
  expect(() => buildNetwork([...SEED_ARCHITECTURE, head('x', 'no spaces')])).toThrow(/head must match/);
  expect(() => buildNetwork([...SEED_ARCHITECTURE, head('x', 'clusters'), head('y', 'clusters')])).toThrow(/second clusters head/);
});
