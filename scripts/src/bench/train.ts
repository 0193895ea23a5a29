// Part 2: one supervised training step of the seed CNN (Adam, softmax cross-entropy) in images per second, at batch 64
// and 256: this project on both Dawn backends, tfjs-webgpu on the same adapters, tfjs-wasm and tfjs on the CPU. Every
// implementation trains the same network from the same weights on the same MNIST batch. Each reference runs in turns
// with this project's steps (see interleave), so the ratios compare rounds taken under the same load.
import { IMAGE_PIXELS, loadMnist, TrainingStep, type Backend } from '@seed/runtime';
import { BACKENDS, benchGpu, network, tensors } from './gpus';
import { interleave, median, pairedRatio, prepareRound, unavailable, type Round, type Row, type Settings } from './measure';
import { TfjsNetwork, useTfjs, type TfjsBackend } from './tfjs';

const LR = 1e-3;

export async function trainRows(settings: Settings): Promise<Row[]> {
  const batches = settings.quick ? [64] : [64, 256];
  const turns = settings.quick ? 3 : 5;
  const { train } = loadMnist();
  const rows: Row[] = [];
  const what = (batch: number) => `training step, batch ${batch}`;
  const figures = (batch: number, ms: number) => ({ throughput: { value: (batch / ms) * 1000, unit: 'img/s' }, step: { value: ms, unit: 'ms' } });

  for (const batch of batches) {
    const images = train.images.subarray(0, batch * IMAGE_PIXELS);
    const labels = Uint32Array.from(train.labels.subarray(0, batch));

    // This project's step on each backend, ready to take turns.
    const seeds: { backend: Backend; round: Round; reps: number; description: string; times: number[]; destroy(): void }[] = [];
    for (const backend of BACKENDS) {
      try {
        const g = await benchGpu(backend);
        g.model.store.upload(tensors);
        g.model.store.resetOptimizer();
        const step = await TrainingStep.create(g.model, { batch, terms: { supervised: 1 }, lr: LR });
        // Steps back to back, as training runs them: the queue is waited on once per round.
        const { round, reps } = await prepareRound(() => step.run({ images, labels }), () => g.gpu.device.queue.onSubmittedWorkDone(), { roundMs: 400 });
        seeds.push({ backend, round, reps, description: g.gpu.description, times: [], destroy: () => step.destroy() });
      } catch (error) {
        rows.push(unavailable('train', what(batch), 'seed', backend, error));
      }
    }

    const references: [TfjsBackend, string, string][] = [
      ...BACKENDS.map((b) => [`webgpu-${b}`, 'tfjs-webgpu', b] as [TfjsBackend, string, string]),
      ['wasm', 'tfjs-wasm', 'wasm'],
      ['cpu', 'tfjs-cpu', 'cpu'],
    ];
    const referenceRows: Row[] = [];
    for (const [tfjsBackend, who, backend] of references) {
      if (tfjsBackend === 'cpu' && settings.quick) {
        referenceRows.push({ part: 'train', what: what(batch), who, backend, figures: {}, unavailable: 'skipped by --quick (several seconds a step): pnpm bench --only train measures it' });
        continue;
      }
      try {
        const description = await useTfjs(tfjsBackend);
        settings.log(`${what(batch)}: ${description}`);
        const net = new TfjsNetwork(network, tensors);
        const step = net.trainer(LR, network.heads.policy.outFeatures);
        const losses: { data(): Promise<unknown>; dispose(): void }[] = [];
        const settle = async () => {
          await losses[losses.length - 1].data();
          for (const loss of losses.splice(0)) loss.dispose();
        };
        // tfjs-cpu takes seconds a step (half a minute at batch 256): one step a round, and fewer turns.
        const slow = tfjsBackend === 'cpu';
        const { round, reps } = await prepareRound(() => losses.push(step(images, labels, batch)), settle, { roundMs: slow ? 1 : 400 });
        // tfjs-webgpu takes turns with seed on the same Dawn backend; the CPU references with seed on both.
        const partners = seeds.filter((s) => tfjsBackend.startsWith('webgpu') ? s.backend === backend : true);
        const times = await interleave([...partners.map((s) => s.round), round], slow ? 3 : turns);
        const mine = times[partners.length];
        partners.forEach((s, i) => s.times.push(...times[i]));
        referenceRows.push({
          part: 'train', what: what(batch), who, backend, figures: figures(batch, median(mine)), samples: mine.length,
          note: `${reps} steps per round, ending on a loss read-back; ${description}`,
          seedFaster: Object.fromEntries(partners.map((s, i) => [s.backend, pairedRatio(mine, times[i])])),
        });
        net.dispose();
      } catch (error) {
        referenceRows.push(unavailable('train', what(batch), who, backend, error));
      }
    }
    for (const s of seeds) {
      if (s.times.length === 0) s.times.push(...(await interleave([s.round], turns))[0]); // no reference ran
      rows.push({
        part: 'train', what: what(batch), who: 'seed', backend: s.backend, figures: figures(batch, median(s.times)), samples: s.times.length,
        note: `${s.reps} steps per round, one submit each, rounds taken in turns with each reference; ${s.description}`,
      });
      s.destroy();
    }
    rows.push(...referenceRows);
  }
  return rows;
}
