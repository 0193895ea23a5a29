// pnpm start: the main job, end to end. Pretrain without labels (or reuse a cached pretrained model), start the edge
// API locally, publish the model, then for several generations let simulated clients predict and reward, and evolve.
// Prints one line per generation and writes report/index.html with charts; stops the server it started, always.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ApiClient } from '@seed/client';
import { intFlag, numberFlag, parseFlags, UsageError, weightingFlag, writeFileAtomic } from '../lib/cli';
import { startEdge, type EntryName } from '../lib/local_edge';
import { evolveGeneration, type GenerationRecord } from './evolve';
import { DEFAULT_PRETRAIN_EPOCHS, objectiveFlag, pretrainedModel } from '../train/pretrained';
import { ROOT_DIR } from '../lib/paths';
import { ProgressBar } from '../lib/progress';
import { simulateClients } from './simulate';
import { REWARD_RECIPE } from './recipe';
import { lineageChart, lineChart } from '../lib/svg';

interface GenerationRow {
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
  const nodes = [{ version: 'v1', parent: '', label: `pretrained ${pct(rows[0].testAccuracy)}`, promoted: true }];
  for (const r of rows.slice(1)) {
    if (r.record?.decision === 'promoted') nodes.push({ version: r.record.version, parent: r.record.parent, label: `gen ${r.generation} ${pct(r.testAccuracy)}`, promoted: true });
    else if (r.record?.candidate && r.record.decision === 'kept') nodes.push({ version: r.record.candidate, parent: r.record.parent, label: `gen ${r.generation} rejected`, promoted: false });
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

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({
    generations: { type: 'string' }, 'events-per-generation': { type: 'string' }, labels: { type: 'string' }, 'pretrain-epochs': { type: 'string' }, 'pretrain-objective': { type: 'string' },
    epochs: { type: 'string' }, alpha: { type: 'string' }, server: { type: 'string' }, weighting: { type: 'string' }, 'min-steps': { type: 'string' }, seed: { type: 'string' }, exploration: { type: 'string' },
    report: { type: 'string' },
  }, argv);
  const pretrainObjective = objectiveFlag(flags['pretrain-objective']);
  const settings = {
    generations: intFlag('generations', flags.generations, 6, 1, 100),
    eventsPerGeneration: intFlag('events-per-generation', flags['events-per-generation'], 4000, 100),
    labels: intFlag('labels', flags.labels, 0, 0, 8000),
    pretrainObjective,
    pretrainEpochs: intFlag('pretrain-epochs', flags['pretrain-epochs'], DEFAULT_PRETRAIN_EPOCHS[pretrainObjective]),
    epochs: intFlag('epochs', flags.epochs, REWARD_RECIPE.epochs, 1),
    alpha: numberFlag('alpha', flags.alpha, REWARD_RECIPE.alpha, 0, 1),
    weighting: weightingFlag(flags.weighting),
    minSteps: intFlag('min-steps', flags['min-steps'], 750),
    exploration: flags.exploration ?? REWARD_RECIPE.exploration,
    seed: intFlag('seed', flags.seed, 1),
    server: flags.server ?? 'wrangler',
    report: flags.report ?? join(ROOT_DIR, 'report', 'index.html'),
  };
  if (settings.server !== 'wrangler' && settings.server !== 'node') throw new UsageError(`--server must be wrangler or node, got "${settings.server}"`);
  const started = performance.now();
  const { file, testAccuracy } = await pretrainedModel(settings);
  const runDir = join(ROOT_DIR, 'runs', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(runDir, { recursive: true });
  const adminToken = randomBytes(16).toString('hex');
  console.log(`starting the edge API (${settings.server === 'wrangler' ? 'wrangler dev, local D1 and R2' : 'Node entry, SQLite'}) in ${runDir}`);
  // The token reaches wrangler through an env file, never the command line (pnpm echoes that into the log).
  const edge = await startEdge(settings.server as EntryName, { adminToken, apiKeys: [], rewardWaitSeconds: 5, exploration: settings.exploration }, join(runDir, 'edge'));
  const { url } = edge;
  const stop = () => edge.stop();
  const onSignal = () => void stop().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const client = new ApiClient(url, { adminToken });
    await client.upload('v1', file);
    await client.promote('v1');
    const rows: GenerationRow[] = [{ generation: 0, version: 'v1', events: 0, onlineReward: 0, testAccuracy }];
    const header = 'gen  version  events  online reward  test accuracy  judged  candidate − active, points [95% bounds] on events  decision  challenger';
    console.log(`published v1 at ${url} (test accuracy ${(testAccuracy * 100).toFixed(2)}%)\n${header}`);
    let events = 0;
    for (let generation = 1; generation <= settings.generations; generation++) {
      const bar = new ProgressBar();
      const simulated = await simulateClients(client, {
        events: settings.eventsPerGeneration, seed: settings.seed * 1000 + generation, split: 'train', concurrency: 32, dropRate: 0.02,
        onProgress: (done) => bar.update(`generation ${generation}: clients`, done / settings.eventsPerGeneration, `${done}/${settings.eventsPerGeneration}`),
      });
      bar.done();
      events += simulated.events;
      // Let the reward wait pass so dropped rewards are exported with the default reward.
      await new Promise((r) => setTimeout(r, 5500));
      const record = await evolveGeneration(client, {
        state: join(runDir, 'evolve'), alpha: settings.alpha, epochs: settings.epochs, minEvents: 500, margin: 0,
        batch: 64, lr: 0.002, seed: settings.seed + generation, weighting: settings.weighting, minSteps: settings.minSteps, dryRun: false,
      });
      const active = record.version;
      const accuracy = record.testAccuracy ? (record.decision === 'promoted' ? record.testAccuracy.candidate : record.testAccuracy.active) : rows.at(-1)!.testAccuracy;
      rows.push({ generation, version: active, events, onlineReward: simulated.meanReward, testAccuracy: accuracy, record });
      console.log(`${String(generation).padStart(3)}  ${active.padEnd(7)}  ${String(events).padStart(6)}  ${simulated.meanReward.toFixed(4).padStart(13)}  ${(accuracy * 100).toFixed(2).padStart(12)}%  ` +
        `${(record.candidate ?? '-').padEnd(6)}  ${(estimateText(record) || '-').padEnd(44)}  ${record.decision.padEnd(8)}  ${record.frozen ?? '-'}`);
      writeFileAtomic(settings.report, report(rows, settings));
    }
    console.log(`done in ${((performance.now() - started) / 60000).toFixed(1)} min; report: ${settings.report}; run data: ${runDir}`);
  } finally {
    await stop();
  }
}

