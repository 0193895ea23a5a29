// pnpm evolve: one generation. Pull new events; judge the pending candidate (served meanwhile as the challenger) on the
// held-out events logged with it since it was frozen: promote it, reject it, or leave it pending for more events. Then
// train a candidate with the fused loss on the training events so far, from the active model (or, while the judged one
// is pending, a successor that takes its place, from it when the evidence leans its way: nextCandidate), freeze it
// (upload it, unpromoted) and make it the challenger. The cursor is saved last, so an interrupted run loses nothing,
// and events are kept by id, so a repeated pull counts nothing twice.
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  argmaxRows, capKeyShare, comparePolicies, nextCandidate, consensusFlags, disagreementFlags, inStableOrder, eventsNeeded, gateDecision, getGpu, imageHash, IMAGE_PIXELS, isHeldOut, namedImages, digitVoter, keyStats, loadMnist, maxWeightOf,
  Model, parseEventLine, PipelineCache, readModel, rewardEvidence, softmaxRows, trainModel, UNKNOWN_KEY, writeModel, type ComparisonEvent, type KeyDisagreement, type KeyStats,
  type LoggedEvent, type ModelFile, type PairedEstimate,
} from '@seed/runtime';
import { DEFAULT_CHALLENGER_SHARE } from '@seed/runtime/engine';
import { ApiClient, type ExportedEvent } from '@seed/client';
import { intFlag, numberFlag, parseFlags, selfEveryFlag, selfImagesFlag, UsageError, weightingFlag, writeFileAtomic } from '../lib/cli';
import { candidateMinSteps, REWARD_RECIPE } from './recipe';
import { trainingProgress } from '../lib/progress';

/** The difference the lineage sizes the evaluation for: half a point of accuracy. */
export const DETECTABLE_DIFFERENCE = 0.005;

export interface EvolveOptions {
  state: string;
  alpha: number;
  epochs: number;
  minEvents: number;
  /** Required lead of the candidate's lower bound over the active model. */
  margin: number;
  batch: number;
  lr: number;
  seed: number;
  /** Importance weights of the policy gradient: 'ratio' π/p or 'inverse' 1/p (see policy_gradient.ts). */
  weighting?: 'ratio' | 'inverse';
  /** The candidate trains for at least this many steps, however few the events. */
  minSteps?: number;
  /** The same for a candidate whose starting model has learned from no events (candidateMinSteps; unset: minSteps). */
  firstMinSteps?: number;
  /** Images of each batch the self-supervised term reads (unset: the trainer's default; see TrainPlan.selfImages). */
  selfImages?: number;
  /** The self-supervised term on one step in this many (unset: every step; see TrainPlan.selfEvery). */
  selfEvery?: number;
  /** Trunk learning rate as a fraction of lr, and λ of the complementary term (defaults: REWARD_RECIPE). */
  trunkLrScale?: number;
  complementary?: number;
  /** Share of the disagreeing traffic the frozen candidate serves as challenger. */
  share?: number;
  /** A pending candidate still undecided after this many evaluation events is rejected. */
  maxEvaluationEvents?: number;
  /**
   * A candidate still pending is replaced by a successor trained on the events since (see nextCandidate; default
   * REWARD_RECIPE.supersede). false: no candidate is trained until the pending one is decided.
   */
  supersede?: boolean;
  /** Secret salt of the held-out selection; '' for the public hash of the pixels; unset: a random one kept in the state folder. */
  heldOutSalt?: string;
  /** The poisoning defences (runtime/src/train/poisoning.ts); null turns them off. */
  defences?: PoisoningDefences | null;
  dryRun: boolean;
  /**
   * false: judge the pending candidate (and promote or reject it) but train no new one. The main job's last generation:
   * nothing would judge a candidate frozen there.
   */
  train?: boolean;
  log?: (line: string) => void;
}

