// pnpm experiment:rewards: learning from rewards alone, offline. From a model (pretrained without labels by default),
// each round samples the model's own policy on random train images, rewards 1 for the true digit and 0 otherwise,
// and retrains on every event so far with the fused loss; prints the test accuracy after each round.
import { readFileSync } from 'node:fs';
import {
  getGpu, IMAGE_PIXELS, loadMnist, Model, PipelineCache, Random, readModel, softmaxRows, trainModel, writeModel,
  type LoggedEvent,
} from '@seed/runtime';
import { existingFile, intFlag, numberFlag, parseFlags, UsageError, weightingFlag, writeFileAtomic } from '../lib/cli';
import { trainingProgress } from '../lib/progress';
import { lineChart } from '../lib/svg';

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({
    init: { type: 'string' }, rounds: { type: 'string' }, 'events-per-round': { type: 'string' }, epochs: { type: 'string' },
    alpha: { type: 'string' }, baseline: { type: 'string' }, clip: { type: 'string' }, batch: { type: 'string' }, 'min-steps': { type: 'string' }, weighting: { type: 'string' }, shift: { type: 'string' }, temperature: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, lr: { type: 'string' },
  }, argv);
  const init = existingFile('init', flags.init);
  if (!init) throw new UsageError('--init FILE.safetensors is required (e.g. a model from pnpm train --labels 0)');
  const rounds = intFlag('rounds', flags.rounds, 6, 1);
  const perRound = intFlag('events-per-round', flags['events-per-round'], 4000, 1);
  const epochs = intFlag('epochs', flags.epochs, 4, 1);
  const alpha = numberFlag('alpha', flags.alpha, 0.2, 0, 1);
  const lr = numberFlag('lr', flags.lr, 0.002, 0, 1, { exclusiveMin: true });
  const baseline = flags.baseline === undefined || flags.baseline === 'mean' ? undefined : numberFlag('baseline', flags.baseline, 0, -1, 1);
  const clip = numberFlag('clip', flags.clip, 10, 1, 1e6);
  const batch = intFlag('batch', flags.batch, 64, 1);
  const minSteps = intFlag('min-steps', flags['min-steps'], 750, 0);
  const shift = intFlag('shift', flags.shift, 2, 0);
  const weighting = weightingFlag(flags.weighting);
  const temperature = numberFlag('temperature', flags.temperature, 1, 0, 100, { exclusiveMin: true });
  const random = new Random(intFlag('seed', flags.seed, 1));
  const out = flags.out ?? 'models/rewards-only';

  const start = await readModel(new Uint8Array(readFileSync(init)));
  const gpu = await getGpu(undefined, (line) => console.error(line));
  const model = new Model(new PipelineCache(gpu), start.network, start.tensors);
  const data = loadMnist();
  const events: LoggedEvent[] = [];
  const accuracy: [number, number][] = [[0, await model.accuracy(data.test.images, data.test.labels)]];
  const reward: [number, number][] = [];
  console.log(`round 0: test accuracy ${(accuracy[0][1] * 100).toFixed(2)}% (${start.metadata.version})`);
  for (let round = 1; round <= rounds; round++) {
    // Log a round of interactions with the current policy: softmax sampling, the propensity is π(a|x).
    const indices = Array.from({ length: perRound }, () => random.int(data.train.count));
    const pixels = new Float32Array(perRound * IMAGE_PIXELS);
    indices.forEach((j, i) => pixels.set(data.train.images.subarray(j * IMAGE_PIXELS, (j + 1) * IMAGE_PIXELS), i * IMAGE_PIXELS));
    const logits = await model.logits(pixels, perRound);
    const probabilities = softmaxRows(logits.map((v) => v / temperature), perRound, 10);
    let total = 0;
    indices.forEach((j, i) => {
      const row = probabilities.subarray(i * 10, i * 10 + 10);
      let u = random.next();
      let action = 9;
      for (let k = 0; k < 10; k++) if ((u -= row[k]) < 0) { action = k; break; }
      const r = action === data.train.labels[j] ? 1 : 0;
      total += r;
      events.push({ eventId: `r${round}-${i}`, pixels: pixels.slice(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS), action, propensity: Math.max(row[action], 1e-6), reward: r });
    });
    reward.push([round, total / perRound]);
    const result = await trainModel(model, data, { pretrainEpochs: 0, labels: 0, epochs, events, alpha, batch, lr, seed: round, minSteps, shift, policy: { clip, weighting, ...(baseline === undefined ? {} : { baseline }) } }, trainingProgress(`round ${round} `));
    accuracy.push([round, result.testAccuracy]);
    console.log(`round ${round}: ${events.length} events, reward while logging ${(total / perRound).toFixed(4)}, test accuracy ${(result.testAccuracy * 100).toFixed(2)}%`);
  }
  writeFileAtomic(`${out}.safetensors`, await writeModel(start.network, await model.tensors(), { version: `${start.metadata.version}-rewards`, parent: start.metadata.version, metrics: { testAccuracy: accuracy.at(-1)![1], events: events.length } }));
  writeFileAtomic(`${out}.svg`, lineChart({
    title: 'Learning from rewards only', xLabel: 'round', yLabel: 'percent',
    series: [{ name: 'test accuracy after the round', points: accuracy.map(([x, y]) => [x, y * 100]) }, { name: 'reward while logging the round', points: reward.map(([x, y]) => [x, y * 100]) }],
  }));
  console.log(`wrote ${out}.safetensors and ${out}.svg`);
}

