// pnpm experiment:labels: does self-supervised pretraining help when labels are few? For each seed, the same
// fine-tuning on the first N labelled train images, once from a rotation-pretrained model and once from the random
// initialisation that pretraining started from; test accuracy (2,000 test images) per seed, mean and spread.
import {
  buildNetwork, getGpu, initialParameters, loadMnist, Model, PipelineCache, readModel, SEED_ARCHITECTURE, trainModel,
} from '@seed/runtime';
import { intFlag, numberFlag, parseFlags, writeFileAtomic } from '../lib/cli';
import { pretrainedModel } from '../train/pretrained';
import { trainingProgress } from '../lib/progress';
import { barChart } from '../lib/svg';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const spread = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / Math.max(1, xs.length - 1));

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({
    labels: { type: 'string' }, seeds: { type: 'string' }, 'pretrain-epochs': { type: 'string' }, epochs: { type: 'string' },
    lr: { type: 'string' }, out: { type: 'string' },
  }, argv);
  const labels = intFlag('labels', flags.labels, 100, 1, 8000);
  const seeds = intFlag('seeds', flags.seeds, 3, 1, 20);
  const pretrainEpochs = intFlag('pretrain-epochs', flags['pretrain-epochs'], 15, 1);
  const epochs = intFlag('epochs', flags.epochs, 60, 1);
  const lr = numberFlag('lr', flags.lr, 0.001, 0, 1, { exclusiveMin: true });
  const out = flags.out ?? `report/labels-${labels}`;

  const gpu = await getGpu(undefined, (line) => console.error(line));
  const cache = new PipelineCache(gpu);
  const network = buildNetwork(SEED_ARCHITECTURE);
  const data = loadMnist();
  const runs: { seed: number; pretrained: number; scratch: number }[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const accuracy = async (pretrain: number) => {
      // The pretrained start is cached per seed (as pnpm start caches it); from scratch starts from the same seed's init.
      const start = pretrain ? (await readModel((await pretrainedModel({ pretrainEpochs: pretrain, labels: 0, seed }, (l) => console.error(l))).file)).tensors : initialParameters(network, seed);
      const model = new Model(cache, network, start);
      const result = await trainModel(model, data, { pretrainEpochs: 0, labels, epochs, alpha: 0, batch: 64, lr, seed },
        trainingProgress(`seed ${seed} ${pretrain ? 'pretrained' : 'scratch'} `));
      await model.destroy();
      return result.testAccuracy;
    };
    const run = { seed, pretrained: await accuracy(pretrainEpochs), scratch: await accuracy(0) };
    runs.push(run);
    console.log(`seed ${seed}: ${labels} labels, pretrained ${(run.pretrained * 100).toFixed(2)}%, from scratch ${(run.scratch * 100).toFixed(2)}%`);
  }
  const summary = (key: 'pretrained' | 'scratch') => ({ mean: mean(runs.map((r) => r[key])), sd: spread(runs.map((r) => r[key])) });
  const result = { labels, epochs, lr, pretrainEpochs, seeds, runs, pretrained: summary('pretrained'), scratch: summary('scratch'), adapter: gpu.description, date: new Date().toISOString() };
  const pct = (s: { mean: number; sd: number }) => `${(s.mean * 100).toFixed(2)}% ± ${(s.sd * 100).toFixed(2)}`;
  console.log(`${labels} labels over ${seeds} seeds: pretrained (${pretrainEpochs} epochs) ${pct(result.pretrained)}, from scratch ${pct(result.scratch)}; ` +
    `pretraining won ${runs.filter((r) => r.pretrained > r.scratch).length} of ${seeds}`);
  writeFileAtomic(`${out}.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileAtomic(`${out}.svg`, barChart({
    title: `Test accuracy with ${labels} labels, pretrained or not`, unit: '%',
    bars: runs.flatMap((r) => [
      { label: `seed ${r.seed} pretrained`, value: r.pretrained * 100, group: 'pretrained' },
      { label: `seed ${r.seed} from scratch`, value: r.scratch * 100, group: 'scratch' },
    ]),
  }));
  console.log(`wrote ${out}.json and ${out}.svg`);
}