export interface PoisoningDefences {
  /** No key keeps more than this share of the generation's training events. */
  maxKeyShare: number;
  /**
   * Family-wise significance of the flags, split evenly between the two tests (rewards against the active model's
   * choices, and against the other keys' rewards in the same cell); flagged keys are left out of training and of the gate.
   */
  flagAlpha: number;
}

export const DEFAULT_DEFENCES: PoisoningDefences = { maxKeyShare: 0.25, flagAlpha: 0.01 };

/** One key in the lineage: its events and mean reward, and how its rewards compare with the active model's choices. */
export type KeyRecord = KeyStats & Partial<Pick<KeyDisagreement, 'rate' | 'typicalRate' | 'z' | 'flagged'>> & {
  cappedOut?: number;
  /** The consensus test: z of the key's disagreement with the other keys' rewards in the same cells. */
  consensusZ?: number;
};

/** The candidate being judged: frozen (uploaded, unpromoted) and served as the challenger since `frozenAt`. */
interface PendingCandidate {
  version: string;
  parent: string;
  frozenAt: string;
}

export interface GenerationRecord {
  time: string;
  /** The active model when the generation started, and when it ended. */
  parent: string;
  version: string;
  /**
   * What happened to the judged candidate; `frozen` when none was judged and a new one was frozen; `superseded` when it
   * was still pending and a successor (`frozen`) took its place as the challenger.
   */
  decision: 'promoted' | 'kept' | 'pending' | 'superseded' | 'frozen' | 'skipped' | 'dry-run';
  reason: string;
  eventsTotal: number;
  eventsNew: number;
  eventsTrain: number;
  eventsHeldOut: number;
  /** Each key's events and mean reward; with the defences on, its disagreement with the active model and what was left out. */
  keys: KeyRecord[];
  /** The candidate judged in this generation. */
  candidate?: string;
  /** The gate's evidence: the comparison on the evaluation events, and the events a 0.5-point difference needs at its variance given the images. */
  evaluation?: {
    events: number; estimate: PairedEstimate | null; eventsNeeded: number | null;
    /** The reward model's reference: training images a client's reward named, and the evaluation events that read it. */
    reference?: { namedImages: number; events: number };
    /** Rewards on the evaluation's images from events that do not judge: the images they told, the evaluation events that read them. */
    outsideEvidence?: { images: number; events: number };
  };
  /** Monitoring only: accuracy on the 2,000 MNIST test digits (never trained on). */
  testAccuracy?: { candidate: number; active: number };
  /** The candidate frozen in this generation, now the challenger, and the version it was trained from. */
  frozen?: string;
  frozenFrom?: string;
  seconds: { pull: number; train: number; evaluate: number; publish: number };
}

/**
 * Cuts a torn last line (a run killed mid-append) so the next append starts on a line of its own; the event it held
 * comes back with the next pull, since the cursor is saved only after a generation finishes.
 */
function cutTornLine(file: string): void {
  if (!existsSync(file)) return;
  const text = readFileSync(file, 'utf8');
  const whole = text.lastIndexOf('\n') + 1;
  if (whole < text.length) truncateSync(file, Buffer.byteLength(text.slice(0, whole)));
}

function appendLines(file: string, lines: string[]): void {
  cutTornLine(file);
  appendFileSync(file, `${lines.join('\n')}\n`);
}

/** Event ids are unique per key: the store knows an event by both. */
const storeKey = (event: { keyId?: string; eventId: string }) => `${event.keyId ?? UNKNOWN_KEY}\n${event.eventId}`;

class EventStore {
  readonly events = new Map<string, LoggedEvent>();
  private readonly file: string;

