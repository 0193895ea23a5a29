import { describe, expect, it } from 'vitest';
import { buildNetwork, CpuEngine, IMAGE_SIZE, initialParameters, loadMnist, Model, SEED_ARCHITECTURE, softmaxRows, TrainingStep } from '@seed/runtime';
import { testGpus } from '../support/gpu';

const { train, test } = loadMnist();
const network = buildNetwork(SEED_ARCHITECTURE);

describe('MNIST split', () => {
  it('is 8,000 train and 2,000 test digits with no image in both', () => {
    expect(train.count).toBe(8000);
    expect(test.count).toBe(2000);
    const key = (images: Float32Array, i: number) => images.subarray(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE).join(',');
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
      step.run({ images: train.images.subarray(start * IMAGE_SIZE, (start + batch) * IMAGE_SIZE), labels: Uint32Array.from(train.labels.subarray(start, start + batch)) });
    }
    const losses = (await step.drainLosses()).supervised!;
    expect(losses.length).toBe(50);
    const first = losses[0];
    const last = losses.slice(-8).reduce((a, b) => a + b, 0) / 8;
    console.log(`loss ${first.toFixed(3)} → ${last.toFixed(3)} over 50 steps`);
    expect(last).toBeLessThan(first / 2);

    // Inference on the 1,000 first test images: CPU engine (the edge's) against the WebGPU forward pass.
    const count = 1000;
    const images = test.images.subarray(0, count * IMAGE_SIZE);
    const tensors = await model.tensors();
    const cpu = new CpuEngine({ network, tensors }).probabilities(images, count);
    const gpu = softmaxRows(await model.logits(images, count), count, 10);
    let worst = 0;
    for (let i = 0; i < cpu.length; i++) worst = Math.max(worst, Math.abs(cpu[i] - gpu[i]) / Math.max(gpu[i], 1e-30));
    console.log(`CPU engine vs WebGPU probabilities on ${count} images: max relative difference ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
    await model.destroy();
  });
});
