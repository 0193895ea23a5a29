// pnpm experiment:features: how good are self-supervised features before any reward? For each seed, the pretrained
// model of an objective (cached as pnpm start caches it), then on its frozen trunk features: a linear probe trained
// on the 8,000 train labels and scored on the 2,000 test digits, and k-means (k = 10) on the test digits scored by the
// Hungarian cluster → digit assignment, and the same score for the policy head's argmax (after contrastive
// pretraining the head starts as k-means clusters, after clusters as SCAN's). Labels are read for these scores only.
import {
  argmaxRows, clusteringAccuracy, getGpu, kMeans, linearProbe, loadMnist, Model, normalizeRows, PipelineCache, readModel,
} from '@seed/runtime';
import { intFlag, numberFlag, parseFlags, UsageError, writeFileAtomic } from '../lib/cli';
import { neighbourRoundsFlag, DEFAULT_PRETRAIN_EPOCHS, objectiveFlag, PRETRAIN_TEMPERATURE, pretrainedModel } from '../train/pretrained';
import { meanAndSd } from './summary';


export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({ 'pretrain-objective': { type: 'string' }, 'pretrain-epochs': { type: 'string' }, seeds: { type: 'string' }, temperature: { type: 'string' }, 'cluster-epochs': { type: 'string' }, 'neighbour-rounds': { type: 'string' }, out: { type: 'string' } }, argv);
  const objective = objectiveFlag(flags['pretrain-objective']);
  const epochs = intFlag('pretrain-epochs', flags['pretrain-epochs'], DEFAULT_PRETRAIN_EPOCHS[objective]);
  const seeds = intFlag('seeds', flags.seeds, 3, 1, 20);
  const temperature = numberFlag('temperature', flags.temperature, PRETRAIN_TEMPERATURE, 0.01, 10);
  const clusterEpochs = intFlag('cluster-epochs', flags['cluster-epochs'], 0, 0, 100);
  if (clusterEpochs > 0 && objective !== 'clusters') throw new UsageError('--cluster-epochs needs --pretrain-objective clusters');
  const neighbourRounds = neighbourRoundsFlag(flags['neighbour-rounds']);
  const out = flags.out ?? `report/features-${objective}-e${epochs}${objective !== 'rotation' ? `-n${neighbourRounds}` : ''}`;
  const gpu = await getGpu(undefined, (line) => console.error(line));
  const cache = new PipelineCache(gpu);
  const data = loadMnist();
  const runs: { seed: number; probe: number; clusters: number; policyClusters: number; pretrainSeconds: number }[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const pretrained = await readModel((await pretrainedModel({ pretrainObjective: objective, pretrainEpochs: epochs, labels: 0, seed, temperature, clusterEpochs, neighbourRounds }, (l) => console.error(l))).file);
    const model = new Model(cache, pretrained.network, pretrained.tensors);
    const dim = pretrained.network.features;
    const train = await model.features(data.train.images, data.train.count);
    const test = await model.features(data.test.images, data.test.count);
    const policy = argmaxRows(await model.logits(data.test.images, data.test.count), data.test.count, 10);
    await model.destroy();
    const probe = linearProbe({ x: train, labels: data.train.labels }, { x: test, labels: data.test.labels }, dim, 10, { seed });
    const clusters = clusteringAccuracy(kMeans(normalizeRows(test, data.test.count, dim), data.test.count, dim, 10, { seed }), data.test.labels, 10).accuracy;
    const policyClusters = clusteringAccuracy(policy, data.test.labels, 10).accuracy;
    const run = { seed, probe, clusters, policyClusters, pretrainSeconds: Number(pretrained.metadata.metrics.pretrainSeconds ?? NaN) + Number(pretrained.metadata.metrics.neighbourSeconds ?? 0) };
    runs.push(run);
    console.log(`seed ${seed}: ${objective} ${epochs} epochs${objective !== 'rotation' ? ` and ${neighbourRounds} neighbour rounds` : ''} (${run.pretrainSeconds} s): linear probe ${(probe * 100).toFixed(2)}%, k-means clusters ${(clusters * 100).toFixed(2)}%, policy head as clusters ${(policyClusters * 100).toFixed(2)}%`);
  }
  const summary = (key: 'probe' | 'clusters' | 'policyClusters') => meanAndSd(runs.map((r) => r[key]));
  const result = { objective, epochs, ...(objective !== 'rotation' && { temperature }), ...(clusterEpochs > 0 && { clusterEpochs }), ...(objective !== 'rotation' && { neighbourRounds }), seeds, runs, probe: summary('probe'), clusters: summary('clusters'), policyClusters: summary('policyClusters'), adapter: gpu.description, date: new Date().toISOString() };
  const pct = (s: { mean: number; sd: number }) => `${(s.mean * 100).toFixed(2)}% ± ${(s.sd * 100).toFixed(2)}`;
  console.log(`${objective} ${epochs} epochs over ${seeds} seeds: linear probe ${pct(result.probe)}, k-means clusters ${pct(result.clusters)}, policy head as clusters ${pct(result.policyClusters)}`);
  writeFileAtomic(`${out}.json`, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${out}.json`);
}
