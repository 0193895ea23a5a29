// pnpm evolve: one generation. Pull new events, train a candidate from the active model with the fused loss on all
// events so far, evaluate it off-policy on held-out events against the active model, and publish and promote it
// only if its lower bound beats the active model. The cursor is saved last, so an interrupted run loses nothing,
// and events are kept by id, so a repeated pull counts nothing twice.
import { appendFileSync, existsSync, mkdirSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import {
  getGpu, greedyProbabilities, IMAGE_PIXELS, loadMnist, Model, offPolicyEstimate, pairedDifference, parseEventLine, PipelineCache, readModel, softmaxRows,
  trainModel, writeModel, type Estimate, type LoggedEvent, type ModelFile, type OffPolicyEstimate,
} from '@seed/runtime';
import { ApiClient, type ExportedEvent } from '@seed/client';
import { intFlag, numberFlag, parseFlags, UsageError, weightingFlag, writeFileAtomic } from '../lib/cli';
import { REWARD_RECIPE } from './recipe';
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
  /** Trunk learning rate as a fraction of lr, and λ of the complementary term (defaults: REWARD_RECIPE). */
  trunkLrScale?: number;
  complementary?: number;
  dryRun: boolean;
  log?: (line: string) => void;
}

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
  /** Monitoring only: accuracy on the 2,000 MNIST test digits (never trained on). */
  testAccuracy?: { candidate: number; active: number };
  seconds: { pull: number; train: number; evaluate: number; publish: number };
}

/**
 * Every fifth image (by a hash of its quantised pixels) is held out for evaluation, in every generation: an image
 * seen again in a later event stays held out, so the candidate is never evaluated on an image it was trained on.
 */
export function isHeldOut(event: Pick<LoggedEvent, 'pixels'>): boolean {
  let h = 2166136261;
  for (let i = 0; i < event.pixels.length; i++) h = Math.imul(h ^ Math.round(event.pixels[i] * 255), 16777619);
  return (h >>> 0) % 5 === 0;
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
      this.events.set(event.eventId, event);
    });
  }

  /** Appends events not seen before; returns how many were new. */
  add(exported: ExportedEvent[]): number {
    const lines: string[] = [];
    for (const e of exported) {
      if (this.events.has(e.eventId)) continue;
      const line = JSON.stringify({ eventId: e.eventId, time: e.time, modelVersion: e.modelVersion, pixels: e.pixels, action: e.action, propensity: e.propensity, reward: e.reward, rewardSource: e.rewardSource });
      this.events.set(e.eventId, parseEventLine(line, 'export'));
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
  const heldOut = all.filter(isHeldOut);
  const train = all.filter((e) => !isHeldOut(e));
  const base = { time: new Date().toISOString(), parent: active.version, eventsTotal: all.length, eventsNew, eventsTrain: train.length, eventsHeldOut: heldOut.length, seconds };
  const finish = (record: GenerationRecord): GenerationRecord => {
    appendLines(join(options.state, 'lineage.jsonl'), [JSON.stringify(record)]);
    writeFileAtomic(join(options.state, 'cursor.json'), JSON.stringify({ cursor }));
    return record;
  };
  if (all.length < options.minEvents || heldOut.length === 0) {
    return finish({ ...base, version: active.version, decision: 'skipped', reason: `${all.length} events, fewer than --min-events ${options.minEvents}` });
  }

  // 2. Train a candidate from the active model on every training event so far.
  log('step: train');
  const gpu = await getGpu();
  const cache = new PipelineCache(gpu);
  const candidate = new Model(cache, parentFile.network, parentFile.tensors);
  const data = loadMnist();
  await trainModel(candidate, data, {
    pretrainEpochs: 0, labels: 0, epochs: options.epochs, events: train, alpha: options.alpha, batch: options.batch, lr: options.lr,
    seed: options.seed, minSteps: options.minSteps, trunkLrScale: options.trunkLrScale ?? REWARD_RECIPE.trunkLrScale,
    policy: { weighting: options.weighting ?? 'inverse', clip: REWARD_RECIPE.clip, complementary: options.complementary ?? REWARD_RECIPE.complementary },
  }, trainingProgress('candidate '));
  lap('train');

  // 3. Off-policy evaluation on the held-out events: the candidate's greedy policy against the active one's.
  log('step: evaluate');
  const current = new Model(cache, parentFile.network, parentFile.tensors);
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
  });
  console.log(`${record.decision}: ${record.version} (parent ${record.parent}); ${record.reason}`);
  console.log(`events: ${record.eventsTotal} total, ${record.eventsNew} new, ${record.eventsTrain} train, ${record.eventsHeldOut} held out; ` +
    `time: pull ${record.seconds.pull.toFixed(1)} s, train ${record.seconds.train.toFixed(1)} s, evaluate ${record.seconds.evaluate.toFixed(1)} s, publish ${record.seconds.publish.toFixed(1)} s`);
}

