// Times one supervised training step on the chosen backend (SEED_BACKEND), then each of its dispatches alone.
// Usage: profile_step.ts [batch]. The machine may be shared: every figure is a median of repeated runs.
import { buildNetwork, getGpu, initialParameters, Model, PipelineCache, SEED_ARCHITECTURE, TrainingStep, record, backendFromEnv } from '@seed/runtime';

const gpu = await getGpu(backendFromEnv());
const network = buildNetwork(SEED_ARCHITECTURE);
const model = new Model(new PipelineCache(gpu), network, initialParameters(network, 1));
const batch = Number(process.argv[2] ?? 64);
const step = await TrainingStep.create(model, { batch, terms: { supervised: 1 }, lr: 1e-3 });
const images = new Float32Array(batch * 784).map(() => Math.random());
const labels = Uint32Array.from({ length: batch }, (_, i) => i % 10);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

/** Median over `rounds` of the mean time of `reps` back-to-back runs, in ms. */
async function time(run: () => void, rounds: number, reps: number): Promise<number> {
  run();
  await gpu.device.queue.onSubmittedWorkDone();
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < reps; i++) run();
    await gpu.device.queue.onSubmittedWorkDone();
    times.push((performance.now() - start) / reps);
  }
  return median(times);
}

const stepMs = await time(() => step.run({ images, labels }), 5, 4);
console.log(`${gpu.backend} batch ${batch}: step ${stepMs.toFixed(1)} ms = ${((batch / stepMs) * 1000).toFixed(0)} img/s`);
// The step's own dispatches, in order (a private field: this is a diagnostic).
for (const d of [...step.dispatches(), ...step.adam.dispatches]) {
  const ms = await time(() => {
    const encoder = gpu.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    record(pass, [d]);
    pass.end();
    gpu.device.queue.submit([encoder.finish()]);
  }, 7, 1);
  console.log(`  ${d.name.padEnd(28)} ${ms.toFixed(2)} ms  wg=${d.workgroups.join('x')}`);
}
