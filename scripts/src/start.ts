// pnpm start: the main job. For now: self-supervised pretraining, a supervised warm start on a few labels, and an
// exported model; the serve/simulate/evolve loop joins it as those parts land.
import { buildNetwork, getGpu, initialParameters, loadMnist, Model, PipelineCache, SEED_ARCHITECTURE, trainModel, writeModel } from '@seed/runtime';
import { intFlag, parseFlags, runMain, writeFileAtomic } from './cli';
import { ProgressBar } from './progress';

async function main(): Promise<void> {
  const flags = parseFlags({ labels: { type: 'string' }, 'pretrain-epochs': { type: 'string' }, epochs: { type: 'string' } });
  const plan = {
    pretrainEpochs: intFlag('pretrain-epochs', flags['pretrain-epochs'], 1),
    labels: intFlag('labels', flags.labels, 1000, 0, 8000),
    epochs: intFlag('epochs', flags.epochs, 4),
    alpha: 0.5, batch: 64, lr: 0.002, seed: 1,
  };
  const gpu = await getGpu(undefined, (line) => console.log(line));
  const network = buildNetwork(SEED_ARCHITECTURE);
  const model = new Model(new PipelineCache(gpu), network, initialParameters(network, plan.seed));
  const bar = new ProgressBar();
  const result = await trainModel(model, loadMnist(), plan, {
    onProgress: (p) => bar.update(`${p.phase} ${p.epoch}/${p.epochs}`, p.step / p.steps, `${p.imagesPerSecond.toFixed(0)} img/s`),
    onEpoch: (r) => bar.done(`${r.phase} epoch ${r.epoch}: ${Object.entries(r.loss).map(([k, v]) => `${k} loss ${v!.toFixed(4)}`).join(', ')}` +
      `${typeof r.testAccuracy === 'number' ? `, test accuracy ${(r.testAccuracy * 100).toFixed(2)}%` : ''} (${r.imagesPerSecond.toFixed(0)} img/s)`),
  });
  const file = await writeModel(network, await model.tensors(), { version: 'v1', metrics: { testAccuracy: result.testAccuracy, labels: plan.labels } });
  writeFileAtomic('models/start.safetensors', file);
  console.log(`pretrained ${plan.pretrainEpochs} epoch(s) without labels, fine-tuned on ${plan.labels} labels: ` +
    `test accuracy ${(result.testAccuracy * 100).toFixed(2)}% on 2,000 test images; wrote models/start.safetensors`);
}

runMain(main);