  constructor(dir: string) {
    this.file = join(dir, 'events.ndjson');
    if (!existsSync(this.file)) return;
    cutTornLine(this.file);
    // Every line left is whole: one that does not parse means the file was damaged, and parseEventLine says where.
    readFileSync(this.file, 'utf8').split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      const event = parseEventLine(line, `${this.file}:${i + 1}`);
      this.events.set(storeKey(event), event);
    });
  }

  /** Appends events not seen before; returns how many were new. */
  add(exported: ExportedEvent[]): number {
    const lines: string[] = [];
    for (const e of exported) {
      if (this.events.has(storeKey(e))) continue;
      const line = JSON.stringify({
        keyId: e.keyId, eventId: e.eventId, cursor: e.cursor, time: e.time, modelVersion: e.modelVersion, pixels: e.pixels, action: e.action, propensity: e.propensity,
        reward: e.reward, rewardSource: e.rewardSource, exploration: e.exploration, loggingProbabilities: e.loggingProbabilities, challengerVersion: e.challengerVersion,
      });
      this.events.set(storeKey(e), parseEventLine(line, 'export'));
      lines.push(line);
    }
    if (lines.length) appendLines(this.file, lines);
    return lines.length;
  }
}

const readCursor = (dir: string): string => (existsSync(join(dir, 'cursor.json')) ? JSON.parse(readFileSync(join(dir, 'cursor.json'), 'utf8')).cursor : '0');

/** The next free version name: one past the highest vN in the registry. */
function nextFreeVersion(versions: string[]): string {
  const numbers = versions.map((v) => /^v(\d+)$/.exec(v)?.[1]).filter(Boolean).map(Number);
  return `v${Math.max(0, ...numbers) + 1}`;
}

async function policyProbabilities(model: Model, events: LoggedEvent[]): Promise<Float32Array> {
  const pixels = new Float32Array(events.length * IMAGE_PIXELS);
  events.forEach((e, i) => pixels.set(e.pixels, i * IMAGE_PIXELS));
  return softmaxRows(await model.logits(pixels, events.length), events.length, 10);
}

/** The state folder's held-out salt, made (random, readable by the owner only) on first use. */
function stateSalt(dir: string): string {
  const file = join(dir, 'held_out_salt');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  return readFileSync(file, 'utf8').trim();
}

const pendingFile = (dir: string) => join(dir, 'pending.json');
const readPending = (dir: string): PendingCandidate | null => (existsSync(pendingFile(dir)) ? (JSON.parse(readFileSync(pendingFile(dir), 'utf8')) as PendingCandidate) : null);

/**
 * The events that judge a pending candidate: on held-out images, logged with it as the challenger (so after it was
 * frozen, with its probabilities in the logging distribution), drawn by an exploring policy, and rewarded by a client
 * (a default reward is unknown, not 0).
 */
export const judgesCandidate = (event: LoggedEvent, candidate: string, salt = ''): boolean =>
  event.challengerVersion === candidate && !!event.exploration && event.exploration !== 'greedy' && event.rewardSource === 'client' && !!event.loggingProbabilities && isHeldOut(event.pixels, salt);

/** The events a candidate trains on: images not held out, whose reward a client sent. */
const trainsCandidate = (event: LoggedEvent, salt = ''): boolean => event.rewardSource !== 'default' && !isHeldOut(event.pixels, salt);

/** Neighbours that vote in the reward model's reference (digitVoter), and the fewest named images it needs. */
const REFERENCE_NEIGHBOURS = 10;

/**
 * The comparison's view of the evaluation events: both policies' probabilities and greedy actions for each image and,
 * where the two disagree, the reference: the digits of the nearest training images a client's reward named.
 */
