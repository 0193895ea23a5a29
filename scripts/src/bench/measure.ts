// How the bench measures and what it records: medians of repeated rounds, one row per (what, who, backend).
/** The edge's engine in the inference rows. */
export const WASM_ENGINE = 'seed WASM SIMD engine';
/** Not named "seed …": its rows get the SIMD engine's ratio to it, like a reference's. */
export const TS_ENGINE = 'TypeScript engine (reference)';
/** The API rows' backend: the server and its connections, e.g. `node ×32` (a ratio's baseline is the same backend's). */
export const apiBackend = (server: string, connections: number) => `${server} ×${connections}`;

export type Part = 'kernels' | 'train' | 'infer' | 'api';
export const PARTS: readonly Part[] = ['kernels', 'train', 'infer', 'api'];

export interface Figure {
  value: number;
  unit: string;
}

export interface Row {
  part: Part;
  /** What is measured, e.g. 'training step, batch 64' or 'conv forward'. */
  what: string;
  /** Whose implementation: 'seed', 'tfjs-webgpu', 'tfjs-wasm', 'tfjs-cpu', 'onnxruntime-node', ... */
  who: string;
  /** Where it ran: 'vulkan' | 'gles' (Dawn), 'wasm', 'cpu', 'node', 'wrangler'. */
  backend: string;
  /** Figures in display order; the first is the one ratios and charts use. */
  figures: Record<string, Figure>;
  /** Timed rounds (or requests) behind the medians. */
  samples?: number;
  /** Shape, method, or why a figure is what it is. */
  note?: string;
  /** Set when the implementation did not run here (no adapter, an error, or skipped by --quick): why, and no figures. */
  unavailable?: string;
  /**
   * For a reference measured in turns with this project's implementation on a backend: how many times faster seed was
   * there, the median over turns (see interleave). Keyed by seed's backend.
   */
  seedFaster?: Record<string, number>;
}

export interface Settings {
  quick: boolean;
  log: (line: string) => void;
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

/** The q-quantile (nearest rank) of unsorted values. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** One timed round: milliseconds per call. */
export type Round = () => Promise<number>;

/**
 * A round of `run` called `reps` times back to back, then `settle` waiting for the work to finish (a GPU queue, a
 * read-back): milliseconds per call. Prepared with one untimed call (the warm-up; skipped if the caller warmed up:
 * `warm`), from which `reps` defaults to enough calls for a round of about `roundMs`.
 */
export async function prepareRound(
  run: () => unknown,
  settle: () => Promise<unknown>,
  options: { reps?: number; roundMs?: number; warm?: boolean } = {},
): Promise<{ round: Round; reps: number }> {
  let once = 0;
  if (!options.warm) {
    const warm = performance.now();
    await run();
    await settle();
    once = performance.now() - warm;
  }
  const reps = options.reps ?? Math.max(1, Math.min(500, Math.round((options.roundMs ?? 200) / Math.max(once, 1e-3))));
  const round = async () => {
    const start = performance.now();
    for (let i = 0; i < reps; i++) await run();
    await settle();
    return (performance.now() - start) / reps;
  };
  return { round, reps };
}

/** `rounds` rounds after a warm-up (see prepareRound); the median is the figure. */
export async function timeRounds(
  run: () => unknown,
  settle: () => Promise<unknown>,
  options: { rounds: number; reps?: number; roundMs?: number; warm?: boolean },
): Promise<{ ms: number; rounds: number[]; reps: number }> {
  const { round, reps } = await prepareRound(run, settle, options);
  const rounds: number[] = [];
  for (let r = 0; r < options.rounds; r++) rounds.push(await round());
  return { ms: median(rounds), rounds, reps };
}

/**
 * Rounds of several contenders taken in turn (A B C, A B C, ...): each sees the same drift in the machine's load, so
 * the ratio of two contenders' rounds of the same turn is steadier than the ratio of medians taken minutes apart.
 */
export async function interleave(rounds: Round[], turns: number): Promise<number[][]> {
  const times = rounds.map(() => [] as number[]);
  for (let t = 0; t < turns; t++) for (const [i, round] of rounds.entries()) times[i].push(await round());
  return times;
}

/** The median over turns of a[t] / b[t]. */
export const pairedRatio = (a: readonly number[], b: readonly number[]): number => median(a.map((v, t) => v / b[t]));

/** Latency of each of `runs` calls of `run` (awaited), after `warmup` untimed calls: median and p99, ms. */
export async function latencies(run: () => unknown, runs: number, warmup: number): Promise<{ median: number; p99: number; times: number[] }> {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return { median: median(times), p99: quantile(times, 0.99), times };
}

/** A row for an implementation that could not run: the reason, one line. */
export function unavailable(part: Part, what: string, who: string, backend: string, error: unknown): Row {
  const reason = error instanceof Error ? error.message : String(error);
  return { part, what, who, backend, figures: {}, unavailable: `not available: ${reason.split('\n')[0].slice(0, 160)}` };
}
