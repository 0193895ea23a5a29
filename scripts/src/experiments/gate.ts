// pnpm experiment:gate: a replay study of the promotion gate. Freezes candidate/active pairs from checkpoints of two
// seeded supervised training runs, then for each pair draws an evaluation of MNIST test images (never trained on, drawn
// with replacement as clients draw theirs), logs it as the edge would with the candidate as challenger, and replays it
// R times: every event's action redrawn from its logged distribution, its reward read from the label, 2% of rewards
// dropped. Reports per pair the true difference, the events the power formula asks for (and would ask for if no image
// came back), the coverage of the lower bound, the promotion rate, and how often the lower bound is within 0.5 points
// of the truth. Flags beyond the issue's: --exploration, --share, --seed, --reward-model posterior|ridge,
// --evidence others|earlier|none, --reference neighbours|none (the reward model's third opinion: the digits of each
// image's 10 nearest train digits, as the main job takes them from the training images rewards named), --looks K
// (judged after each of K pulls), --events N (a fixed size) and --distinct (each image once).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  argmaxRows, buildNetwork, challengerMixture, eventsNeeded, digitVoter, GATE_ALPHA, getGpu, imageHash, IMAGE_PIXELS, initialParameters, loadMnist, Model, PipelineCache, Random,
  replayStudy, SEED_ARCHITECTURE, softmaxRows, trainModel, type ComparisonOptions, type ReplayImage, type ReplayStudy,
} from '@seed/runtime';
import { parseExploration, policyDistribution, type Exploration } from '@seed/edge';
import { DETECTABLE_DIFFERENCE } from '../evolve/evolve';
import { intFlag, numberFlag, parseFlags, UsageError, writeFileAtomic } from '../lib/cli';
import { ROOT_DIR } from '../lib/paths';
import { trainingProgress } from '../lib/progress';

/** Labelled images of each training stage (one epoch each): each checkpoint is a little better than the one before. */
const STAGES = [2000, 6000, 6000, 6000, 6000, 6000, 6000];
const CLASSES = 10;
/** The evaluation sized for the pilot that estimates a pair's variance. */
const PILOT_EVENTS = 5000;
/** Evaluations are capped here, so one pair cannot take the whole run. */
const MAX_EVENTS = 40_000;

interface Checkpoint {
  name: string;
  /** Softmax rows on the test images, [count, 10]. */
  probabilities: Float32Array;
  /** Logits rows, for the exploring distributions. */
  logits: Float32Array;
  accuracy: number;
}

export interface PairResult extends ReplayStudy {
  active: string;
  candidate: string;
  /** Events in the evaluation: the power formula's count for 0.5 points at the pilot's variance, capped. */
  events: number;
  eventsNeeded: number;
  /** The variance per event of the last pilot (at about `eventsNeeded` events), which sized the evaluation (with --events, the evaluation's own). */
  pilotVariance: number;
  /**
   * The events needed if no image came back (the posterior reading none of the image's other rewards), from a pilot of
   * PILOT_EVENTS: what an evaluation on fresh images would need (null with --events).
   */
  eventsNeededFreshImages: number | null;
  disagreement: number;
}

/**
 * The checkpoints of one seeded run, as each one's logits on the test images. They are cached in
 * `.cache/experiment-gate/` (the replays are what a rerun changes; the training is the slow part).
 */
export async function checkpoints(seed: number, data: ReturnType<typeof loadMnist>): Promise<Checkpoint[]> {
  const size = data.test.count * CLASSES;
  const file = join(ROOT_DIR, '.cache', 'experiment-gate', `checkpoints-s${seed}-${STAGES.join('-')}.f32`);
  let all: Float32Array;
  if (existsSync(file)) all = new Float32Array(new Uint8Array(readFileSync(file)).buffer);
  else {
    const cache = new PipelineCache(await getGpu(undefined, (line) => console.error(line)));
    const network = buildNetwork(SEED_ARCHITECTURE);
    const model = new Model(cache, network, initialParameters(network, seed));
    all = new Float32Array(STAGES.length * size);
    for (const [stage, labels] of STAGES.entries()) {
      await trainModel(model, data, { pretrainEpochs: 0, labels, heldOutSalt: '', epochs: 1, alpha: 0, batch: 64, lr: 0.002, seed: seed * 100 + stage }, trainingProgress(`seed ${seed} stage ${stage + 1} `));
      all.set(await model.logits(data.test.images, data.test.count), stage * size);
    }
    await model.destroy();
    writeFileAtomic(file, new Uint8Array(all.buffer));
  }
  return STAGES.map((_, stage) => {
    const logits = all.subarray(stage * size, (stage + 1) * size);
    const probabilities = softmaxRows(logits, data.test.count, CLASSES);
    const predicted = argmaxRows(probabilities, data.test.count, CLASSES);
    const accuracy = predicted.reduce((s, p, i) => s + (p === data.test.labels[i] ? 1 : 0), 0) / data.test.count;
    console.error(`checkpoint s${seed}c${stage + 1}: ${(accuracy * 100).toFixed(2)}% on the test images`);
    return { name: `s${seed}c${stage + 1}`, probabilities, logits, accuracy };
  });
}

