// The whole network: the float64 reference's gradients against finite differences, then the GPU's against the reference.
import { describe, expect, it } from 'vitest';
import { rotateImagesRef } from '@seed/kernels';
import { buildNetwork, initialParameters, Model, Random, SEED_ARCHITECTURE, TrainingStep, type LayerSpec } from '@seed/runtime';
import { expectClose } from '../support/compare';
import { testGpus } from '../support/gpu';
import { expectGradient, numericGradient } from '../support/gradcheck';
import { referenceGradients } from '../support/reference_network';

// Odd sizes: 2 channels of 9×8 (9×9 where rotations need a square), padded conv, overlapping pool, a hidden
// dense layer, two heads.
const small = (width: number): LayerSpec[] => [
  { kind: 'input', shape: [2, 9, width] },
  { kind: 'conv2d', name: 'conv', inChannels: 2, outChannels: 3, kernelSize: 3, stride: 1, padding: 1 },
  { kind: 'relu' },
  { kind: 'maxpool2d', kernelSize: 3, stride: 2 },
  { kind: 'flatten' },
  { kind: 'dense', name: 'hidden', inFeatures: 3 * 4 * Math.floor((width - 3) / 2 + 1), outFeatures: 5 },
  { kind: 'relu' },
  { kind: 'dense', name: 'out', inFeatures: 5, outFeatures: 4, head: 'policy' },
  { kind: 'dense', name: 'aux', inFeatures: 5, outFeatures: 4, head: 'rotation' },
];

function problem(layers: LayerSpec[], batch: number, seed: number) {
  const network = buildNetwork(layers);
  const random = new Random(seed);
  const tensors = initialParameters(network, seed);
  const inputSize = network.input.reduce((a, b) => a * b, 1);
  const input = random.floats(batch * inputSize, 0, 1);
  const classes = network.heads.policy.outFeatures;
  const labels = Uint32Array.from({ length: batch }, () => random.int(classes));
  return { network, tensors, input, labels, batch };
}

describe('reference network', () => {
  it('gradients of every parameter match finite differences (float64)', () => {
    const { network, tensors, input, labels, batch } = problem(small(8), 3, 11);
    const params = new Map<string, Float64Array>([...tensors].map(([k, v]) => [k, Float64Array.from(v)]));
    const { grads } = referenceGradients(network, params, input, labels, batch, 'policy');
    for (const [name, value] of params) {
      if (name.startsWith('aux')) continue; // the rotation head plays no part in the policy loss
      const numeric = numericGradient((x) => {
        params.set(name, x);
        return referenceGradients(network, params, input, labels, batch, 'policy').loss;
      }, value);
      params.set(name, value);
      expectGradient(`reference ${name}`, grads.get(name)!, numeric);
    }
  });
});

describe.each(testGpus)('network on $backend', ({ cache }) => {
  it.each([
    ['small odd-sized network, batch 3', small(8), 3],
    ['seed network, batch 4', SEED_ARCHITECTURE, 4],
  ] as const)('%s, supervised: loss and every parameter gradient match the reference', async (_, layers, batch) => {
    const { network, tensors, input, labels } = problem(layers as LayerSpec[], batch, 5);
    const model = new Model(cache, network, tensors);
    const step = await TrainingStep.create(model, { batch, terms: { supervised: 1 }, lr: 0 });
    step.run({ images: input, labels });
    const { supervised: [loss] = [] } = await step.drainLosses();
    const grads = await model.store.download('grads');
    const ref = referenceGradients(network, tensors, input, labels, batch, 'policy');
    expectClose('network loss', [loss], [ref.loss]);
    for (const [name, grad] of ref.grads) expectClose(`network grad ${name.replace(/^(out|fc2)\./, 'head.')}`, grads.get(name)!, grad);
    expect((await model.tensors()).get(network.parameters[0].name)).toEqual(tensors.get(network.parameters[0].name));
    await model.destroy();
  });

  it('rotation term on a square network, batch 3: the GPU rotates the batch and matches the reference on the four rotations', async () => {
    const batch = 3;
    const { network, tensors, input } = problem(small(9), batch, 8);
    const model = new Model(cache, network, tensors);
    const step = await TrainingStep.create(model, { batch, terms: { rotation: 1 }, lr: 0 });
    step.run({ images: input });
    const { rotation: [loss] = [] } = await step.drainLosses();
    const grads = await model.store.download('grads');
    const rotated = rotateImagesRef({ batch, channels: 2, size: 9 }, input);
    const labels = Uint32Array.from({ length: 4 * batch }, (_, m) => m % 4);
    const ref = referenceGradients(network, tensors, rotated, labels, 4 * batch, 'rotation');
    expectClose('network loss', [loss], [ref.loss]);
    for (const [name, grad] of ref.grads) expectClose(`network grad ${name.replace(/^aux\./, 'head.')}`, grads.get(name)!, grad);
    await model.destroy();
  });

  it('two terms in one step add their weighted gradients: 0.3·supervised + 0.7·rotation', async () => {
    const batch = 3;
    const { network, tensors, input, labels } = problem(small(9), batch, 9);
    const model = new Model(cache, network, tensors);
    const step = await TrainingStep.create(model, { batch, terms: { supervised: 0.3, rotation: 0.7 }, lr: 0 });
    step.run({ images: input, labels });
    const grads = await model.store.download('grads');
    const supervised = referenceGradients(network, tensors, input, labels, batch, 'policy').grads;
    const rotationLabels = Uint32Array.from({ length: 4 * batch }, (_, m) => m % 4);
    const rotation = referenceGradients(network, tensors, rotateImagesRef({ batch, channels: 2, size: 9 }, input), rotationLabels, 4 * batch, 'rotation').grads;
    for (const { name } of network.parameters) {
      const expected = Float64Array.from(grads.get(name)!, (_, i) => 0.3 * (supervised.get(name)?.[i] ?? 0) + 0.7 * (rotation.get(name)?.[i] ?? 0));
      expectClose('network grad, two terms', grads.get(name)!, expected);
    }
    await model.destroy();
  });
});
