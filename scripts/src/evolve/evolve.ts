// pnpm evolve: one generation. Pull new events, train a candidate from the active model with the fused loss on all
// events so far, evaluate it off-policy on held-out events against the active model, and publish and promote it
// only if its lower bound beats the active model. The cursor is saved last, so an interrupted run loses nothing,
// and events are kept by id, so a repeated pull counts nothing twice.
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  argmaxRows, capKeyShare, disagreementFlags, getGpu, greedyProbabilities, IMAGE_PIXELS, keyStats, loadMnist, Model, offPolicyEstimate, pairedDifference, parseEventLine,
  PipelineCache, readModel, saltedImageHash, softmaxRows, trainModel, UNKNOWN_KEY, writeModel, type Estimate, type KeyDisagreement, type KeyStats, type LoggedEvent,
  type ModelFile, type OffPolicyEstimate,
} from '@seed/runtime';
import { ApiClient, type ExportedEvent } from '@seed/client';
import { intFlag, numberFlag, parseFlags, UsageError, weightingFlag, writeFileAtomic } from '../lib/cli';
import { trainingProgress } from '../lib/progress';

export interface EvolveOptions {
  state: string;
  alpha: number;
  epochs: number;
  minEvents: number;
  /** Required lead of the candidate's lower bound over the active model's estimate. */
  margin: number;
  /** Importance weights are clipped at this value in the off-policy estimates. */
  clip: number;
  batch: number;
  lr: number;
  seed: number;
  /** Importance weights of the policy gradient: 'ratio' π/p or 'inverse' 1/p (see policy_gradient.ts). */
  weighting?: 'ratio' | 'inverse';
  /** The candidate trains for at least this many steps, however few the events. */
  minSteps?: number;
  dryRun: boolean;
  /** Secret salt of the held-out split; '' for the public hash of the pixels; unset: a random one kept in the state folder. */
  heldOutSalt?: string;
  /** The poisoning defences (runtime/src/train/poisoning.ts); null turns them off. */
  defences?: PoisoningDefences | null;
  log?: (line: string) => void;
}

export interface PoisoningDefences {
  /** No key keeps more than this share of the generation's training events. */
  maxKeyShare: number;
  /** Family-wise significance of the disagreement flag; flagged keys are left out of training and of the gate. */
  flagAlpha: number;
}

export const DEFAULT_DEFENCES: PoisoningDefences = { maxKeyShare: 0.25, flagAlpha: 0.01 };

/** One key in the lineage: its events and mean reward, and how its rewards compare with the active model's choices. */
export type KeyRecord = KeyStats & Partial<Pick<KeyDisagreement, 'rate' | 'typicalRate' | 'z' | 'flagged'>> & { cappedOut?: number };

export interface GenerationRecord {
  time: string;
  parent: string;
  version: string;
  decision: 'promoted' | 'kept' | 'skipped' | 'dry-run';
  reason: string;
  eventsTotal: number;
  eventsNew: number;
  eventsTrain: number;
  eventsHeldOut: number;
  candidate?: OffPolicyEstimate;
  active?: OffPolicyEstimate;
  /** Paired IPS estimate of V(candidate) − V(active) on the held-out events: the promotion gate. */
  difference?: Estimate;
  /** Each key's events and mean reward; with the defences on, its disagreement with the active model and what was left out. */
  keys: KeyRecord[];
  /** Monitoring only: accuracy on the 2,000 MNIST test digits (never trained on). */
  testAccuracy?: { candidate: number; active: number };
  seconds: { pull: number; train: number; evaluate: number; publish: number };
}

/**
 * Every fifth image (by a hash of its quantised pixels) is held out for evaluation, in every generation: an image
 * seen again in a later event stays held out, so the candidate is never evaluated on an image it was trained on. With
 * a salt the hash is keyed by it (HMAC), so a client cannot choose whether its event trains or judges the candidate.
 */
export function isHeldOut(event: Pick<LoggedEvent, 'pixels'>, salt = ''): boolean {
  if (salt) return saltedImageHash(event.pixels, salt) % 5 === 0;
  let h = 2166136261;
  for (let i = 0; i < event.pixels.length; i++) h = Math.imul(h ^ Math.round(event.pixels[i] * 255), 16777619);
  return (h >>> 0) % 5 === 0;
}

