// pnpm experiment:poison: the main job with one extra key that sends a share of the traffic (10% by default) and
// rewards the wrong actions it finds through exploration (1 when the action is not the true digit, 0 when it is).
// Runs of the same job for each seed: clean (no extra key), poisoned with the defences on, poisoned with them off (no
// share cap, no flags, the public held-out hash), and optionally the clean run again, to measure what is left of
// run-to-run noise. The runs of one seed are paired: the same client keys, the same honest images and rewards, and the
// same exploration draws (EXPLORATION_SEED, a keyed hash of each event) wherever their models agree; the extra key's
// traffic comes on top, from its own random stream. Prints one table and writes it as JSON.
import { join } from 'node:path';
import { consensusFlags, Random, type CellReward } from '@seed/runtime';
import { parseFlags, numberFlag, UsageError, writeFileAtomic } from '../lib/cli';
import { ROOT_DIR } from '../lib/paths';
import { DEFAULT_DEFENCES } from '../evolve/evolve';
import { mainJobSettings, runMainJob, type GenerationRow, type MainJobOptions } from '../evolve/start';
import type { RewardRule } from '../evolve/simulate';

/** The poisoner: rewards every wrong action and punishes every right one. */
export const poisonReward: RewardRule = (action, label) => (action === label ? 0 : 1);

export const RUN_NAMES = ['clean', 'repeat', 'on', 'off'] as const;
export type RunName = (typeof RUN_NAMES)[number];
const RUN_TITLES: Record<RunName, string> = { clean: 'clean', repeat: 'clean, again', on: 'poisoned, defences on', off: 'poisoned, defences off' };

export interface PoisonRunSummary {
  seed: number;
  run: RunName;
  accuracyByGeneration: number[];
  finalAccuracy: number;
  promoted: number;
  /** Promotions whose candidate scored lower on the 2,000 test digits than its parent. */
  promotedWorse: number;
  /** The largest drop in test accuracy a promotion brought (0 when none dropped). */
  worstPromotionDrop: number;
  /** Generations in which the extra key was flagged. */
  flaggedIn: number[];
  /** The extra key's z in each generation's screening: against the other keys (consensus) and against the active model. */
  extraKeyZ: { generation: number; consensusZ: number | null; modelZ: number | null }[];
  /** The largest |z| of any honest key in either test, and whether any honest key was flagged. */
  largestHonestZ: number;
  honestFlagged: number;
  minutes: number;
  runDir: string;
}

/** What one run's rows say: the accuracy path, the promotions that made the model worse, and the flags. */
export function summariseRun(seed: number, run: RunName, rows: GenerationRow[], extraKeyId: string | null): Omit<PoisonRunSummary, 'minutes' | 'runDir'> {
  const promotions = rows.flatMap((row) => (row.record?.decision === 'promoted' && row.record.testAccuracy ? [row.record.testAccuracy] : []));
  const drops = promotions.map((t) => t.active - t.candidate);
  const honest = rows.flatMap((row) => (row.record?.keys ?? []).filter((key) => key.keyId !== extraKeyId));
  return {
    seed,
    run,
    accuracyByGeneration: rows.map((row) => row.testAccuracy),
    finalAccuracy: rows.at(-1)!.testAccuracy,
    promoted: promotions.length,
    promotedWorse: drops.filter((drop) => drop > 0).length,
    worstPromotionDrop: Math.max(0, ...drops),
    flaggedIn: rows.filter((row) => row.record?.keys.some((key) => key.keyId === extraKeyId && key.flagged)).map((row) => row.generation),
    extraKeyZ: rows.flatMap((row) => {
      const key = row.record?.keys.find((k) => k.keyId === extraKeyId);
      return key ? [{ generation: row.generation, consensusZ: key.consensusZ ?? null, modelZ: key.z ?? null }] : [];
    }),
    largestHonestZ: Math.max(0, ...honest.flatMap((key) => [Math.abs(key.z ?? 0), Math.abs(key.consensusZ ?? 0)])),
    honestFlagged: honest.filter((key) => key.flagged).length,
  };
}

export interface PairedDifference {
  /** Run minus the clean run of the same seed, final test accuracy, in points; one per seed that has both. */
  perSeed: { seed: number; points: number }[];
  mean: number;
  /** Sample standard deviation over seeds (0 with one seed). */
  sd: number;
}