/** The reward model's reference for test images: the digits of their nearest train digits, computed once per image. */
export type TestReference = (indices: readonly number[]) => Map<number, Float64Array>;

export function neighbourReference(data: ReturnType<typeof loadMnist>): TestReference {
  const vote = digitVoter(data.train.images, data.train.labels, CLASSES);
  const known = new Map<number, Float64Array>();
  return (indices) => {
    const missing = [...new Set(indices)].filter((i) => !known.has(i));
    vote(missing.map((i) => data.test.images.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS))).forEach((row, n) => known.set(missing[n], row));
    return new Map(indices.map((i) => [i, known.get(i) as Float64Array]));
  };
}

/**
 * Each test image as the edge logs it with `candidate` as challenger beside `active`; with a reference, the images the
 * two disagree on carry its probabilities (only their terms are not 0).
 */
export function loggedImages(active: Checkpoint, candidate: Checkpoint, data: ReturnType<typeof loadMnist>, exploration: Exploration, share: number, reference: TestReference | null = null): ReplayImage[] {
  const greedy = (c: Checkpoint) => argmaxRows(c.probabilities, data.test.count, CLASSES);
  const [activeActions, candidateActions] = [greedy(active), greedy(candidate)];
  const referenceRows = reference?.(Array.from({ length: data.test.count }, (_, i) => i).filter((i) => activeActions[i] !== candidateActions[i]));
  return Array.from({ length: data.test.count }, (_, i) => {
    const row = (c: Checkpoint) => c.logits.subarray(i * CLASSES, (i + 1) * CLASSES);
    const disagree = activeActions[i] !== candidateActions[i];
    const { distribution } = challengerMixture(policyDistribution(row(active), exploration), policyDistribution(row(candidate), exploration), disagree, share);
    return {
      cluster: imageHash(data.test.images.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS)),
      label: data.test.labels[i],
      logging: distribution,
      candidateProbabilities: candidate.probabilities.subarray(i * CLASSES, (i + 1) * CLASSES),
      activeProbabilities: active.probabilities.subarray(i * CLASSES, (i + 1) * CLASSES),
      candidateAction: candidateActions[i],
      activeAction: activeActions[i],
      ...(referenceRows?.has(i) && { referenceProbabilities: referenceRows.get(i) }),
    };
  });
}

/** `count` evaluation events: test images drawn with replacement (an image can come back, as it can from clients). */
export const drawEvaluation = (images: ReplayImage[], count: number, random: Random) => Array.from({ length: count }, () => images[random.int(images.length)]);

/** Pilot replays averaged for each size tried: one replay's variance is noisy. */
const PILOT_REPLAYS = 3;

/**
 * The evaluation's size: the power formula's events for 0.5 points. The variance per event falls as the evaluation
 * grows (more of its images come back, and a label named by one event makes the others exact), so the count is the
 * fixed point n = needed(variance at n): pilots at the size tried, each step to the geometric mean of the size tried and
 * the count it asks for, until they agree within 5%.
 */
function sizeEvaluation(images: ReplayImage[], random: Random, comparison: ComparisonOptions): { needed: number; variance: number } {
  let size = PILOT_EVENTS;
  let result = { needed: size, variance: 0 };
  for (let step = 0; step < 8; step++) {
    const pilot = replayStudy(drawEvaluation(images, size, random), { replays: PILOT_REPLAYS, seed: random.int(2 ** 31), dropRate: 0.02, comparison });
    result = { needed: eventsNeeded(pilot.meanConditionalVariance, DETECTABLE_DIFFERENCE, GATE_ALPHA, 0.8, pilot.downsideBound), variance: pilot.meanConditionalVariance };
    if (Math.abs(result.needed - size) <= 0.05 * size || (size >= MAX_EVENTS && result.needed >= MAX_EVENTS)) break;
    size = Math.max(100, Math.min(MAX_EVENTS, Math.round(Math.sqrt(size * result.needed))));
  }
  return result;
}

