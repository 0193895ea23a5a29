// How a model learns from logged rewards, one recipe for pnpm start, pnpm evolve and pnpm experiment:rewards: the
// figures behind each value are in docs/evolution.md ("Figures").
import { parseExploration } from '@seed/edge';
import { UsageError } from '../lib/cli';

export const REWARD_RECIPE = {
  /**
   * What the clients' edge explores with, by interactions logged so far (see explorationSchedule). First the model's
   * own softmax with a floor of γ 0.1: the cluster-initialised head starts soft, so every digit is tried for each
   * cluster until the rewards have named them. From 4,000 interactions (the main job's second generation) softmax at
   * temperature 0.2 with a floor of γ 0.01: the served policy is near greedy where the model is sure, so the clients
   * get better answers (online reward 0.93–0.96 from generation 3 on, against 0.81–0.85 at softmax 1). Temperature
   * 0.25 from the start left one seed of three with a digit never named (87.65% after 4,000 interactions), hence the
   * schedule: docs/evolution.md, "Fourth round". From 12,000 (generation 4, the model near 97%) temperature 0.1: the
   * draws away from the greedy action cost the clients 1.52 points of reward a generation on average (three runs)
   * against 1.92 at 0.2 (docs/evolution.md, "Ninth round").
   */
  exploration: 'softmax:1.0,softmax:0.2:0.01@4000,softmax:0.1:0.01@12000',
  /** Weight of the self-supervised term beside the policy gradient. */
  alpha: 0.2,
  lr: 0.002,
  /**
   * The trunk learns at this fraction of lr. At 0.1 the rewards could only name what pretraining found, and the policy
   * stopped at the linear probe's accuracy; at 1 the rewards also sharpen the features (90.65% → 94.30% after 3,200
   * interactions from the cluster head, docs/evolution.md).
   */
  trunkLrScale: 1,
  epochs: 3,
  /**
   * Steps of an offline round (pnpm experiment:rewards), and of a generation's candidate (pnpm start, pnpm evolve).
   * Offline rounds of 300 steps left the model undertrained: 600 and 1,200 steps gave 94.68% and 95.05% after 1,000
   * interactions against 93.10%, 96.35% and 96.77% after 2,000 against 95.57% (3 seeds; docs/evolution.md, "Fifth
   * round"), at about twice and four times the time. The main job stays at 750: its generations already train 67–91 s
   * each, and more would take the fresh run past 15 minutes. 1,500 steps with the self-supervised term on 8 images
   * (--min-steps 1500 --self-images 8) gained +0.15 to +0.28 points a candidate, but the fresh main job took 17.0 min
   * (docs/evolution.md, "Tenth round"). The self-supervised term reads the trainer's default share of each batch
   * (half for contrastive): 8 images trained faster (70 against 97 s) but lost about 0.7 points on the first candidate.
   * Eleventh round: the term on one step in four at four times α (generationSelfEvery) makes 1,500 steps cost about
   * what 750 did (a step without it 18–24 ms on GLES, 33–37 on Vulkan; with it on 32 images 45–49 and 63–64), so the
   * main job now trains 1,500 (docs/evolution.md, "Eleventh round").
   */
  minSteps: 1200,
  generationMinSteps: 1500,
  /**
   * Steps of a candidate whose starting model has learned from no rewards yet, as a multiple of generationMinSteps (or
   * of --min-steps; 3,000 by default; candidateMinSteps): the main job's first, from the cluster-initialised head at
   * about 20%, the farthest from the digits' names. Retrained from two
   * runs' own first 4,000 interactions (about 3,150 training events), seeds 2 and 3: 3,000 steps gave 95.45, 95.80,
   * 95.95 and 95.70% against 94.80, 95.60, 95.30 and 95.05% at 1,500 (+0.54 points on average), for about 40 s more
   * (docs/evolution.md, "Thirteenth round"). Later candidates start from one that has, and there 3,000 steps gained
   * 0–0.15 points (a generation-5 candidate, twelfth round).
   */
  firstGenerationStepsFactor: 2,
  /** A generation's candidate runs the self-supervised term on one step in this many, at this many times α (TrainPlan.selfEvery). */
  generationSelfEvery: 4,
  /**
   * A candidate still pending after a generation is superseded by one trained on the events since (nextCandidate in
   * runtime/src/train/gate.ts). Without it the main job trained nothing while a candidate waited: in two runs of
   * 2026-12-03 candidates 0.6 and 1.25 points better waited 3 and 2 generations, and the first run's generation 6
   * served a model trained on 12,000 of its 24,000 events. Five runs each way: generation 6 97.64% against 97.27% on
   * average, last online reward 0.958–0.973 against 0.953–0.957 (docs/evolution.md, "Twelfth round").
   */
  supersede: true,
  /** Inverse-propensity weights clipped at 20. */
  clip: 20,
  /** λ of the complementary term: a given reward of 0 says "not this digit". */
  complementary: 1,
} as const;

/** One step of an exploration schedule: the edge's EXPLORATION setting from `from` interactions logged on. */
export interface ExplorationStep {
  from: number;
  exploration: string;
}

/**
 * Parses a schedule: settings separated by commas, each after the first with `@N`, the interactions logged before it
 * takes over (increasing), e.g. `softmax:1.0,softmax:0.25:0.02@4000`. One setting alone holds throughout. Each setting
 * is checked as the edge checks EXPLORATION.
 */
export function explorationSchedule(text: string): ExplorationStep[] {
  const steps = text.split(',').map((part, i): ExplorationStep => {
    const [exploration, from, ...rest] = part.trim().split('@');
    if (rest.length > 0 || (i === 0) !== (from === undefined) || (from !== undefined && !/^\d+$/.test(from))) {
      throw new UsageError(`--exploration: "${part.trim()}" must be a setting${i === 0 ? ' without @N (the first holds from the start)' : ' followed by @N, the interactions before it takes over'}`);
    }
    try {
      parseExploration(exploration);
    } catch (error) {
      throw new UsageError(`--exploration: ${(error as Error).message}`);
    }
    return { from: from === undefined ? 0 : Number(from), exploration };
  });
  if (steps.some((step, i) => i > 0 && step.from <= steps[i - 1].from)) throw new UsageError(`--exploration: the @N of "${text}" must increase`);
  return steps;
}

/** The setting a schedule gives once `interactions` have been logged. */
export function explorationAt(schedule: readonly ExplorationStep[], interactions: number): string {
  return schedule.reduce((current, step) => (interactions >= step.from ? step : current), schedule[0]).exploration;
}

/**
 * The steps a candidate trains for at least: `first` when the model it starts from has learned from no events (its
 * metrics record no `eventsTrain`, as a pretrained or supervised model's do not), else `steps`.
 */
export function candidateMinSteps(startMetrics: Readonly<Record<string, unknown>>, steps: number, first: number): number {
  const events = startMetrics.eventsTrain;
  return typeof events === 'number' && events > 0 ? steps : first;
}