/** Final accuracy of `run` minus that of the clean run, seed by seed. */
export function pairedDifference(summaries: readonly Pick<PoisonRunSummary, 'seed' | 'run' | 'finalAccuracy'>[], run: RunName): PairedDifference {
  const clean = new Map(summaries.filter((s) => s.run === 'clean').map((s) => [s.seed, s.finalAccuracy]));
  const perSeed = summaries.filter((s) => s.run === run && clean.has(s.seed)).map((s) => ({ seed: s.seed, points: (s.finalAccuracy - clean.get(s.seed)!) * 100 }));
  const mean = perSeed.reduce((sum, d) => sum + d.points, 0) / Math.max(1, perSeed.length);
  const sd = perSeed.length > 1 ? Math.sqrt(perSeed.reduce((sum, d) => sum + (d.points - mean) ** 2, 0) / (perSeed.length - 1)) : 0;
  return { perSeed, mean, sd };
}

const listFlag = (text: string | undefined, fallback: string) => (text ?? fallback).split(',').map((item) => item.trim()).filter(Boolean);

/**
 * A simulated generation-1 log of one key: the model's greedy class is a fixed relabelling of the digit for `purity`
 * of the images (unnamed clusters), else any class; the action is the greedy class 30% of the time, else uniform. An
 * honest key rewards the true digit; `flip` is the share of rewards a key inverts (1: the poisoner).
 */
export function simulatedRewards(random: Random, keyId: string, count: number, flip = 0, purity = 0.8): CellReward[] {
  return Array.from({ length: count }, () => {
    const digit = random.int(10);
    const greedy = random.next() < purity ? (digit * 3 + 7) % 10 : random.int(10);
    const action = random.next() < 0.3 ? greedy : random.int(10);
    const right = action === digit;
    return { keyId, cell: greedy * 10 + action, rewardSaysRight: random.next() < flip ? !right : right };
  });
}

