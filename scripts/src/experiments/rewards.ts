// pnpm experiment:rewards: learning from rewards alone, offline, with small rounds. From a model pretrained without
// labels (the cached one of an objective, or --init), each round logs interactions with the current policy through
// the edge's own exploration (the propensity is the exact probability of the drawn action; the recipe's schedule, or
// --exploration, gives the setting by the interactions logged before the round) on random train images,
// rewards 1 for the true digit and 0 otherwise, and retrains on every event so far; the test accuracy is taken at each
// checkpoint (250, 500, 1,000, 2,000, 4,000 interactions by default), per seed, then mean and spread.
import { readFileSync } from 'node:fs';
import { parseExploration, policyDistribution, sampleIndex } from '@seed/edge';
import {
  getGpu, IMAGE_PIXELS, loadMnist, Model, PipelineCache, Random, readModel, trainModel, type LoggedEvent,
} from '@seed/runtime';
import { existingFile, intFlag, numberFlag, parseFlags, UsageError, weightingFlag, writeFileAtomic } from '../lib/cli';
import { trainingProgress } from '../lib/progress';
import { lineChart } from '../lib/svg';
import { neighbourRoundsFlag, DEFAULT_PRETRAIN_EPOCHS, objectiveFlag, PRETRAIN_TEMPERATURE, pretrainedModel } from '../train/pretrained';
import { explorationAt, explorationSchedule, REWARD_RECIPE } from '../evolve/recipe';
import { meanAndSd } from './summary';


