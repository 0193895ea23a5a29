// pnpm experiment:labels: does self-supervised pretraining help when labels are few? For each label budget and seed,
// the same fine-tuning on the first N labelled train images, once from the pretrained model of an objective and once
// from the random initialisation that pretraining started from; test accuracy (2,000 test images) per seed, mean and
// spread. With 0 labels there is nothing to fine-tune: the score is the pretrained model's own clusters on the test
// digits (its policy head's argmax where pretraining fitted the head to clusters, else k-means, k = 10, on the trunk's
// features), each cluster named by the Hungarian assignment (labels read for the score only). With labels, a model
// whose policy head holds clusters starts from that head with its clusters named by the labelled images (the
// Hungarian assignment on them: the labels only say which cluster is which digit), else from a fresh head that
// learns from the labels alone first. Then, unless --self-training 0, both arms self-train (SELF_TRAINING): the model
// names the unlabelled train images it is surest of and trains on them beside the labelled ones, round by round.
import {
  argmaxRows, clusteringAccuracy, getGpu, initialParameters, kMeans, loadMnist, Model, nameClusters, normalizeRows, PipelineCache, readModel, selfTrain, subset, trainModel,
} from '@seed/runtime';
import { intFlag, numberFlag, parseFlags, UsageError, writeFileAtomic } from '../lib/cli';
import { neighbourRoundsFlag, DEFAULT_PRETRAIN_EPOCHS, objectiveFlag, pretrainedModel } from '../train/pretrained';
import { trainingProgress } from '../lib/progress';
import { barChart } from '../lib/svg';
import { meanAndSd } from './summary';
import { REWARD_RECIPE } from '../evolve/recipe';


/**
 * Self-training after the labels (see selfTrain): 8 rounds, each naming 50% → 80% of each class's unlabelled images by
 * the argmax of the model's probabilities balanced to equal class shares, 3 epochs (at least 300 steps) on them and
 * the labelled images, beside the contrastive term at weight 0.1 (measured better than the reward recipe's 0.2 here),
 * with the reward recipe's rates. docs/evolution.md, "Fifth round" and "Sixth round".
 */
export const SELF_TRAINING = {
  rounds: 8, first: 0.5, last: 0.8, balance: true, epochs: REWARD_RECIPE.epochs, minSteps: 300, alpha: 0.1, lr: REWARD_RECIPE.lr, trunkLrScale: REWARD_RECIPE.trunkLrScale, batch: 64,
} as const;

