// Times each dispatch of one supervised training step, alone, on the chosen backend.
import { buildNetwork, getGpu, initialParameters, Model, PipelineCache, SEED_ARCHITECTURE, TrainingStep, record, backendFromEnv } from '@seed/runtime';

const gpu = await getGpu(backendFromEnv());
const network = buildNetwork(SEED_ARCHITECTURE);
const model = new Model(new PipelineCache(gpu), network, initialParameters(network, 1));
const batch = Number(process.argv[2] ?? 64);
const step = await TrainingStep.create(model, { batch, terms: { supervised: 1 }, lr: 1e-3 });
const images = new Float32Array(batch * 784).map(() => Math.random());
const labels = Uint32Array.from({ length: batch }, (_, i) => i % 10);
for (let i = 0; i < 3; i++) step.run({ images, labels });
await gpu.device.queue.onSubmittedWorkDone();
let t = performance.now();
for (let i = 0; i < 10; i++) step.run({ images, labels });
await gpu.device.queue.onSubmittedWorkDone();
const stepMs = (performance.now() - t) / 10;
console.log(`${gpu.backend} batch ${batch}: step ${stepMs.toFixed(1)} ms = ${(batch / stepMs * 1000).toFixed(0)} img/s`);
const terms = (step as any).terms as any[];
const all = [...terms[0].graph.forward, terms[0].loss, ...terms[0].graph.backward, step.adam.dispatch];
for (const d of all) {
  const reps = 5;
  t = performance.now();
  for (let i = 0; i < reps; i++) {
    const enc = gpu.device.createCommandEncoder(); const pass = enc.beginComputePass(); record(pass, [d]); pass.end(); gpu.device.queue.submit([enc.finish()]);
  }
  await gpu.device.queue.onSubmittedWorkDone();
  console.log(`  ${d.name.padEnd(28)} ${((performance.now() - t) / reps).toFixed(2)} ms  wg=${d.workgroups.join('x')}`);
}
