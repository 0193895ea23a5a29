// Part 2: one supervised training step of the seed CNN (Adam, softmax cross-entropy) in images per second, at batch 64
// and 256: this project on both Dawn backends, tfjs-webgpu on the same adapters, tfjs-wasm and tfjs on the CPU. Every
// implementation trains the same network from the same weights on the same MNIST batch.
import { loadMnist, TrainingStep } from '@seed/runtime';
import { BACKENDS, benchGpu, network, tensors } from './gpus';
import { timeRounds, unavailable, type Row, type Settings } from './measure';
import { TfjsNetwork, useTfjs, type TfjsBackend } from './tfjs';

const LR = 1e-3;

export async function trainRows(settings: Settings): Promise<Row[]> {
  const batches = settings.quick ? [64] : [64, 256];
  const rounds = settings.quick ? 3 : 5;
  const { train } = loadMnist();
  const rows: Row[] = [];
  const row = (batch: number, who: string, backend: string, ms: number, samples: number, note: string): Row => ({
    part: 'train', what: `training step, batch ${batch}`, who, backend,
    figures: { throughput: { value: (batch / ms) * 1000, unit: 'img/s' }, step: { value: ms, unit: 'ms' } },
    samples, note,
  });
  for (const batch of batches) {
    const images = train.images.subarray(0, batch * 784);
    const labels = Uint32Array.from(train.labels.subarray(0, batch));

    for (const backend of BACKENDS) {
      try {
        const g = await benchGpu(backend);
        g.model.store.upload(tensors);
        g.model.store.resetOptimizer();
        const step = await TrainingStep.create(g.model, { batch, terms: { supervised: 1 }, lr: LR });
        // Steps back to back, as training runs them: the queue is waited on once per round.
        const timed = await timeRounds(() => step.run({ images, labels }), () => g.gpu.device.queue.onSubmittedWorkDone(), { rounds, roundMs: 400 });
        rows.push(row(batch, 'seed', backend, timed.ms, rounds, `${timed.reps} steps per round, one submit each; ${g.gpu.description}`));
        step.destroy();
      } catch (error) {
        rows.push(unavailable('train', `training step, batch ${batch}`, 'seed', backend, error));
      }
    }

    const references: [TfjsBackend, string, string][] = [
      ...BACKENDS.map((b) => [`webgpu-${b}`, 'tfjs-webgpu', b] as [TfjsBackend, string, string]),
      ['wasm', 'tfjs-wasm', 'wasm'],
      ['cpu', 'tfjs-cpu', 'cpu'],
    ];
    for (const [tfjsBackend, who, backend] of references) {
      try {
        const description = await useTfjs(tfjsBackend);
        settings.log(`training step, batch ${batch}: ${description}`);
        const net = new TfjsNetwork(network, tensors);
        const step = net.trainer(LR, network.heads.policy.outFeatures);
        const losses: { data(): Promise<unknown>; dispose(): void }[] = [];
        const settle = async () => {
          await losses[losses.length - 1].data();
          for (const loss of losses.splice(0)) loss.dispose();
        };
        // tfjs-cpu takes seconds a step: one step a round there, and fewer rounds in a quick run.
        const slow = tfjsBackend === 'cpu';
        const timed = await timeRounds(() => losses.push(step(images, labels, batch)), settle, { rounds: slow && settings.quick ? 1 : rounds, roundMs: slow ? 1 : 400 });
        rows.push(row(batch, who, backend, timed.ms, timed.rounds.length, `${timed.reps} steps per round, ending on a loss read-back; ${description}`));
        net.dispose();
      } catch (error) {
        rows.push(unavailable('train', `training step, batch ${batch}`, who, backend, error));
      }
    }
  }
  return rows;
}
