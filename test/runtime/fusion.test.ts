// The fusion plan the GPU graph and the CPU engine share.
import { expect, it } from 'vitest';
import { buildNetwork, planStages, SEED_ARCHITECTURE, stageEnd, type LayerSpec } from '@seed/runtime';

it('the seed network: conv with its ReLU and pool (where allowed), flatten, fc1 with its ReLU', () => {
  const { trunk } = buildNetwork(SEED_ARCHITECTURE);
  expect(planStages(trunk, () => true)).toEqual([
    { kind: 'conv2d', at: 0, relu: true, pool: 2 }, { kind: 'flatten', at: 3 }, { kind: 'dense', at: 4, relu: true },
  ]);
  const unpooled = planStages(trunk, () => false);
  expect(unpooled).toEqual([
    { kind: 'conv2d', at: 0, relu: true, pool: undefined }, { kind: 'maxpool2d', at: 2 }, { kind: 'flatten', at: 3 }, { kind: 'dense', at: 4, relu: true },
  ]);
  expect(unpooled.map(stageEnd)).toEqual([1, 2, 3, 5]);
});

it('a pool straight after a convolution, a ReLU alone and a dense layer without ReLU each get their own stage or fusion', () => {
  const layers: LayerSpec[] = [
    { kind: 'input', shape: [1, 8, 8] },
    { kind: 'conv2d', name: 'a', inChannels: 1, outChannels: 2, kernelSize: 3, stride: 1, padding: 0 },
    { kind: 'maxpool2d', kernelSize: 2, stride: 2 },
    { kind: 'relu' },
    { kind: 'flatten' },
    { kind: 'dense', name: 'b', inFeatures: 18, outFeatures: 5 },
    { kind: 'dense', name: 'p', inFeatures: 5, outFeatures: 10, head: 'policy' },
  ];
  const { trunk } = buildNetwork(layers);
  const asked: [number, number][] = [];
  const stages = planStages(trunk, (conv, pool) => (asked.push([conv, pool]), true));
  expect(asked).toEqual([[0, 1]]);
  expect(stages).toEqual([{ kind: 'conv2d', at: 0, relu: false, pool: 1 }, { kind: 'relu', at: 2 }, { kind: 'flatten', at: 3 }, { kind: 'dense', at: 4, relu: false }]);
});
