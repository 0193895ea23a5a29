import { describe, expect, it, vi } from 'vitest';
import {
  buildNetwork, CpuEngine, IMAGE_PIXELS, initialParameters, loadMnist, Model, readFloats, SEED_ARCHITECTURE, softmaxRows, subset, trainModel, TrainingStep, withProjectionHead, type LoggedEvent,
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

  it('passes selfEvery to the step of the events phase', async () => {
    const create = vi.spyOn(TrainingStep, 'create');
    try {
      const model = new Model(cache, withProjection, initialParameters(withProjection, 2));
      await trainModel(model, { train, test: subset(test, [0, 1, 2, 3]) }, { ...plan, selfEvery: 3 });
      expect(create.mock.calls.at(-1)![1].selfEvery).toBe(3);
      await model.destroy();
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

/** Zeroes one tensor's gradients in the model's gradient buffer. */
function zeroRange(model: Model, name: string): void {
  const { buffer, offset, size } = model.store.range('grads', name);
  model.gpu.device.queue.writeBuffer(buffer, offset, new Uint8Array(size));
}

describe.each(testGpus)('a self-supervised term on one step in k, on $backend', ({ cache }) => {
  const withProjection = buildNetwork(withProjectionHead(SEED_ARCHITECTURE, network.features, 16));
  const batch = 12;
  // Four different batches of logged actions; learning rate 0, so every step sees the same parameters and the
  // gradients of two models can be compared step by step.
  const batches = [0, 1, 2, 3].map((s) => ({
    images: train.images.slice(s * batch * IMAGE_PIXELS, (s + 1) * batch * IMAGE_PIXELS),
    actions: Uint32Array.from({ length: batch }, (_, i) => (i + s) % 10),
    propensities: new Float32Array(batch).fill(0.1),
    rewards: Float32Array.from({ length: batch }, (_, i) => ((i + s) % 10 === train.labels[s * batch + i] ? 1 : 0)),
  }));
  const options = { batch, lr: 0, policy: { clip: 10, selfNormalize: true, baseline: 0.3 }, contrastive: { images: 5, seed: 4 } };

  it('runs the term with k× its weight on steps 0, k, 2k … and skips it between: the gradients of every step match', async () => {
    const k = 3;
    const a = new Model(cache, withProjection, initialParameters(withProjection, 5));
    const b = new Model(cache, withProjection, initialParameters(withProjection, 5));
    const sparse = await TrainingStep.create(a, { ...options, terms: { contrastive: 0.25, policy: 0.75 }, selfEvery: k });
    // The same loss on model b: the term at k× its weight on its steps, the policy term alone on the others.
    const full = await TrainingStep.create(b, { ...options, terms: { contrastive: 0.25 * k, policy: 0.75 } });
    const policyOnly = await TrainingStep.create(b, { ...options, terms: { policy: 0.75 } });
    let worst = 0;
    const projection = withProjection.heads.projection!.name;
    for (let s = 0; s < batches.length; s++) {
      sparse.run(batches[s]);
      // A step without the term leaves the projection head without gradients: zero, not the last step's.
      if (s % k !== 0) for (const name of [`${projection}.weight`, `${projection}.bias`]) zeroRange(b, name);
      (s % k === 0 ? full : policyOnly).run(batches[s]);
      const [ga, gb] = [await readFloats(a.gpu, a.store.grads, a.store.count), await readFloats(b.gpu, b.store.grads, b.store.count)];
      let scale = 0;
      for (const g of gb) scale = Math.max(scale, Math.abs(g));
      for (let i = 0; i < ga.length; i++) worst = Math.max(worst, Math.abs(ga[i] - gb[i]) / scale);
      expect(scale).toBeGreaterThan(0);
    }
    console.log(`selfEvery ${k}: largest gradient difference over 4 steps ${worst.toExponential(2)} of the largest gradient`);
    expect(worst).toBeLessThan(1e-5);
    // The loss log holds the steps each term ran: the policy term 4, the contrastive term 2 (steps 0 and 3).
    const losses = await sparse.drainLosses();
    expect(losses.policy).toHaveLength(4);
    expect(losses.contrastive).toHaveLength(2);
    // The skipped steps' gradients differ from the full step's: the comparison above could fail.
    const other = new Model(cache, withProjection, initialParameters(withProjection, 5));
    const always = await TrainingStep.create(other, { ...options, terms: { contrastive: 0.25 * k, policy: 0.75 } });
    always.run(batches[0]);
    always.run(batches[1]);
    const gAlways = await readFloats(other.gpu, other.store.grads, other.store.count);
    sparse.run(batches[1]);
    const gSparse = await readFloats(a.gpu, a.store.grads, a.store.count);
    expect(gAlways.some((g, i) => Math.abs(g - gSparse[i]) > 1e-4 * Math.abs(g) + 1e-7)).toBe(true);
    for (const step of [sparse, full, policyOnly, always]) step.destroy();
    for (const model of [a, b, other]) await model.destroy();
  });

  it("a term after the policy term overwrites its own head's gradients on every step: they do not add up over steps", async () => {
    const fused = new Model(cache, withProjection, initialParameters(withProjection, 6));
    const alone = new Model(cache, withProjection, initialParameters(withProjection, 6));
    const fusedStep = await TrainingStep.create(fused, { ...options, terms: { contrastive: 0.25, policy: 0.75 } });
    const aloneStep = await TrainingStep.create(alone, { ...options, terms: { contrastive: 0.25 } });
    for (const batch of batches.slice(0, 3)) {
      fusedStep.run(batch);
      aloneStep.run(batch);
    }
    const name = `${withProjection.heads.projection!.name}.weight`;
    const [gf, ga] = [(await fused.store.download('grads')).get(name)!, (await alone.store.download('grads')).get(name)!];
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < ga.length; i++) {
      worst = Math.max(worst, Math.abs(gf[i] - ga[i]));
      scale = Math.max(scale, Math.abs(ga[i]));
    }
    expect(scale).toBeGreaterThan(0);
    expect(worst / scale).toBeLessThan(1e-5);
    for (const step of [fusedStep, aloneStep]) step.destroy();
    for (const model of [fused, alone]) await model.destroy();
  });

  it('refuses selfEvery that is not a whole number ≥ 1, and above 1 without a term that runs on every step', async () => {
    const model = new Model(cache, withProjection, initialParameters(withProjection, 5));
    for (const selfEvery of [0, 1.5]) await expect(TrainingStep.create(model, { ...options, terms: { contrastive: 0.2, policy: 0.8 }, selfEvery })).rejects.toThrow(/selfEvery must be a whole number/);
    await expect(TrainingStep.create(model, { ...options, terms: { contrastive: 1 }, selfEvery: 2 })).rejects.toThrow(/needs a supervised or policy term/);
    await model.destroy();
  });
});