export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({
    init: { type: 'string' }, 'pretrain-objective': { type: 'string' }, 'pretrain-epochs': { type: 'string' }, checkpoints: { type: 'string' },
    seeds: { type: 'string' }, epochs: { type: 'string' }, alpha: { type: 'string' }, clip: { type: 'string' }, batch: { type: 'string' },
    'min-steps': { type: 'string' }, weighting: { type: 'string' }, shift: { type: 'string' }, exploration: { type: 'string' }, lr: { type: 'string' },
    'trunk-lr-scale': { type: 'string' }, complementary: { type: 'string' }, temperature: { type: 'string' }, 'neighbour-rounds': { type: 'string' }, out: { type: 'string' },
  }, argv);
  const init = existingFile('init', flags.init);
  const objective = objectiveFlag(flags['pretrain-objective']);
  const pretrainEpochs = intFlag('pretrain-epochs', flags['pretrain-epochs'], DEFAULT_PRETRAIN_EPOCHS[objective]);
  const checkpoints = (flags.checkpoints ?? '250,500,1000,2000,4000').split(',').map((v) => intFlag('checkpoints', v.trim(), 0, 1));
  if (checkpoints.some((c, i) => i > 0 && c <= checkpoints[i - 1])) throw new UsageError('--checkpoints must increase, e.g. 250,500,1000');
  const seeds = intFlag('seeds', flags.seeds, 3, 1, 20);
  const temperature = numberFlag('temperature', flags.temperature, PRETRAIN_TEMPERATURE, 0.01, 10);
  const neighbourRounds = neighbourRoundsFlag(flags['neighbour-rounds']);
  const recipe = {
    epochs: intFlag('epochs', flags.epochs, REWARD_RECIPE.epochs, 1),
    alpha: numberFlag('alpha', flags.alpha, REWARD_RECIPE.alpha, 0, 1),
    lr: numberFlag('lr', flags.lr, REWARD_RECIPE.lr, 0, 1, { exclusiveMin: true }),
    trunkLrScale: numberFlag('trunk-lr-scale', flags['trunk-lr-scale'], REWARD_RECIPE.trunkLrScale, 0, 1),
    minSteps: intFlag('min-steps', flags['min-steps'], REWARD_RECIPE.minSteps, 0),
    batch: intFlag('batch', flags.batch, 64, 1),
    shift: intFlag('shift', flags.shift, 2, 0),
    policy: {
      clip: numberFlag('clip', flags.clip, REWARD_RECIPE.clip, 1, 1e6), weighting: weightingFlag(flags.weighting),
      complementary: numberFlag('complementary', flags.complementary, REWARD_RECIPE.complementary, 0, 100),
    },
  };
  const explorationText = flags.exploration ?? REWARD_RECIPE.exploration;
  const schedule = explorationSchedule(explorationText);
  const out = flags.out ?? `report/rewards-${init ? 'init' : objective}`;

  const gpu = await getGpu(undefined, (line) => console.error(line));
  const cache = new PipelineCache(gpu);
  const data = loadMnist();
  const runs: { seed: number; accuracy: number[]; reward: number[] }[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const start = await readModel(init ? new Uint8Array(readFileSync(init)) : (await pretrainedModel({ pretrainObjective: objective, pretrainEpochs, labels: 0, seed, temperature, neighbourRounds }, (l) => console.error(l))).file);
    const model = new Model(cache, start.network, start.tensors);
    const random = new Random(seed * 7919);
    const events: LoggedEvent[] = [];
    const run = { seed, accuracy: [] as number[], reward: [] as number[] };
    for (const [round, checkpoint] of checkpoints.entries()) {
      // Log the round's interactions with the current policy, as the edge would.
      const count = checkpoint - events.length;
      const indices = Array.from({ length: count }, () => random.int(data.train.count));
      const pixels = new Float32Array(count * IMAGE_PIXELS);
      indices.forEach((j, i) => pixels.set(data.train.images.subarray(j * IMAGE_PIXELS, (j + 1) * IMAGE_PIXELS), i * IMAGE_PIXELS));
      const logits = await model.logits(pixels, count);
      // The schedule's setting for the interactions logged before this round, as the main job's edge would use.
      const exploration = parseExploration(explorationAt(schedule, events.length));
      let total = 0;
      indices.forEach((j, i) => {
        const distribution = policyDistribution(logits.subarray(i * 10, i * 10 + 10), exploration);
        const action = sampleIndex(distribution, random.next());
        const reward = action === data.train.labels[j] ? 1 : 0;
        total += reward;
        events.push({ eventId: `s${seed}-${events.length}`, pixels: pixels.slice(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS), action, propensity: distribution[action], reward });
      });
      const result = await trainModel(model, data, { pretrainEpochs: 0, labels: 0, events, seed: seed * 100 + round, ...recipe }, trainingProgress(`seed ${seed}, ${checkpoint} events `));
      run.accuracy.push(result.testAccuracy);
      run.reward.push(total / count);
      console.log(`seed ${seed}: ${checkpoint} interactions (reward while logging ${(total / count).toFixed(3)}), test accuracy ${(result.testAccuracy * 100).toFixed(2)}%`);
    }
    await model.destroy();
    runs.push(run);
  }
  const summary = checkpoints.map((interactions, i) => ({ interactions, ...meanAndSd(runs.map((r) => r.accuracy[i])) }));
  for (const s of summary) console.log(`${String(s.interactions).padStart(6)} interactions: ${(s.mean * 100).toFixed(2)}% ± ${(s.sd * 100).toFixed(2)} over ${seeds} seeds`);
  const result = { start: init ?? `${objective} ${pretrainEpochs} epochs${objective !== 'rotation' ? ` at temperature ${temperature}, ${neighbourRounds} neighbour rounds` : ''}`, exploration: explorationText, recipe, seeds, summary, runs, adapter: gpu.description, date: new Date().toISOString() };
  writeFileAtomic(`${out}.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileAtomic(`${out}.svg`, lineChart({
    title: 'Learning from rewards only: test accuracy against interactions', xLabel: 'interactions', yLabel: 'percent',
    series: runs.map((r) => ({ name: `seed ${r.seed}`, points: checkpoints.map((c, i) => [c, r.accuracy[i] * 100] as [number, number]) })),
  }));
  console.log(`wrote ${out}.json and ${out}.svg`);
}