/** `--flags-only`: the consensus flag on simulated keys with a known truth (no server): its power, and how often it flags honest keys. */
function checkFlags(): void {
  // pnpm evolve runs each of its two flags at half of --flag-alpha (0.01).
  const alpha = 0.005;
  for (const [name, flip, count] of [['the experiment\'s poisoner (every reward inverted)', 1, 444], ['a key inverting 1/3 of its rewards', 1 / 3, 500], ['a key inverting 1/10', 0.1, 500]] as const) {
    const random = new Random(1234);
    let found = 0;
    let honestFlagged = 0;
    let smallest = Infinity;
    for (let log = 0; log < 200; log++) {
      const flags = consensusFlags([...Array.from({ length: 8 }, (_, k) => simulatedRewards(random, `h${k}`, 500)).flat(), ...simulatedRewards(random, 'x', count, flip)], alpha);
      const suspect = flags.find((f) => f.keyId === 'x')!;
      if (suspect.flagged) found++;
      smallest = Math.min(smallest, suspect.z);
      if (flags.some((f) => f.flagged && f.keyId !== 'x')) honestFlagged++;
    }
    console.log(`${name}, among 8 honest keys × 500 rewards, cells 80% pure, α ${alpha}: flagged in ${found} of 200 logs (smallest z ${smallest.toFixed(1)}); an honest key flagged in ${honestFlagged}`);
  }
  const random = new Random(99);
  for (const purity of [0.8, 0]) {
    for (const level of [0.05, 0.005]) {
      let withFlag = 0;
      for (let log = 0; log < 1000; log++) if (consensusFlags(Array.from({ length: 9 }, (_, k) => simulatedRewards(random, `h${k}`, 300, 0, purity)).flat(), level).some((f) => f.flagged)) withFlag++;
      console.log(`9 honest keys × 300 rewards, cells ${purity * 100}% pure, α ${level}: a key flagged in ${withFlag} of 1000 logs`);
    }
  }
}

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({
    generations: { type: 'string' }, 'events-per-generation': { type: 'string' }, labels: { type: 'string' }, 'pretrain-epochs': { type: 'string' }, 'pretrain-objective': { type: 'string' },
    epochs: { type: 'string' }, alpha: { type: 'string' }, server: { type: 'string' }, weighting: { type: 'string' }, 'min-steps': { type: 'string' }, seed: { type: 'string' }, exploration: { type: 'string' }, 'self-images': { type: 'string' }, 'self-every': { type: 'string' }, 'neighbour-rounds': { type: 'string' },
    share: { type: 'string' }, json: { type: 'string' }, seeds: { type: 'string' }, runs: { type: 'string' }, 'flags-only': { type: 'boolean' },
  }, argv);
  if (flags['flags-only']) return checkFlags();
  const settings = mainJobSettings(flags);
  const share = numberFlag('share', flags.share, 0.1, 0, 0.5, { exclusiveMin: true });
  const seeds = listFlag(flags.seeds, String(settings.seed)).map((text) => {
    const seed = Number(text);
    if (!Number.isInteger(seed) || seed < 1) throw new UsageError(`--seeds must be whole numbers ≥ 1 separated by commas, got "${flags.seeds}"`);
    return seed;
  });
  const runs = listFlag(flags.runs, 'clean,on,off');
  if (!runs.every((run): run is RunName => (RUN_NAMES as readonly string[]).includes(run))) throw new UsageError(`--runs must be some of ${RUN_NAMES.join(',')}, got "${flags.runs}"`);
  const out = flags.json ?? join(ROOT_DIR, 'report', 'poison.json');
  const extraClient = { share, reward: poisonReward };
  const summaries: PoisonRunSummary[] = [];
  for (const seed of seeds) {
    // The clean and defended runs share a secret held-out salt; the undefended one uses the public hash.
    const pairing = `experiment:poison seed ${seed}`;
    const salt = `held-out salt of ${pairing}`;
    const options: Record<RunName, MainJobOptions> = {
      clean: { defences: DEFAULT_DEFENCES, heldOutSalt: salt, pairing },
      repeat: { defences: DEFAULT_DEFENCES, heldOutSalt: salt, pairing },
      on: { extraClient, defences: DEFAULT_DEFENCES, heldOutSalt: salt, pairing },
      off: { extraClient, defences: null, heldOutSalt: '', pairing },
    };
    for (const run of runs as RunName[]) {
      console.log(`\n== seed ${seed}: ${RUN_TITLES[run]}`);
      const started = performance.now();
      const { rows, runDir, extraKeyId } = await runMainJob({ ...settings, seed }, options[run]);
      summaries.push({ ...summariseRun(seed, run, rows, extraKeyId), minutes: (performance.now() - started) / 60000, runDir });
      writeFileAtomic(out, `${JSON.stringify({ settings, share, seeds, runs, summaries }, null, 2)}\n`);
    }
  }
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  const points = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(2)}`;
  const cleanOf = new Map(summaries.filter((s) => s.run === 'clean').map((s) => [s.seed, s.finalAccuracy]));
  console.log(`\n${settings.generations} generations × ${settings.eventsPerGeneration} honest interactions, the extra key ${share * 100}% of all traffic on top\n`);
  console.log('| seed | run | test accuracy by generation | final | vs clean, points | promoted | promoted worse than parent | extra key flagged in | honest keys flagged (largest \\|z\\|) | minutes |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const s of summaries) {
    const clean = cleanOf.get(s.seed);
    const delta = s.run === 'clean' || clean === undefined ? '' : points((s.finalAccuracy - clean) * 100);
    const worse = `${s.promotedWorse}${s.promotedWorse ? ` (worst −${(s.worstPromotionDrop * 100).toFixed(2)})` : ''}`;
    const zs = s.extraKeyZ.filter((z) => z.consensusZ !== null).map((z) => z.consensusZ!.toFixed(0)).join(', ');
    const flagged = s.run === 'on' ? `${s.flaggedIn.length ? `generations ${s.flaggedIn.join(', ')} of ${settings.generations}` : 'never'}${zs ? ` (consensus z ${zs})` : ''}` : '';
    console.log(`| ${s.seed} | ${RUN_TITLES[s.run]} | ${s.accuracyByGeneration.map(pct).join(' → ')} | ${pct(s.finalAccuracy)} | ${delta} | ${s.promoted} | ${worse} | ${flagged} | ` +
      `${s.honestFlagged} (${s.largestHonestZ.toFixed(1)}) | ${s.minutes.toFixed(1)} |`);
  }
  console.log('');
  for (const run of ['repeat', 'on', 'off'] as const) {
    const difference = pairedDifference(summaries, run);
    if (difference.perSeed.length) console.log(`${RUN_TITLES[run]} − clean: mean ${points(difference.mean)} points (sd ${difference.sd.toFixed(2)} over ${difference.perSeed.length} seeds: ${difference.perSeed.map((d) => points(d.points)).join(', ')})`);
  }
  console.log(`\nJSON: ${out}`);
}
