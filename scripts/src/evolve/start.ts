// pnpm start: the main job, end to end. Pretrain without labels (or reuse a cached pretrained model), start the edge
// API locally, publish the model, then for several generations let simulated clients predict and reward, and evolve.
// Prints one line per generation and writes report/index.html with charts; stops the server it started, always.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { ApiClient } from '@seed/client';
import { intFlag, numberFlag, parseFlags, selfEveryFlag, selfImagesFlag, UsageError, weightingFlag, writeFileAtomic } from '../lib/cli';
import { startEdge, type EntryName } from '../lib/local_edge';
import { keyIdOf } from '@seed/edge';
import { evolveGeneration, type GenerationRecord, type PoisoningDefences } from './evolve';
import { neighbourRoundsFlag, DEFAULT_PRETRAIN_EPOCHS, objectiveFlag, pretrainedModel } from '../train/pretrained';
import { ROOT_DIR } from '../lib/paths';
import { ProgressBar } from '../lib/progress';
import { simulateClients, type RewardRule } from './simulate';
import { explorationAt, explorationSchedule, REWARD_RECIPE } from './recipe';
import { lineageChart, lineChart } from '../lib/svg';

export interface GenerationRow {
  generation: number;
  version: string;
  events: number;
  onlineReward: number;
  testAccuracy: number;
  record?: GenerationRecord;
}

/** The gate's estimate of V(candidate) − V(active) in points, with its bounds and event count. */
function estimateText(record: GenerationRecord | undefined): string {
  const estimate = record?.evaluation?.estimate;
  if (!estimate) return record?.evaluation ? `no events yet` : '';
  const points = (v: number) => (v * 100).toFixed(2);
  return `${points(estimate.value)} [${points(estimate.lower)}, ${points(estimate.upper)}] on ${estimate.n}`;
}

function report(rows: GenerationRow[], settings: Record<string, unknown>): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const accuracyChart = lineChart({
    title: 'Accuracy and reward per generation', xLabel: 'generation', yLabel: 'percent',
    series: [
      { name: 'test accuracy of the active model', points: rows.map((r) => [r.generation, r.testAccuracy * 100]) },
      { name: 'online reward of the generation\'s clients', points: rows.filter((r) => r.generation > 0).map((r) => [r.generation, r.onlineReward * 100]) },
      { name: 'judged candidate true test accuracy', points: rows.filter((r) => r.record?.testAccuracy).map((r) => [r.generation, r.record!.testAccuracy!.candidate * 100]) },
    ],
  });
  // Each candidate hangs from the version it was trained from: the active model, or the candidate it superseded.
  const trainedFrom = new Map(rows.flatMap((r) => (r.record?.frozen && r.record.frozenFrom ? [[r.record.frozen, r.record.frozenFrom] as const] : [])));
  const parentOf = (candidate: string, active: string) => trainedFrom.get(candidate) ?? active;
  const nodes = [{ version: 'v1', parent: '', label: `pretrained ${pct(rows[0].testAccuracy)}`, promoted: true }];
  for (const r of rows.slice(1)) {
    if (r.record?.decision === 'promoted') nodes.push({ version: r.record.version, parent: parentOf(r.record.version, r.record.parent), label: `gen ${r.generation} ${pct(r.testAccuracy)}`, promoted: true });
    else if (r.record?.candidate && r.record.decision === 'kept') nodes.push({ version: r.record.candidate, parent: parentOf(r.record.candidate, r.record.parent), label: `gen ${r.generation} rejected`, promoted: false });
    else if (r.record?.candidate && r.record.decision === 'superseded') nodes.push({ version: r.record.candidate, parent: parentOf(r.record.candidate, r.record.parent), label: `gen ${r.generation} superseded`, promoted: false });
  }
  const table = rows.map((r) => `<tr><td>${r.generation}</td><td>${r.version}</td><td>${r.events}</td><td>${r.generation ? pct(r.onlineReward) : ''}</td><td>${pct(r.testAccuracy)}</td>` +
    `<td>${r.record?.candidate ?? ''}</td><td>${estimateText(r.record)}</td><td>${r.record?.evaluation?.eventsNeeded ?? ''}</td>` +
    `<td>${r.record?.testAccuracy ? pct(r.record.testAccuracy.candidate) : ''}</td><td>${r.record?.decision ?? ''}</td>` +
    `<td>${r.record ? Object.entries(r.record.seconds).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ') : ''}</td></tr>`).join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>seed: evolution report</title><style>body{font-family:sans-serif;max-width:980px;margin:2em auto;padding:0 1em}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}svg{max-width:100%;height:auto}</style></head><body>