async function comparisonEvents(
  events: LoggedEvent[], candidate: Model, active: Model, references: { images: Float32Array; labels: Int32Array }, outside: Map<number, Float64Array>,
): Promise<ComparisonEvent[]> {
  const [candidateRows, activeRows] = [await policyProbabilities(candidate, events), await policyProbabilities(active, events)];
  const candidateActions = argmaxRows(candidateRows, events.length, 10);
  const activeActions = argmaxRows(activeRows, events.length, 10);
  const clusters = events.map((e) => imageHash(e.pixels));
  // One query per image the two disagree on (only their terms are not 0).
  const queries = new Map<number, Float32Array>();
  events.forEach((e, i) => {
    if (candidateActions[i] !== activeActions[i]) queries.set(clusters[i], e.pixels);
  });
  const reference = new Map<number, Float64Array>();
  if (queries.size > 0 && references.labels.length >= REFERENCE_NEIGHBOURS) {
    const rows = digitVoter(references.images, references.labels, 10, { k: REFERENCE_NEIGHBOURS })([...queries.values()]);
    [...queries.keys()].forEach((cluster, row) => reference.set(cluster, rows[row]));
  }
  return events.map((e, i) => ({
    cluster: clusters[i],
    action: e.action,
    propensity: e.propensity,
    reward: e.reward,
    candidateAction: candidateActions[i],
    activeAction: activeActions[i],
    maxWeight: maxWeightOf(e.loggingProbabilities as number[], candidateActions[i], activeActions[i]),
    candidateProbabilities: candidateRows.subarray(i * 10, (i + 1) * 10),
    activeProbabilities: activeRows.subarray(i * 10, (i + 1) * 10),
    ...(reference.has(clusters[i]) && { referenceProbabilities: reference.get(clusters[i]) }),
    ...(outside.has(clusters[i]) && { outsideEvidence: outside.get(clusters[i]) }),
  }));
}

/**
 * What the evaluation's images were told outside it: the client rewards on each of its images from the events that do
 * not judge the candidate (logged before it was frozen, or greedy), by image. Their actions were drawn apart from the
 * evaluation's, so the posterior may read them.
 */
function outsideEvidence(usable: LoggedEvent[], evaluation: LoggedEvent[], rewardRange: readonly [number, number]): Map<number, Float64Array> {
  const judged = new Set(evaluation);
  const images = new Set(evaluation.map((e) => imageHash(e.pixels)));
  const byImage = new Map<number, LoggedEvent[]>();
  for (const e of usable) {
    if (judged.has(e) || e.rewardSource !== 'client') continue;
    const image = imageHash(e.pixels);
    if (!images.has(image)) continue;
    const list = byImage.get(image);
    if (list) list.push(e);
    else byImage.set(image, [e]);
  }
  return new Map([...byImage].map(([image, events]) => [image, rewardEvidence(events, rewardRange)]));
}

/**
 * The defences: each key's client rewards judged against the active model's own choices, and against the other keys'
 * rewards in the same cell (the active model's greedy class and the action), which works before the model's classes are
 * named (flagged keys are left out of training and of the gate); then the share cap on the training events that remain.
 */
async function screenKeys(
  cache: PipelineCache, activeFile: ModelFile, all: LoggedEvent[], trains: (e: LoggedEvent) => boolean, defences: PoisoningDefences | null, salt: string,
): Promise<{ usable: LoggedEvent[]; train: LoggedEvent[]; keys: KeyRecord[] }> {
  if (!defences) return { usable: all, train: all.filter(trains), keys: keyStats(all) };
  const judged = all.filter((e) => e.rewardSource === 'client');
  const current = new Model(cache, activeFile.network, activeFile.tensors);
  const greedy = judged.length ? argmaxRows(await policyProbabilities(current, judged), judged.length, 10) : new Int32Array(0);
  await current.destroy();
  const flags = disagreementFlags(judged.map((e, i) => ({ keyId: e.keyId ?? UNKNOWN_KEY, rewardSaysRight: e.reward >= 0.5, modelChoseAction: greedy[i] === e.action })), defences.flagAlpha / 2);
  // Cells: the active model's greedy class and the logged action; its classes need not be named yet (generation 1).
  const consensus = consensusFlags(judged.map((e, i) => ({ keyId: e.keyId ?? UNKNOWN_KEY, cell: greedy[i] * 16 + e.action, rewardSaysRight: e.reward >= 0.5 })), defences.flagAlpha / 2);
  const flagged = new Set([...flags, ...consensus].filter((f) => f.flagged).map((f) => f.keyId));
  const usable = all.filter((e) => !flagged.has(e.keyId ?? UNKNOWN_KEY));
  const capped = capKeyShare(usable.filter(trains), defences.maxKeyShare, salt);
  const byKey = new Map(flags.map((f) => [f.keyId, f]));
  const consensusByKey = new Map(consensus.map((f) => [f.keyId, f]));
  const keys = keyStats(all).map((stats): KeyRecord => {
    const flag = byKey.get(stats.keyId);
    const agreement = consensusByKey.get(stats.keyId);
    return {
      ...stats, ...(flag && { rate: flag.rate, typicalRate: flag.typicalRate, z: flag.z }), ...(agreement && { consensusZ: agreement.z }),
      ...((flag || agreement) && { flagged: flagged.has(stats.keyId) }), cappedOut: capped.dropped[stats.keyId] ?? 0,
    };
  });
  return { usable, train: capped.kept, keys };
}