/** The state folder's held-out salt, made (random, readable by the owner only) on first use. */
function stateSalt(dir: string): string {
  const file = join(dir, 'held_out_salt');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  return readFileSync(file, 'utf8').trim();
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
        keyId: e.keyId, eventId: e.eventId, time: e.time, modelVersion: e.modelVersion, pixels: e.pixels, action: e.action, propensity: e.propensity, reward: e.reward,
        rewardSource: e.rewardSource,
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

/**
 * The defences before training: each key's client rewards judged against the active model's own choices (flagged keys
 * are left out of training and of the gate), then the share cap on the training events that remain.
 */
async function screenKeys(current: Model, all: LoggedEvent[], defences: PoisoningDefences, salt: string): Promise<{ kept: LoggedEvent[]; train: LoggedEvent[]; keys: KeyRecord[] }> {
  const judged = all.filter((e) => e.rewardSource !== 'default');
  const greedy = judged.length ? argmaxRows(await policyProbabilities(current, judged), judged.length, 10) : new Int32Array(0);
  const flags = disagreementFlags(judged.map((e, i) => ({ keyId: e.keyId ?? UNKNOWN_KEY, rewardSaysRight: e.reward >= 0.5, modelChoseAction: greedy[i] === e.action })), defences.flagAlpha);
  const flagged = new Set(flags.filter((f) => f.flagged).map((f) => f.keyId));
  const kept = all.filter((e) => !flagged.has(e.keyId ?? UNKNOWN_KEY));
  const capped = capKeyShare(kept.filter((e) => !isHeldOut(e, salt)), defences.maxKeyShare, salt);
  const byKey = new Map(flags.map((f) => [f.keyId, f]));
  const keys = keyStats(all).map((stats): KeyRecord => {
    const flag = byKey.get(stats.keyId);
    return { ...stats, ...(flag && { rate: flag.rate, typicalRate: flag.typicalRate, z: flag.z, flagged: flag.flagged }), cappedOut: capped.dropped[stats.keyId] ?? 0 };
  });
  return { kept, train: capped.kept, keys };
}

export async function evolveGeneration(client: ApiClient, options: EvolveOptions): Promise<GenerationRecord> {
  const log = options.log ?? (() => {});
  mkdirSync(options.state, { recursive: true });
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
  const parentFile: ModelFile = await readModel(await client.weights(active.version));
  lap('pull');
  const all = [...store.events.values()];
  const salt = options.heldOutSalt ?? stateSalt(options.state);
  const defences = options.defences === undefined ? DEFAULT_DEFENCES : options.defences;
  const gpu = await getGpu();
  const cache = new PipelineCache(gpu);
  const current = new Model(cache, parentFile.network, parentFile.tensors);
  const screened = defences ? await screenKeys(current, all, defences, salt) : { kept: all, train: all.filter((e) => !isHeldOut(e, salt)), keys: keyStats(all) };
  const heldOut = screened.kept.filter((e) => isHeldOut(e, salt));
  const { train } = screened;
  const base = {
    time: new Date().toISOString(), parent: active.version, eventsTotal: all.length, eventsNew, eventsTrain: train.length, eventsHeldOut: heldOut.length, keys: screened.keys, seconds,
  };
  const finish = (record: GenerationRecord): GenerationRecord => {
    appendLines(join(options.state, 'lineage.jsonl'), [JSON.stringify(record)]);
    writeFileAtomic(join(options.state, 'cursor.json'), JSON.stringify({ cursor }));
    return record;
  };
  if (all.length < options.minEvents || heldOut.length === 0) {
    await current.destroy();
    return finish({ ...base, version: active.version, decision: 'skipped', reason: `${all.length} events, fewer than --min-events ${options.minEvents}` });
  }

  // 2. Train a candidate from the active model on every training event so far.
  log('step: train');
  const candidate = new Model(cache, parentFile.network, parentFile.tensors);
  const data = loadMnist();
  await trainModel(candidate, data, {
    pretrainEpochs: 0, labels: 0, epochs: options.epochs, events: train, alpha: options.alpha, batch: options.batch, lr: options.lr,
    seed: options.seed, minSteps: options.minSteps, policy: { weighting: options.weighting ?? 'inverse' },
  }, trainingProgress('candidate '));
  lap('train');

  // 3. Off-policy evaluation on the held-out events: the candidate's greedy policy against the active one's.
  log('step: evaluate');
  const rewards = heldOut.map((e) => e.reward);
  const propensities = heldOut.map((e) => e.propensity);
  const actions = heldOut.map((e) => e.action);
  const candidatePolicy = greedyProbabilities(await policyProbabilities(candidate, heldOut), actions, 10);
  const activePolicy = greedyProbabilities(await policyProbabilities(current, heldOut), actions, 10);
  const candidateEstimate = offPolicyEstimate(rewards, propensities, candidatePolicy, options.clip);
  const activeEstimate = offPolicyEstimate(rewards, propensities, activePolicy, options.clip);
  const difference = pairedDifference(rewards, propensities, candidatePolicy, activePolicy, options.clip);
  const testAccuracy = { candidate: await candidate.accuracy(data.test.images, data.test.labels), active: await current.accuracy(data.test.images, data.test.labels) };
  await current.destroy();
  lap('evaluate');

  // 4. Promote only if the candidate beats the active model with 95% confidence: the lower bound of the paired
  //    difference of their estimates on the same held-out events must exceed the margin.
  const better = difference.lower > options.margin;
  const reason = `candidate − active ${difference.value.toFixed(4)} [${difference.lower.toFixed(4)}, ${difference.upper.toFixed(4)}] ` +
    `(SNIPS ${candidateEstimate.snips.value.toFixed(4)} against ${activeEstimate.snips.value.toFixed(4)}); lower bound ${better ? 'above' : 'not above'} ` +
    `the margin ${options.margin} on ${heldOut.length} held-out events`;
  const version = nextFreeVersion((await client.models()).models.map((m) => m.version));
  const evaluated = { ...base, candidate: candidateEstimate, active: activeEstimate, difference, testAccuracy };
  if (!better || options.dryRun) {
    await candidate.destroy();
    return finish({ ...evaluated, version: active.version, decision: options.dryRun ? 'dry-run' : 'kept', reason });
  }

  // 5. Publish and promote, then record the generation and save the cursor.
  log('step: publish');
  const metrics = {
    offPolicy: { snips: candidateEstimate.snips, ips: candidateEstimate.ips, effectiveSampleSize: candidateEstimate.effectiveSampleSize, heldOut: heldOut.length },
    activeOffPolicy: activeEstimate.snips, difference, testAccuracy: testAccuracy.candidate, eventsTrain: train.length, alpha: options.alpha, epochs: options.epochs,
  };
  const file = await writeModel(parentFile.network, await candidate.tensors(), { version, parent: active.version, metrics });
  await candidate.destroy();
  await client.upload(version, file);
  await client.promote(version);
  lap('publish');
  log(`published ${version}`);
  return finish({ ...evaluated, version, decision: 'promoted', reason });
}

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({
    api: { type: 'string' }, 'admin-token': { type: 'string' }, alpha: { type: 'string' }, epochs: { type: 'string' },
    'min-events': { type: 'string' }, state: { type: 'string' }, 'dry-run': { type: 'boolean' }, rollback: { type: 'boolean' },
    margin: { type: 'string' }, clip: { type: 'string' }, weighting: { type: 'string' }, 'min-steps': { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' },
    'max-key-share': { type: 'string' }, 'flag-alpha': { type: 'string' }, 'no-defences': { type: 'boolean' },
  }, argv);
  if (!flags.api) throw new UsageError('--api URL is required (e.g. http://127.0.0.1:8787)');
  const adminToken = flags['admin-token'] ?? process.env.SEED_ADMIN_TOKEN;
  if (!adminToken) throw new UsageError('--admin-token T (or SEED_ADMIN_TOKEN) is required');
  const client = new ApiClient(flags.api, { adminToken });
  if (flags.rollback) {
    const model = await client.rollback();
    console.log(`rolled back: active model is now ${model.version}`);
    return;
  }
  const record = await evolveGeneration(client, {
    state: flags.state ?? '.evolve', alpha: numberFlag('alpha', flags.alpha, 0.2, 0, 1), epochs: intFlag('epochs', flags.epochs, 3, 1),
    minEvents: intFlag('min-events', flags['min-events'], 500, 1), margin: numberFlag('margin', flags.margin, 0, 0, 1),
    clip: numberFlag('clip', flags.clip, 20, 1, 1e6),
    batch: intFlag('batch', flags.batch, 64, 1, 4096), lr: numberFlag('lr', flags.lr, 0.002, 0, 1, { exclusiveMin: true }),
    seed: intFlag('seed', flags.seed, 1), weighting: weightingFlag(flags.weighting), minSteps: intFlag('min-steps', flags['min-steps'], 750),
    dryRun: !!flags['dry-run'], log: (line) => console.error(line),
    // The salt is a secret: from the environment, never a flag (pnpm echoes the command line).
    heldOutSalt: process.env.SEED_HELD_OUT_SALT || undefined,
    defences: flags['no-defences'] ? null : {
      maxKeyShare: numberFlag('max-key-share', flags['max-key-share'], DEFAULT_DEFENCES.maxKeyShare, 0, 1, { exclusiveMin: true }),
      flagAlpha: numberFlag('flag-alpha', flags['flag-alpha'], DEFAULT_DEFENCES.flagAlpha, 0, 1, { exclusiveMin: true }),
    },
  });
  console.log(`${record.decision}: ${record.version} (parent ${record.parent}); ${record.reason}`);
  console.log(`events: ${record.eventsTotal} total, ${record.eventsNew} new, ${record.eventsTrain} train, ${record.eventsHeldOut} held out; ` +
    `time: pull ${record.seconds.pull.toFixed(1)} s, train ${record.seconds.train.toFixed(1)} s, evaluate ${record.seconds.evaluate.toFixed(1)} s, publish ${record.seconds.publish.toFixed(1)} s`);
  for (const key of record.keys) {
    const judged = key.rate === undefined ? '' : `, disagrees with the active model on ${(key.rate * 100).toFixed(1)}% (typical ${(key.typicalRate! * 100).toFixed(1)}%, z ${key.z!.toFixed(1)})`;
    console.log(`key ${key.keyId || '(none recorded)'}: ${key.events} events, mean reward ${key.meanReward.toFixed(3)}${judged}${key.flagged ? ': FLAGGED, left out' : ''}${key.cappedOut ? `; ${key.cappedOut} over the share cap` : ''}`);
  }
}