<h1>Self-evolution report</h1><p>${new Date().toISOString()}; settings: <code>${JSON.stringify(settings)}</code></p>
<table><tr><th>generation</th><th>active version</th><th>events so far</th><th>online reward</th><th>test accuracy</th><th>judged candidate</th><th>candidate − active (95% bounds)</th><th>events for 0.5 points</th><th>candidate test accuracy</th><th>decision</th><th>time</th></tr>
${table}</table>
<h2>Accuracy and reward</h2>${accuracyChart}
<h2>Lineage</h2>${lineageChart('Versions (dashed: candidates not promoted)', nodes)}
</body></html>`;
}

/** Honest simulated clients are spread over this many keys, as a deployment's clients would be. */
const CLIENT_KEYS = 8;

export type MainJobSettings = ReturnType<typeof mainJobSettings>;

/**
 * One more key among the clients, sending `share` of each generation's interactions and rewarding by its own rule. Its
 * traffic comes on top of the honest clients' (share/(1 − share) times theirs), from its own random stream, so the
 * honest clients send the same images in a run with it as in a run without.
 */
export interface ExtraClient {
  share: number;
  reward: RewardRule;
}

export interface MainJobOptions {
  extraClient?: ExtraClient;
  /** Passed on to evolve: the defences (unset: evolve's defaults) and the held-out salt (unset: a secret one). */
  defences?: PoisoningDefences | null;
  heldOutSalt?: string;
  /**
   * Paired runs: the client keys derived from this text, event ids numbered from the run's seed, and the server's
   * exploration draws a keyed hash of each event (EXPLORATION_SEED). Two runs with the same text and seed send the same
   * honest events and draw the same actions wherever their models agree.
   */
  pairing?: string;
  onGeneration?: (rows: GenerationRow[]) => void;
}

/**
 * Pretrains (or reuses the cached model), starts the edge API, publishes v1, then each generation lets the simulated
 * clients predict and reward and evolves once. Returns one row per generation (0: the pretrained model).
 */
export async function runMainJob(settings: MainJobSettings, options: MainJobOptions = {}): Promise<{ rows: GenerationRow[]; runDir: string; extraKeyId: string | null }> {
  const { file, testAccuracy } = await pretrainedModel(settings);
  const runDir = join(ROOT_DIR, 'runs', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(runDir, { recursive: true });
  const adminToken = randomBytes(16).toString('hex');
  const derivedKey = (i: number) => createHash('sha256').update(`${options.pairing}\nclient key ${i}`).digest('hex').slice(0, 32);
  const clientKeys = Array.from({ length: CLIENT_KEYS + (options.extraClient ? 1 : 0) }, (_, i) => (options.pairing === undefined ? randomBytes(16).toString('hex') : derivedKey(i)));
  const explorationSeed = options.pairing === undefined ? undefined : createHash('sha256').update(`${options.pairing}\nexploration`).digest('hex');
  console.log(`starting the edge API (${settings.server === 'wrangler' ? 'wrangler dev, local D1 and R2' : 'Node entry, SQLite'}) in ${runDir}`);
  // The keys reach wrangler through an env file, never the command line (pnpm echoes that into the log).
  const serve = (exploration: string) => startEdge(settings.server, { adminToken, apiKeys: clientKeys, rewardWaitSeconds: 5, exploration, explorationSeed }, join(runDir, 'edge'));
  let exploration = explorationAt(settings.exploration, 0);
  let edge = await serve(exploration);
  const stop = () => edge.stop();
  const onSignal = () => void stop().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let admin = new ApiClient(edge.url, { adminToken });
    const clientsOf = (url: string) => clientKeys.slice(0, CLIENT_KEYS).map((apiKey) => new ApiClient(url, { apiKey }));
    let honest = clientsOf(edge.url);
    await admin.upload('v1', file);
    await admin.promote('v1');
    const rows: GenerationRow[] = [{ generation: 0, version: 'v1', events: 0, onlineReward: 0, testAccuracy }];
    const header = 'gen  version  events  online reward  test accuracy  judged  candidate − active, points [95% bounds] on events  decision  challenger';
    console.log(`published v1 at ${edge.url} (test accuracy ${(testAccuracy * 100).toFixed(2)}%, exploration ${exploration})\n${header}`);
    let events = 0;
    for (let generation = 1; generation <= settings.generations; generation++) {
      // The schedule's next setting: the edge restarts with it on the same storage, as a deployment would with a new EXPLORATION.
      const scheduled = explorationAt(settings.exploration, events);
      if (scheduled !== exploration) {
        exploration = scheduled;
        await edge.stop();
        edge = await serve(exploration);
        admin = new ApiClient(edge.url, { adminToken });
        honest = clientsOf(edge.url);
        console.log(`the edge restarted with exploration ${exploration} after ${events} interactions`);
      }
      const bar = new ProgressBar();
      const honestEvents = settings.eventsPerGeneration;
      const extraEvents = options.extraClient ? Math.round((honestEvents * options.extraClient.share) / (1 - options.extraClient.share)) : 0;
      const seed = settings.seed * 1000 + generation;
      const eventIds = (who: string) => (options.pairing === undefined ? {} : { eventIdPrefix: `${who}${seed}` });
      const [simulated, extra] = await Promise.all([
        simulateClients(honest, {
          events: honestEvents, seed, split: 'train', concurrency: 32, dropRate: 0.02, ...eventIds('h'),
          onProgress: (done) => bar.update(`generation ${generation}: clients`, done / honestEvents, `${done}/${honestEvents}`),
        }),
        options.extraClient && simulateClients(new ApiClient(edge.url, { apiKey: clientKeys[CLIENT_KEYS] }), {
          events: extraEvents, seed: seed + 500, split: 'train', concurrency: 4, dropRate: 0.02, reward: options.extraClient.reward, ...eventIds('x'),
        }),
      ]);
      bar.done();
      events += simulated.events + (extra ? extra.events : 0);
      // Let the reward wait pass so dropped rewards are exported with the default reward.
      await new Promise((r) => setTimeout(r, 5500));
      const record = await evolveGeneration(admin, {
        state: join(runDir, 'evolve'), alpha: settings.alpha, epochs: settings.epochs, minEvents: 500, margin: 0,
        batch: 64, lr: REWARD_RECIPE.lr, seed: settings.seed + generation, weighting: settings.weighting, minSteps: settings.minSteps, firstMinSteps: settings.firstMinSteps, selfImages: settings.selfImages, selfEvery: settings.selfEvery, supersede: settings.supersede, dryRun: false,
        // The last generation judges but trains nothing: no later generation would judge its candidate.
        train: generation < settings.generations,
        ...(options.defences !== undefined && { defences: options.defences }), ...(options.heldOutSalt !== undefined && { heldOutSalt: options.heldOutSalt }),
      });
      const active = record.version;
      const accuracy = record.testAccuracy ? (record.decision === 'promoted' ? record.testAccuracy.candidate : record.testAccuracy.active) : rows.at(-1)!.testAccuracy;
      // The online reward is the honest clients' own: what the model does for the people it serves.
      rows.push({ generation, version: active, events, onlineReward: simulated.meanReward, testAccuracy: accuracy, record });
      console.log(`${String(generation).padStart(3)}  ${active.padEnd(7)}  ${String(events).padStart(6)}  ${simulated.meanReward.toFixed(4).padStart(13)}  ${(accuracy * 100).toFixed(2).padStart(12)}%  ` +
        `${(record.candidate ?? '-').padEnd(6)}  ${(estimateText(record) || '-').padEnd(44)}  ${record.decision.padEnd(8)}  ${record.frozen ?? '-'}`);
      options.onGeneration?.(rows);
    }
    return { rows, runDir, extraKeyId: options.extraClient ? await keyIdOf(clientKeys[CLIENT_KEYS]) : null };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stop();
  }
}

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({
    generations: { type: 'string' }, 'events-per-generation': { type: 'string' }, labels: { type: 'string' }, 'pretrain-epochs': { type: 'string' }, 'pretrain-objective': { type: 'string' },
    epochs: { type: 'string' }, alpha: { type: 'string' }, server: { type: 'string' }, weighting: { type: 'string' }, 'min-steps': { type: 'string' }, 'first-min-steps': { type: 'string' }, seed: { type: 'string' }, exploration: { type: 'string' },
    'self-images': { type: 'string' }, 'self-every': { type: 'string' }, report: { type: 'string' }, 'no-supersede': { type: 'boolean' }, 'neighbour-rounds': { type: 'string' },
  }, argv);
  const settings = mainJobSettings(flags);
  const reportFile = flags.report ?? join(ROOT_DIR, 'report', 'index.html');
  const started = performance.now();
  const { runDir } = await runMainJob(settings, { onGeneration: (rows) => writeFileAtomic(reportFile, report(rows, settings)) });
  console.log(`done in ${((performance.now() - started) / 60000).toFixed(1)} min; report: ${reportFile}; run data: ${runDir}`);
}

/** The main job's flags, shared by `pnpm start` and the experiments that run it. */
export function mainJobSettings(flags: Record<string, string | boolean | undefined>) {
  const text = (name: string) => (typeof flags[name] === 'string' ? (flags[name] as string) : undefined);
  const server = text('server') ?? 'wrangler';
  if (server !== 'wrangler' && server !== 'node') throw new UsageError(`--server must be wrangler or node, got "${server}"`);
  const pretrainObjective = objectiveFlag(text('pretrain-objective'));
  const minSteps = intFlag('min-steps', text('min-steps'), REWARD_RECIPE.generationMinSteps);
  return {
    generations: intFlag('generations', text('generations'), 6, 1, 100),
    eventsPerGeneration: intFlag('events-per-generation', text('events-per-generation'), 4000, 100),
    labels: intFlag('labels', text('labels'), 0, 0, 8000),
    pretrainObjective,
    pretrainEpochs: intFlag('pretrain-epochs', text('pretrain-epochs'), DEFAULT_PRETRAIN_EPOCHS[pretrainObjective]),
    /** Rounds of NT-Xent with nearest-neighbour positives after contrastive pretraining (DEFAULT_NEIGHBOUR_ROUNDS; see neighbourRoundsOf). */
    neighbourRounds: neighbourRoundsFlag(text('neighbour-rounds')),
    epochs: intFlag('epochs', text('epochs'), REWARD_RECIPE.epochs, 1),
    alpha: numberFlag('alpha', text('alpha'), REWARD_RECIPE.alpha, 0, 1),
    weighting: weightingFlag(text('weighting')),
    minSteps,
    /** Steps of a candidate from a model that has learned from no rewards, the first (REWARD_RECIPE.firstGenerationStepsFactor × minSteps). */
    firstMinSteps: intFlag('first-min-steps', text('first-min-steps'), REWARD_RECIPE.firstGenerationStepsFactor * minSteps),
    /** Images of each batch the candidate's self-supervised term reads (unset: the trainer's default, TrainPlan.selfImages). */
    selfImages: selfImagesFlag(text('self-images')),
    /** The candidate's self-supervised term on one step in this many (default REWARD_RECIPE.generationSelfEvery; see TrainPlan.selfEvery). */
    selfEvery: selfEveryFlag(text('self-every')) ?? REWARD_RECIPE.generationSelfEvery,
    /** A candidate still pending is superseded by one trained on the events since (REWARD_RECIPE.supersede; --no-supersede). */
    supersede: flags['no-supersede'] ? false : REWARD_RECIPE.supersede,
    /** The edge's exploration by interactions logged (REWARD_RECIPE.exploration; --exploration SETTING[,SETTING@N…]). */
    exploration: explorationSchedule(text('exploration') ?? REWARD_RECIPE.exploration),
    seed: intFlag('seed', text('seed'), 1),
    server: server as EntryName,
  };
}