/** The labelled images: the first N of the training split. */
const firstIndices = (count: number) => Array.from({ length: count }, (_, i) => i);

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({
    labels: { type: 'string' }, seeds: { type: 'string' }, 'pretrain-epochs': { type: 'string' }, 'pretrain-objective': { type: 'string' }, epochs: { type: 'string' },
    lr: { type: 'string' }, 'head-lr': { type: 'string' }, 'trunk-lr-scale': { type: 'string' }, 'self-training': { type: 'string' }, 'neighbour-rounds': { type: 'string' }, out: { type: 'string' },
  }, argv);
  const budgets = (flags.labels ?? '0,100,1000').split(',').map((v) => intFlag('labels', v.trim(), 0, 0, 8000));
  if (budgets.length === 0) throw new UsageError('--labels needs at least one label budget, e.g. 0,100,1000');
  const objective = objectiveFlag(flags['pretrain-objective']);
  const seeds = intFlag('seeds', flags.seeds, 3, 1, 20);
  const pretrainEpochs = intFlag('pretrain-epochs', flags['pretrain-epochs'], DEFAULT_PRETRAIN_EPOCHS[objective], 1);
  const neighbourRounds = neighbourRoundsFlag(flags['neighbour-rounds']);
  const epochs = intFlag('epochs', flags.epochs, 60, 1);
  const lr = numberFlag('lr', flags.lr, 0.001, 0, 1, { exclusiveMin: true });
  // From the pretrained trunk the fresh head learns at --head-lr and the trunk at that times --trunk-lr-scale (by
  // default the from-scratch run's lr): the few labels mostly name what pretraining learned.
  const headLr = numberFlag('head-lr', flags['head-lr'], 0.01, 0, 1, { exclusiveMin: true });
  const trunkLrScale = numberFlag('trunk-lr-scale', flags['trunk-lr-scale'], 0.1, 0, 1);
  // Rounds of self-training after the labels (0: the labels alone), on both arms.
  const selfTrainingRounds = intFlag('self-training', flags['self-training'], SELF_TRAINING.rounds, 0, 20);
  const out = flags.out ?? `report/labels-${objective}`;

  const gpu = await getGpu(undefined, (line) => console.error(line));
  const cache = new PipelineCache(gpu);
  const data = loadMnist();
  const runs: { labels: number; seed: number; pretrained: number; scratch: number; named?: number; selfTraining?: Record<string, { fraction: number; named: number; right: number; testAccuracy: number }[]> }[] = [];
  for (const labels of budgets) {
    for (let seed = 1; seed <= seeds; seed++) {
      // The pretrained start is cached per seed (as pnpm start caches it); from scratch starts from the same seed's init.
      const pretrained = await readModel((await pretrainedModel({ pretrainObjective: objective, pretrainEpochs, labels: 0, seed, neighbourRounds }, (l) => console.error(l))).file);
      const network = pretrained.network;
      // The clusters objective fits the policy head to clusters; the others' heads are not scored as clusters here.
      const clusterHeaded = objective === 'clusters';
      // Per arm, each self-training round: its share, the images it named, how many rightly (labels read for the report), test accuracy.
      const selfTrained: Record<string, { fraction: number; named: number; right: number; testAccuracy: number }[]> = {};
      const accuracy = async (start: Map<string, Float32Array>, name: string) => {
        const model = new Model(cache, network, start);
        let score: number | undefined;
        if (labels === 0) {
          const clusters = clusterHeaded
            ? argmaxRows(await model.logits(data.test.images, data.test.count), data.test.count, 10)
            : kMeans(normalizeRows(await model.features(data.test.images, data.test.count), data.test.count, network.features), data.test.count, network.features, 10, { seed });
          score = clusteringAccuracy(clusters, data.test.labels, 10).accuracy;
        } else {
          // Clusters named by the labels already name the classes: self-training starts from them. Any other start
          // learns from the labels alone first.
          const named = name === 'pretrained' && clusterHeaded;
          if (!(named && selfTrainingRounds > 0)) {
            const rates = name === 'pretrained' ? { lr: headLr, trunkLrScale } : { lr, trunkLrScale: 1 };
            const result = await trainModel(model, data, { pretrainEpochs: 0, labels, epochs, alpha: 0, batch: 64, seed, ...rates },
              trainingProgress(`${labels} labels, seed ${seed} ${name} `));
            score = result.testAccuracy;
          }
          if (selfTrainingRounds > 0) {
            if (score !== undefined) console.log(`seed ${seed}: ${labels} labels, ${name}, the labels alone: ${(score * 100).toFixed(2)}%`);
            const result = await selfTrain(model, data, { ...SELF_TRAINING, rounds: selfTrainingRounds, labelled: firstIndices(labels), seed }, trainingProgress(`${labels} labels, seed ${seed} ${name} `));
            // The labels of the picks are read here for the report only.
            selfTrained[name] = result.rounds.map((round) => ({
              fraction: round.fraction, named: round.picks.length, right: round.picks.filter((p) => p.label === data.train.labels[p.index]).length, testAccuracy: round.testAccuracy,
            }));
            for (const [r, round] of selfTrained[name].entries()) {
              console.log(`seed ${seed}: ${labels} labels, ${name}, self-training round ${r + 1}: ${round.named} images named (${(round.fraction * 100).toFixed(0)}% of each class, ` +
                `${(round.right / Math.max(1, round.named) * 100).toFixed(1)}% rightly), test accuracy ${(round.testAccuracy * 100).toFixed(2)}%`);
            }
            score = result.testAccuracy;
          }
        }
        await model.destroy();
        return score!;
      };
      // With labels and a cluster head, the labelled images name the clusters (rows of the head permuted); without
      // one the pretrained trunk gets the fresh policy head the scratch run has.
      const fresh = initialParameters(network, seed);
      const policy = network.heads.policy.name;
      let start = pretrained.tensors;
      let named: number | undefined;
      if (labels > 0 && clusterHeaded) {
        const model = new Model(cache, network, pretrained.tensors);
        // The fine-tuning's labelled images (the first N of the split).
        const labelled = subset(data.train, firstIndices(labels));
        const clusters = argmaxRows(await model.logits(labelled.images, labelled.count), labelled.count, 10);
        await model.destroy();
        start = nameClusters(pretrained.tensors, policy, clusters, labelled.labels, 10);
        // The clusters as the labels named them, before any fine-tuning: what the labels alone add.
        const renamed = new Model(cache, network, start);
        named = await renamed.accuracy(data.test.images, data.test.labels);
        await renamed.destroy();
      } else if (labels > 0) {
        start = new Map([...pretrained.tensors, [`${policy}.weight`, fresh.get(`${policy}.weight`)!], [`${policy}.bias`, fresh.get(`${policy}.bias`)!]]);
      }
      const run = { labels, seed, pretrained: await accuracy(start, 'pretrained'), scratch: await accuracy(fresh, 'scratch'), ...(named !== undefined && { named }), ...(labels > 0 && selfTrainingRounds > 0 && { selfTraining: selfTrained }) };
      runs.push(run);
      const namedText = named === undefined ? '' : ` (clusters named by the labels, before fine-tuning: ${(named * 100).toFixed(2)}%)`;
      console.log(`seed ${seed}: ${labels} labels, pretrained ${(run.pretrained * 100).toFixed(2)}%${namedText}, from scratch ${(run.scratch * 100).toFixed(2)}%`);
    }
  }
  const pct = (s: { mean: number; sd: number }) => `${(s.mean * 100).toFixed(2)}% ± ${(s.sd * 100).toFixed(2)}`;
  const summaries = budgets.map((labels) => {
    const of = runs.filter((r) => r.labels === labels);
    const summary = (key: 'pretrained' | 'scratch') => meanAndSd(of.map((r) => r[key]));
    const namedRuns = of.filter((r) => r.named !== undefined);
    const named = namedRuns.length ? meanAndSd(namedRuns.map((r) => r.named!)) : undefined;
    const row = { labels, pretrained: summary('pretrained'), scratch: summary('scratch'), ...(named && { named }), wins: of.filter((r) => r.pretrained > r.scratch).length };
    console.log(`${labels} labels over ${seeds} seeds: pretrained (${objective}, ${pretrainEpochs} epochs) ${pct(row.pretrained)}${named ? ` (named clusters before fine-tuning ${pct(named)})` : ''}, from scratch ${pct(row.scratch)}; pretraining won ${row.wins} of ${seeds}`);
    return row;
  });
  const result = { objective, pretrainEpochs, ...(objective !== 'rotation' && { neighbourRounds }), epochs, lr, headLr, trunkLrScale, selfTraining: selfTrainingRounds > 0 ? { ...SELF_TRAINING, rounds: selfTrainingRounds } : null, seeds, summaries, runs, adapter: gpu.description, date: new Date().toISOString() };
  writeFileAtomic(`${out}.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileAtomic(`${out}.svg`, barChart({
    title: `Test accuracy by label budget, pretrained (${objective}) or not`, unit: '%',
    bars: summaries.flatMap((s) => [
      { label: `${s.labels} labels pretrained`, value: s.pretrained.mean * 100, group: 'pretrained' },
      { label: `${s.labels} labels from scratch`, value: s.scratch.mean * 100, group: 'scratch' },
    ]),
  }));
  console.log(`wrote ${out}.json and ${out}.svg`);
}
