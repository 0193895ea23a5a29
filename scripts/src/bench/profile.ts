// Times one supervised training step on the chosen backend (SEED_BACKEND), then each of its dispatches alone.
// Usage: pnpm profile [batch]. The machine may be shared: every figure is a median of repeated runs (see bench/).
import { backendFromEnv, buildNetwork, getGpu, IMAGE_PIXELS, initialParameters, Model, PipelineCache, record, SEED_ARCHITECTURE, TrainingStep } from '@seed/runtime';
import { intFlag } from '../lib/cli';
import { timeRounds } from './measure';

export async function main(argv: string[]): Promise<void> {
  const gpu = await getGpu(backendFromEnv());
  const network = buildNetwork(SEED_ARCHITECTURE);
  const model = new Model(new PipelineCache(gpu), network, initialParameters(network, 1));
  const batch = intFlag('batch', argv[0], 64, 1, 4096);
  const step = await TrainingStep.create(model, { batch, terms: { supervised: 1 }, lr: 1e-3 });
  const images = new Float32Array(batch * IMAGE_PIXELS).map(() => Math.random());
  const labels = Uint32Array.from({ length: batch }, (_, i) => i % 10);
  const settle = () => gpu.device.queue.onSubmittedWorkDone();

  const { ms: stepMs } = await timeRounds(() => step.run({ images, labels }), settle, { rounds: 5, reps: 4 });
  console.log(`${gpu.backend} batch ${batch}: step ${stepMs.toFixed(1)} ms = ${((batch / stepMs) * 1000).toFixed(0)} img/s`);
  // The step's own dispatches, in order, each alone in its own submit.
  for (const d of [...step.dispatches(), ...step.adam.dispatches]) {
    const { ms } = await timeRounds(() => {
      const encoder = gpu.device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      record(pass, [d]);
      pass.end();
      gpu.device.queue.submit([encoder.finish()]);
    }, settle, { rounds: 7, reps: 1 });
    console.log(`  ${d.name.padEnd(28)} ${ms.toFixed(2)} ms  wg=${d.workgroups.join('x')}  ${(d.work.flops / ms / 1e6).toFixed(2)} GFLOP/s`);
  }
}
