// pnpm experiment:poison: the main job with one extra key that sends a share of the traffic (10% by default) and
// rewards the wrong actions it finds through exploration (1 when the action is not the true digit, 0 when it is).
// Three runs of the same job: clean (no extra key), poisoned with the defences on, poisoned with them off (no share
// cap, no flag, the public held-out hash). Prints one table and writes it as JSON.
import { join } from 'node:path';
import { parseFlags, numberFlag, writeFileAtomic } from '../lib/cli';
import { ROOT_DIR } from '../lib/paths';
import { DEFAULT_DEFENCES } from '../evolve/evolve';
import { mainJobSettings, runMainJob, type GenerationRow, type MainJobOptions } from '../evolve/start';
import type { RewardRule } from '../evolve/simulate';

/** The poisoner: rewards every wrong action and punishes every right one. */
export const poisonReward: RewardRule = (action, label) => (action === label ? 0 : 1);

export interface PoisonRunSummary {
  run: 'clean' | 'poisoned, defences on' | 'poisoned, defences off';
  accuracyByGeneration: number[];
  finalAccuracy: number;
  promoted: number;
  /** Promotions whose candidate scored lower on the test digits than its parent. */
  promotedWorse: number;
  /** The largest drop in test accuracy a promotion brought (0 when none dropped). */
  worstPromotionDrop: number;
  /** Generations in which the extra key was flagged. */
  flaggedGenerations: number;
  minutes: number;
  runDir: string;
}

/** What one run's rows say: the accuracy path, the promotions that made the model worse, and the flags. */
export function summariseRun(run: PoisonRunSummary['run'], rows: GenerationRow[], extraKeyId: string | null): Omit<PoisonRunSummary, 'minutes' | 'runDir'> {
  const promotions = rows.flatMap((row) => (row.record?.decision === 'promoted' && row.record.testAccuracy ? [row.record.testAccuracy] : []));
  const drops = promotions.map((t) => t.active - t.candidate);
  return {
    run,
    accuracyByGeneration: rows.map((row) => row.testAccuracy),
    finalAccuracy: rows.at(-1)!.testAccuracy,
    promoted: promotions.length,
    promotedWorse: drops.filter((drop) => drop > 0).length,
    worstPromotionDrop: Math.max(0, ...drops),
    flaggedGenerations: rows.filter((row) => row.record?.keys.some((key) => key.keyId === extraKeyId && key.flagged)).length,
  };
}

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({
    generations: { type: 'string' }, 'events-per-generation': { type: 'string' }, labels: { type: 'string' }, 'pretrain-epochs': { type: 'string' }, 'pretrain-objective': { type: 'string' },
    epochs: { type: 'string' }, alpha: { type: 'string' }, server: { type: 'string' }, weighting: { type: 'string' }, 'min-steps': { type: 'string' }, seed: { type: 'string' }, exploration: { type: 'string' },
    share: { type: 'string' }, json: { type: 'string' },
  }, argv);
  const settings = mainJobSettings(flags);
  const share = numberFlag('share', flags.share, 0.1, 0, 0.5, { exclusiveMin: true });
  const out = flags.json ?? join(ROOT_DIR, 'report', 'poison.json');
  const extraClient = { share, reward: poisonReward };
  const runs: [PoisonRunSummary['run'], MainJobOptions][] = [
    ['clean', { defences: DEFAULT_DEFENCES }],
    ['poisoned, defences on', { extraClient, defences: DEFAULT_DEFENCES }],
    ['poisoned, defences off', { extraClient, defences: null, heldOutSalt: '' }],
  ];
  const summaries: PoisonRunSummary[] = [];
  for (const [run, options] of runs) {
    console.log(`\n== ${run}`);
    const started = performance.now();
    const { rows, runDir, extraKeyId } = await runMainJob(settings, options);
    summaries.push({ ...summariseRun(run, rows, extraKeyId), minutes: (performance.now() - started) / 60000, runDir });
    writeFileAtomic(out, `${JSON.stringify({ settings, share, summaries }, null, 2)}\n`);
  }
  const clean = summaries[0].finalAccuracy;
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  console.log(`\n${settings.generations} generations × ${settings.eventsPerGeneration} interactions, the extra key ${share * 100}% of them\n`);
  console.log('| run | test accuracy by generation | final | vs clean | promoted | promoted worse than parent | extra key flagged | minutes |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const s of summaries) {
    const delta = ((s.finalAccuracy - clean) * 100).toFixed(2);
    console.log(`| ${s.run} | ${s.accuracyByGeneration.map(pct).join(' → ')} | ${pct(s.finalAccuracy)} | ${s.run === 'clean' ? '' : `${delta} points`} | ${s.promoted} | ` +
      `${s.promotedWorse}${s.promotedWorse ? ` (worst −${(s.worstPromotionDrop * 100).toFixed(2)} points)` : ''} | ${s.run === 'clean' ? '' : `${s.flaggedGenerations} of ${settings.generations}`} | ${s.minutes.toFixed(1)} |`);
  }
  console.log(`\nJSON: ${out}`);
}