export async function evolveGeneration(client: ApiClient, options: EvolveOptions): Promise<GenerationRecord> {
  const log = options.log ?? (() => {});
  mkdirSync(options.state, { recursive: true });
  const salt = options.heldOutSalt ?? stateSalt(options.state);
  const seconds = { pull: 0, train: 0, evaluate: 0, publish: 0 };
  let t = performance.now();
  const lap = (key: keyof typeof seconds) => {
    const now = performance.now();
    seconds[key] += (now - t) / 1000;
    t = now;
  };

  // 1. Pull new events since the saved cursor.
  log('step: pull');
  const store = new EventStore(options.state);
  let cursor = readCursor(options.state);
  let eventsNew = 0;
  for (;;) {
    const page = await client.events(cursor, 5000);
    eventsNew += store.add(page.events);
    if (page.nextCursor === cursor || page.events.length === 0) break;
    cursor = page.nextCursor;
  }
  const active = await client.activeModel();
  if (!active) throw new UsageError('the API has no active model: publish one first (pnpm train, then PUT /v1/models/v1 and promote)');
  let activeFile: ModelFile = await readModel(await client.weights(active.version));
  let activeVersion = active.version;
  lap('pull');
  // In an order that does not depend on when requests arrived: the candidate is then a function of the events.
  const all = inStableOrder([...store.events.values()]);
  const gpu = await getGpu();
  const cache = new PipelineCache(gpu);
  const { usable, train, keys } = await screenKeys(cache, activeFile, all, (e) => trainsCandidate(e, salt), options.defences === undefined ? DEFAULT_DEFENCES : options.defences, salt);
  const base = {
    time: new Date().toISOString(), parent: active.version, eventsTotal: all.length, eventsNew, eventsTrain: train.length,
    eventsHeldOut: all.filter((e) => isHeldOut(e.pixels, salt)).length, keys, seconds,
  };
  const finish = (record: GenerationRecord): GenerationRecord => {
    appendLines(join(options.state, 'lineage.jsonl'), [JSON.stringify(record)]);
    writeFileAtomic(join(options.state, 'cursor.json'), JSON.stringify({ cursor }));
    return record;
  };
  const resolvePending = async () => {
    if (!options.dryRun) await client.clearChallenger();
    rmSync(pendingFile(options.state), { force: true });
  };
  const data = loadMnist();

  // 2. Judge the pending candidate on the events logged with it as the challenger.
  let judged: Pick<GenerationRecord, 'decision' | 'reason' | 'candidate' | 'evaluation' | 'testAccuracy'> | null = null;
  /** Where this generation's candidate starts: the active model unless it supersedes a pending candidate. */
  let trainFrom: { file: ModelFile; version: string } | undefined;
  /** The pending candidate this generation's candidate replaces as the challenger, if it is still pending. */
  let supersedes: string | undefined;
  const pending = readPending(options.state);
  if (pending && pending.version === active.version) {
    // Promoted by a run that stopped before it cleared the challenger.
    await resolvePending();
  } else if (pending && pending.parent !== active.version) {
    judged = { decision: 'kept', candidate: pending.version, reason: `the active model changed from ${pending.parent} to ${active.version} since ${pending.version} was frozen: dropped` };
    await resolvePending();
  } else if (pending) {
    log('step: evaluate');
    const evaluation = usable.filter((e) => judgesCandidate(e, pending.version, salt));
    const candidateFile = await readModel(await client.weights(pending.version));
    const candidate = new Model(cache, candidateFile.network, candidateFile.tensors);
    const current = new Model(cache, activeFile.network, activeFile.tensors);
    // Rewards are 0/1 from the simulated clients; the API allows [−1, 1], and the range the bound uses covers what was logged.
    const rewardRange = all.reduce<[number, number]>(([low, high], e) => [Math.min(low, e.reward), Math.max(high, e.reward)], [0, 1]);
    // The reference reads the training events that passed the defences, never the evaluation's.
    const named = evaluation.length ? namedImages(train, rewardRange[1]) : null;
    const outside = named && outsideEvidence(usable, evaluation, rewardRange);
    const compared = named && outside ? await comparisonEvents(evaluation, candidate, current, named, outside) : [];
    const estimate = compared.length ? comparePolicies(compared, { rewardRange }) : null;
    const gate = gateDecision(estimate, { margin: options.margin, maxEvents: options.maxEvaluationEvents ?? 20_000 });
    const testAccuracy = { candidate: await candidate.accuracy(data.test.images, data.test.labels), active: await current.accuracy(data.test.images, data.test.labels) };
    await Promise.all([candidate.destroy(), current.destroy()]);
    lap('evaluate');
    const evidence = {
      events: evaluation.length, estimate, eventsNeeded: estimate && eventsNeeded(estimate.conditionalVariance, DETECTABLE_DIFFERENCE, estimate.alpha, 0.8, estimate.downsideBound),
      ...(named && { reference: { namedImages: named.labels.length, events: compared.filter((e) => e.referenceProbabilities).length } }),
      ...(outside && { outsideEvidence: { images: outside.size, events: compared.filter((e) => e.outsideEvidence).length } }),
    };
    judged = { candidate: pending.version, reason: gate.reason, evaluation: evidence, testAccuracy, decision: options.dryRun ? 'dry-run' : gate.decision === 'promote' ? 'promoted' : gate.decision === 'reject' ? 'kept' : 'pending' };
    const next = nextCandidate(gate.decision, estimate, { supersede: options.supersede ?? REWARD_RECIPE.supersede, newEvents: eventsNew });
    if (options.dryRun || !next.train) return finish({ ...base, ...judged, version: active.version });
    if (gate.decision === 'pending') {
      // Superseded below, once its successor is trained: until then it stays the challenger.
      supersedes = pending.version;
      if (next.from === 'pending') trainFrom = { file: candidateFile, version: pending.version };
    } else if (gate.decision === 'promote') {
      log('step: promote');
      await client.promote(pending.version);
      activeFile = candidateFile;
      activeVersion = pending.version;
      log(`promoted ${pending.version}`);
    }
    if (gate.decision !== 'pending') await resolvePending();
    lap('publish');
  }
  if (options.dryRun || options.train === false || all.length < options.minEvents || train.length === 0) {
    const why = options.dryRun ? 'dry run: nothing pending to judge'
      : options.train === false ? 'asked to train no candidate'
      : `${all.length} events (${train.length} to train on), fewer than --min-events ${options.minEvents}`;
    return finish({ ...base, ...(judged ?? { decision: options.dryRun ? 'dry-run' : 'skipped', reason: why }), version: activeVersion });
  }

  // 3. Train a candidate from the active model (or from the pending one it supersedes) on every training event so far.
  log('step: train');
  trainFrom ??= { file: activeFile, version: activeVersion };
  const model = new Model(cache, trainFrom.file.network, trainFrom.file.tensors);
  const minSteps = options.minSteps === undefined ? undefined : candidateMinSteps(trainFrom.file.metadata.metrics, options.minSteps, options.firstMinSteps ?? options.minSteps);
  const trained = await trainModel(model, data, {
    pretrainEpochs: 0, labels: 0, epochs: options.epochs, events: train, alpha: options.alpha, batch: options.batch, lr: options.lr,
    seed: options.seed, minSteps, selfImages: options.selfImages, selfEvery: options.selfEvery, trunkLrScale: options.trunkLrScale ?? REWARD_RECIPE.trunkLrScale,
    policy: { weighting: options.weighting ?? 'inverse', clip: REWARD_RECIPE.clip, complementary: options.complementary ?? REWARD_RECIPE.complementary },
  }, trainingProgress('candidate '));
  lap('train');

  // 4. Freeze it: upload it unpromoted and serve it as the challenger; it is judged on the events logged from now on.
  log('step: publish');
  const version = nextFreeVersion((await client.models()).models.map((m) => m.version));
  const metrics = { testAccuracy: trained.testAccuracy, eventsTrain: train.length, alpha: options.alpha, epochs: options.epochs };
  const file = await writeModel(trainFrom.file.network, await model.tensors(), { version, parent: trainFrom.version, metrics });
  await model.destroy();
  await client.upload(version, file);
  await client.setChallenger(version, options.share ?? DEFAULT_CHALLENGER_SHARE);
  writeFileAtomic(pendingFile(options.state), JSON.stringify({ version, parent: activeVersion, frozenAt: new Date().toISOString() } satisfies PendingCandidate));
  lap('publish');
  log(`frozen ${version} as the challenger`);
  const frozenReason = `froze ${version} (test accuracy ${(trained.testAccuracy * 100).toFixed(2)}%${supersedes ? `, trained from ${trainFrom.version}` : ''}) as the challenger${supersedes ? ` in place of ${supersedes}` : ''}`;
  if (supersedes) log(`${supersedes} superseded by ${version}`);
  const outcome = judged ? { ...judged, reason: `${judged.reason}; ${frozenReason}`, ...(supersedes && { decision: 'superseded' as const }) } : { decision: 'frozen' as const, reason: frozenReason };
  return finish({ ...base, ...outcome, version: activeVersion, frozen: version, frozenFrom: trainFrom.version });
}

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({
    api: { type: 'string' }, 'admin-token': { type: 'string' }, alpha: { type: 'string' }, epochs: { type: 'string' },
    'min-events': { type: 'string' }, state: { type: 'string' }, 'dry-run': { type: 'boolean' }, rollback: { type: 'boolean' },
    margin: { type: 'string' }, share: { type: 'string' }, 'max-evaluation-events': { type: 'string' }, weighting: { type: 'string' }, 'min-steps': { type: 'string' }, 'first-min-steps': { type: 'string' },
    batch: { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' }, 'self-images': { type: 'string' }, 'self-every': { type: 'string' },
    'max-key-share': { type: 'string' }, 'flag-alpha': { type: 'string' }, 'no-defences': { type: 'boolean' }, 'no-supersede': { type: 'boolean' },
  }, argv);
  if (!flags.api) throw new UsageError('--api URL is required (e.g. http://127.0.0.1:8787)');
  const adminToken = flags['admin-token'] ?? process.env.SEED_ADMIN_TOKEN;
  if (!adminToken) throw new UsageError('--admin-token T (or SEED_ADMIN_TOKEN) is required');
  const client = new ApiClient(flags.api, { adminToken });
  const minSteps = intFlag('min-steps', flags['min-steps'], REWARD_RECIPE.generationMinSteps);
  if (flags.rollback) {
    const model = await client.rollback();
    console.log(`rolled back: active model is now ${model.version}`);
    return;
  }
  const record = await evolveGeneration(client, {
    state: flags.state ?? '.evolve', alpha: numberFlag('alpha', flags.alpha, REWARD_RECIPE.alpha, 0, 1), epochs: intFlag('epochs', flags.epochs, REWARD_RECIPE.epochs, 1),
    minEvents: intFlag('min-events', flags['min-events'], 500, 1), margin: numberFlag('margin', flags.margin, 0, 0, 1),
    share: numberFlag('share', flags.share, DEFAULT_CHALLENGER_SHARE, 0, 0.95, { exclusiveMin: true }),
    maxEvaluationEvents: intFlag('max-evaluation-events', flags['max-evaluation-events'], 20_000, 1),
    batch: intFlag('batch', flags.batch, 64, 1, 4096), lr: numberFlag('lr', flags.lr, REWARD_RECIPE.lr, 0, 1, { exclusiveMin: true }),
    seed: intFlag('seed', flags.seed, 1), weighting: weightingFlag(flags.weighting), minSteps,
    firstMinSteps: intFlag('first-min-steps', flags['first-min-steps'], REWARD_RECIPE.firstGenerationStepsFactor * minSteps),
    selfImages: selfImagesFlag(flags['self-images']),
    selfEvery: selfEveryFlag(flags['self-every']) ?? REWARD_RECIPE.generationSelfEvery,
    supersede: flags['no-supersede'] ? false : REWARD_RECIPE.supersede,
    dryRun: !!flags['dry-run'], log: (line) => console.error(line),
    // The salt is a secret: from the environment, never a flag (pnpm echoes the command line).
    heldOutSalt: process.env.SEED_HELD_OUT_SALT || undefined,
    defences: flags['no-defences'] ? null : {
      maxKeyShare: numberFlag('max-key-share', flags['max-key-share'], DEFAULT_DEFENCES.maxKeyShare, 0, 1, { exclusiveMin: true }),
      flagAlpha: numberFlag('flag-alpha', flags['flag-alpha'], DEFAULT_DEFENCES.flagAlpha, 0, 1, { exclusiveMin: true }),
    },
  });
  const judged = record.candidate ? ` ${record.candidate}` : '';
  console.log(`${record.decision}${judged}: active ${record.version} (was ${record.parent})${record.frozen ? `, challenger ${record.frozen}` : ''}; ${record.reason}`);
  const needed = record.evaluation?.eventsNeeded;
  if (record.evaluation) console.log(`evaluation: ${record.evaluation.events} events${needed ? `; a 0.5-point difference needs about ${needed}` : ''}`);
  console.log(`events: ${record.eventsTotal} total, ${record.eventsNew} new, ${record.eventsTrain} train, ${record.eventsHeldOut} held out; ` +
    `time: pull ${record.seconds.pull.toFixed(1)} s, train ${record.seconds.train.toFixed(1)} s, evaluate ${record.seconds.evaluate.toFixed(1)} s, publish ${record.seconds.publish.toFixed(1)} s`);
  for (const key of record.keys) {
    const judged = (key.rate === undefined ? '' : `, disagrees with the active model on ${(key.rate * 100).toFixed(1)}% (typical ${(key.typicalRate! * 100).toFixed(1)}%, z ${key.z!.toFixed(1)})`) +
      (key.consensusZ === undefined ? '' : `, with the other keys z ${key.consensusZ.toFixed(1)}`);
    console.log(`key ${key.keyId || '(none recorded)'}: ${key.events} events, mean reward ${key.meanReward.toFixed(3)}${judged}${key.flagged ? ': FLAGGED, left out' : ''}${key.cappedOut ? `; ${key.cappedOut} over the share cap` : ''}`);
  }
}
