import { describe, expect, it, vi } from 'vitest';
import {
  buildNetwork, CpuEngine, IMAGE_PIXELS, initialParameters, loadMnist, Model, SEED_ARCHITECTURE, softmaxRows, subset, trainModel, TrainingStep, withProjectionHead, type LoggedEvent,
} from '@seed/runtime';
import { testGpus } from '../support/gpu';

const { train, test } = loadMnist();
const network = buildNetwork(SEED_ARCHITECTURE);

describe('MNIST split', () => {
  it('is 8,000 train and 2,000 test digits with no image in both', () => {
    expect(train.count).toBe(8000);
    expect(test.count).toBe(2000);
    const key = (images: Float32Array, i: number) => images.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS).join(',');
    const seen = new Set(Array.from({ length: train.count }, (_, i) => key(train.images, i)));
    const overlap = Array.from({ length: test.count }, (_, i) => key(test.images, i)).filter((k) => seen.has(k));
    expect(overlap.length).toBe(0);
    expect(new Set(test.labels).size).toBe(10);
  });
});

describe.each(testGpus)('training on $backend', ({ cache }) => {
  it('50 steps on 512 MNIST images lower the loss by at least half; the CPU engine then matches the GPU', async () => {
    const model = new Model(cache, network, initialParameters(network, 1));
    const batch = 64;
    const step = await TrainingStep.create(model, { batch, terms: { supervised: 1 }, lr: 2e-3 });
    for (let s = 0; s < 50; s++) {
      const start = (s % 8) * batch;
      step.run({ images: train.images.subarray(start * IMAGE_PIXELS, (start + batch) * IMAGE_PIXELS), labels: Uint32Array.from(train.labels.subarray(start, start + batch)) });
    }
    const losses = (await step.drainLosses()).supervised!;
    expect(losses.length).toBe(50);
    const first = losses[0];
    const last = losses.slice(-8).reduce((a, b) => a + b, 0) / 8;
    console.log(`loss ${first.toFixed(3)} → ${last.toFixed(3)} over 50 steps`);
    expect(last).toBeLessThan(first / 2);

    // Inference on the 1,000 first test images: CPU engine (the edge's) against the WebGPU forward pass.
    const count = 1000;
    const images = test.images.subarray(0, count * IMAGE_PIXELS);
    const tensors = await model.tensors();
    const cpu = new CpuEngine({ network, tensors }).probabilities(images, count);
    const gpu = softmaxRows(await model.logits(images, count), count, 10);
    let worst = 0;
    for (let i = 0; i < cpu.length; i++) worst = Math.max(worst, Math.abs(cpu[i] - gpu[i]) / Math.max(gpu[i], 1e-30));
    console.log(`CPU engine vs WebGPU probabilities on ${count} images: max relative difference ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
    await model.destroy();
  });
  it('a trunk learning-rate scale of 0 freezes the trunk (a linear probe) and 0.5 moves it less than 1', async () => {
    const batch = 32;
    const images = train.images.subarray(0, batch * IMAGE_PIXELS);
    const labels = Uint32Array.from(train.labels.subarray(0, batch));
    const change = async (trunkLrScale: number) => {
      const model = new Model(cache, network, initialParameters(network, 3));
      const before = await model.tensors();
      const step = await TrainingStep.create(model, { batch, terms: { supervised: 1 }, lr: 1e-3, trunkLrScale });
      for (let s = 0; s < 3; s++) step.run({ images, labels });
      const after = await model.tensors();
      step.destroy();
      await model.destroy();
      const moved = (name: string) => after.get(name)!.reduce((m, v, i) => Math.max(m, Math.abs(v - before.get(name)![i])), 0);
      return { conv: moved('conv.weight'), fc1: moved('fc1.bias'), fc2: moved('fc2.weight'), rot: moved('rot.weight') };
    };
    const frozen = await change(0);
    expect(frozen.conv).toBe(0);
    expect(frozen.fc1).toBe(0);
    expect(frozen.fc2).toBeGreaterThan(1e-4);
    // The rotation head gets no gradient from this loss, so Adam leaves it where it was.
    expect(frozen.rot).toBe(0);
    const half = await change(0.5);
    const full = await change(1);
    // Adam's first steps move each weight by about lr·scale, whatever the gradient's size.
    expect(half.conv / full.conv).toBeGreaterThan(0.4);
    expect(half.conv / full.conv).toBeLessThan(0.6);
    expect(half.fc2).toBeCloseTo(full.fc2, 6);
  });
});

describe.each(testGpus)('the events phase on $backend', ({ cache }) => {
  const withProjection = buildNetwork(withProjectionHead(SEED_ARCHITECTURE, network.features, 16));
  const events: LoggedEvent[] = Array.from({ length: 32 }, (_, i) => ({
    eventId: `e${i}`, pixels: train.images.slice(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS), action: i % 10, propensity: 0.1, reward: i % 10 === train.labels[i] ? 1 : 0,
  }));
  const plan = { pretrainEpochs: 0, labels: 0, epochs: 1, events, alpha: 0.2, batch: 16, lr: 1e-3, seed: 1 };

  it('hands the self-supervised term `selfImages` images of each batch (half the batch by default)', async () => {
    const create = vi.spyOn(TrainingStep, 'create');
    try {
      for (const [selfImages, expected] of [[undefined, 8], [4, 4]] as const) {
        const model = new Model(cache, withProjection, initialParameters(withProjection, 2));
        await trainModel(model, { train, test: subset(test, [0, 1, 2, 3]) }, { ...plan, selfImages });
        expect(create.mock.calls.at(-1)![1].contrastive?.images).toBe(expected);
        expect(create.mock.calls.at(-1)![1].terms).toEqual({ contrastive: 0.2, policy: 0.8 });
        await model.destroy();
      }
    } finally {
      create.mockRestore();
    }
  });

  it('refuses a count of self-supervised images that is not a whole number ≥ 1', async () => {
    const model = new Model(cache, withProjection, initialParameters(withProjection, 2));
    for (const selfImages of [0, 2.5]) await expect(trainModel(model, { train, test }, { ...plan, selfImages })).rejects.toThrow(/selfImages must be a whole number/);
    await model.destroy();
  });
});