/** Pairs spread over true differences: every ordered pair of checkpoints, sorted by accuracy difference, evenly sampled. */
export function choosePairs(all: Checkpoint[], count: number): [Checkpoint, Checkpoint][] {
  const pairs = all.flatMap((a) => all.filter((c) => c !== a).map((c) => [a, c] as [Checkpoint, Checkpoint]));
  // Within 3 points: the differences the gate has to tell apart.
  const close = pairs.filter(([a, c]) => Math.abs(c.accuracy - a.accuracy) <= 0.03).sort((p, q) => p[1].accuracy - p[0].accuracy - (q[1].accuracy - q[0].accuracy));
  if (close.length <= count) return close;
  return Array.from({ length: count }, (_, k) => close[Math.round((k * (close.length - 1)) / (count - 1))]);
}

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({
    pairs: { type: 'string' }, replays: { type: 'string' }, json: { type: 'string' }, exploration: { type: 'string' }, share: { type: 'string' }, seed: { type: 'string' },
    'reward-model': { type: 'string' }, evidence: { type: 'string' }, reference: { type: 'string' }, looks: { type: 'string' }, events: { type: 'string' }, distinct: { type: 'boolean' },
  }, argv);
  const pairCount = intFlag('pairs', flags.pairs, 20, 2, 200);
  const replays = intFlag('replays', flags.replays, 1000, 1, 100_000);
  // The edge's default EXPLORATION; the main job's softmax:1.0 is a flag away.
  const explorationText = flags.exploration ?? 'epsilon:0.1';
  const exploration = parseExploration(explorationText);
  const share = numberFlag('share', flags.share, 0.5, 0, 0.95, { exclusiveMin: true });
  const seed = intFlag('seed', flags.seed, 1);
  const rewardModel = flags['reward-model'] ?? 'posterior';
  const evidence = flags.evidence ?? 'others';
  if (rewardModel !== 'posterior' && rewardModel !== 'ridge') throw new UsageError(`--reward-model is posterior or ridge, not ${rewardModel}`);
  if (evidence !== 'others' && evidence !== 'earlier' && evidence !== 'none') throw new UsageError(`--evidence is others, earlier or none, not ${evidence}`);
  const referenceKind = flags.reference ?? 'neighbours';
  if (referenceKind !== 'neighbours' && referenceKind !== 'none') throw new UsageError(`--reference is neighbours or none, not ${referenceKind}`);
  const comparison: ComparisonOptions = { rewardModel, evidence };
  // The gate judges a pending candidate after each pull: with --looks K the evaluation arrives in K pulls, judged after each.
  const looks = intFlag('looks', flags.looks, 1, 1, 100);
  // --events N: every evaluation has N events instead of the power formula's count (to compare estimators at one size).
  const fixedEvents = flags.events === undefined ? null : intFlag('events', flags.events, 5000, 100, MAX_EVENTS);
  // --distinct: every image of the evaluation appears once (drawn without replacement), so no image comes back; at most
  // the 2,000 test digits, and only with --events.
  const distinct = flags.distinct === true;
  const started = performance.now();

  const data = loadMnist();
  if (distinct && (fixedEvents === null || fixedEvents > data.test.count)) throw new UsageError(`--distinct needs --events N with N at most ${data.test.count}`);
  const all = [...(await checkpoints(seed, data)), ...(await checkpoints(seed + 1, data))];
  const reference = referenceKind === 'neighbours' ? neighbourReference(data) : null;
  const chosen = choosePairs(all, pairCount);
  const trainedAt = performance.now();

  const random = new Random(seed);
  const results: PairResult[] = [];
  console.log('active   candidate  true Δ (points)  events  needed  fresh  disagree  coverage  promoted  within 0.5');
  for (const [active, candidate] of chosen) {
    const images = loggedImages(active, candidate, data, exploration, share, reference);
    // Pilots play the evaluation at the sizes tried, as the lineage does, to size it for a 0.5-point difference; with
    // --events the size is given and the formula reads the variance of the evaluation itself.
    const sized = fixedEvents === null ? sizeEvaluation(images, random, comparison) : null;
    const fresh = fixedEvents === null
      ? replayStudy(drawEvaluation(images, PILOT_EVENTS, random), { replays: PILOT_REPLAYS, seed: random.int(2 ** 31), dropRate: 0.02, comparison: { ...comparison, evidence: 'none' } })
      : null;
    const events = fixedEvents ?? Math.max(100, Math.min(MAX_EVENTS, sized!.needed));
    const evaluation = distinct ? random.shuffle(images.slice()).slice(0, events) as ReplayImage[] : drawEvaluation(images, events, random);
    const study = replayStudy(evaluation, { replays, seed: random.int(2 ** 31), dropRate: 0.02, detectable: DETECTABLE_DIFFERENCE, looks, comparison });
    const disagreement = evaluation.filter((e) => e.candidateAction !== e.activeAction).length / events;
    const needed = sized?.needed ?? eventsNeeded(study.meanConditionalVariance, DETECTABLE_DIFFERENCE, GATE_ALPHA, 0.8, study.downsideBound);
    const result: PairResult = {
      active: active.name, candidate: candidate.name, events, eventsNeeded: needed, pilotVariance: sized?.variance ?? study.meanConditionalVariance,
      eventsNeededFreshImages: fresh && eventsNeeded(fresh.meanConditionalVariance, DETECTABLE_DIFFERENCE, GATE_ALPHA, 0.8, fresh.downsideBound), disagreement, ...study,
    };
    results.push(result);
    console.log(`${active.name.padEnd(8)} ${candidate.name.padEnd(9)}  ${(study.truth * 100).toFixed(2).padStart(15)}  ${String(events).padStart(6)}  ${String(needed).padStart(6)}  ${String(result.eventsNeededFreshImages ?? '-').padStart(6)}  ` +
      `${(disagreement * 100).toFixed(1).padStart(7)}%  ${(study.coverage * 100).toFixed(1).padStart(7)}%  ${(study.promotionRate * 100).toFixed(1).padStart(7)}%  ${(study.detectableRate * 100).toFixed(1).padStart(8)}%`);
  }
  const better = results.filter((r) => r.truth >= DETECTABLE_DIFFERENCE);
  const notBetter = results.filter((r) => r.truth <= 0);
  const summary = {
    minCoverage: Math.min(...results.map((r) => r.coverage)),
    power: better.length ? better.reduce((s, r) => s + r.promotionRate, 0) / better.length : null,
    pairsBetter: better.length,
    maxEventsNeededBetter: better.length ? Math.max(...better.map((r) => r.eventsNeeded)) : null,
    maxEventsNeededFreshImagesBetter: better.length && fixedEvents === null ? Math.max(...better.map((r) => r.eventsNeededFreshImages ?? 0)) : null,
    falsePromotion: notBetter.length ? Math.max(...notBetter.map((r) => r.promotionRate)) : null,
    // Over every pair: how often the lower bound is within 0.5 points of the truth, the power for a candidate exactly
    // 0.5 points better with errors like that pair's, at the events its evaluation has.
    minDetectableRate: Math.min(...results.map((r) => r.detectableRate)),
    pairs: results.length,
    replays,
    exploration: explorationText,
    share,
    rewardModel,
    evidence,
    reference: referenceKind,
    looks,
    fixedEvents,
    distinct,
    seed,
    checkpoints: all.map((c) => ({ name: c.name, testAccuracy: c.accuracy })),
    results,
    seconds: { train: (trainedAt - started) / 1000, replay: (performance.now() - trainedAt) / 1000 },
    date: new Date().toISOString(),
  };
  const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(1)}%`);
  console.log(`minCoverage ${pct(summary.minCoverage)} over ${results.length} pairs × ${replays} replays; power ${pct(summary.power)} over ${better.length} pairs truly ≥ 0.5 points better ` +
    `(events needed at most ${summary.maxEventsNeededBetter ?? 'n/a'}; on fresh images ${summary.maxEventsNeededFreshImagesBetter ?? 'n/a'}); false promotions at most ${pct(summary.falsePromotion)} over ${notBetter.length} pairs not better; ` +
    `the lower bound within 0.5 points of the truth in at least ${pct(summary.minDetectableRate)} of replays for every pair`);
  if (flags.json) {
    writeFileAtomic(flags.json, `${JSON.stringify(summary, null, 2)}\n`);
    console.log(`wrote ${flags.json}`);
  }
}
