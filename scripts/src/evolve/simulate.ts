// pnpm simulate: simulated clients. Each sends an MNIST image to /v1/predict and rewards the answer: 1 if the action is
// the true digit, else 0 (a fraction of rewards can be dropped, to exercise the default reward). Interactions are
// spread evenly over the clients given, one per key.
import { IMAGE_PIXELS, loadMnist, Random } from '@seed/runtime';
import { ApiClient } from '@seed/client';
import { intFlag, numberFlag, parseFlags, UsageError } from '../lib/cli';
import { ProgressBar } from '../lib/progress';

/** The reward a client sends for an action on a digit of this label. */
export type RewardRule = (action: number, label: number) => number;

/** An honest client: 1 for the true digit, else 0. */
export const honestReward: RewardRule = (action, label) => (action === label ? 1 : 0);

export interface SimulationOptions {
  events: number;
  /** Honest by default. */
  reward?: RewardRule;
  seed: number;
  split: 'train' | 'test';
  concurrency: number;
  dropRate: number;
  /** Event ids `${prefix}-${i}` for the i-th interaction (unique per key): with EXPLORATION_SEED, the same draws in every run. Unset: random ids. */
  eventIdPrefix?: string;
  onProgress?: (done: number) => void;
}

export interface SimulationResult {
  events: number;
  rewardsSent: number;
  meanReward: number;
  byVersion: Record<string, { events: number; meanReward: number }>;
  seconds: number;
}

/** Runs `events` predict-then-reward interactions with `concurrency` at a time, spread over the clients (keys) given. */
export async function simulateClients(clients: ApiClient | ApiClient[], options: SimulationOptions): Promise<SimulationResult> {
  const keys = Array.isArray(clients) ? clients : [clients];
  const rewardOf = options.reward ?? honestReward;
  const digits = loadMnist()[options.split];
  const random = new Random(options.seed);
  const picks = Array.from({ length: options.events }, () => ({ index: random.int(digits.count), drop: random.next() < options.dropRate }));
  const byVersion: Record<string, { events: number; total: number }> = {};
  let next = 0;
  let done = 0;
  let rewardsSent = 0;
  let total = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < picks.length) {
      const pick = next++;
      const { index, drop } = picks[pick];
      const client = keys[pick % keys.length];
      const pixels = digits.images.subarray(index * IMAGE_PIXELS, (index + 1) * IMAGE_PIXELS);
      const eventId = options.eventIdPrefix === undefined ? undefined : `${options.eventIdPrefix}-${pick}`;
      const prediction = await client.predict(pixels, { explore: true, ...(eventId && { eventId }) });
      const reward = rewardOf(prediction.action, digits.labels[index]);
      if (!drop) {
        await client.reward(prediction.eventId, reward);
        rewardsSent++;
      }
      const entry = (byVersion[prediction.modelVersion] ??= { events: 0, total: 0 });
      entry.events++;
      entry.total += reward;
      total += reward;
      // Counted apart from the call: `?.` skips evaluating its arguments when there is no callback.
      done++;
      options.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  return {
    events: done,
    rewardsSent,
    meanReward: total / Math.max(1, done),
    byVersion: Object.fromEntries(Object.entries(byVersion).map(([v, e]) => [v, { events: e.events, meanReward: e.total / e.events }])),
    seconds: (performance.now() - started) / 1000,
  };
}

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({
    api: { type: 'string' }, events: { type: 'string' }, seed: { type: 'string' }, split: { type: 'string' },
    concurrency: { type: 'string' }, 'api-key': { type: 'string' }, 'drop-rate': { type: 'string' },
  }, argv);
  if (!flags.api) throw new UsageError('--api URL is required (e.g. http://127.0.0.1:8787)');
  const split = flags.split ?? 'train';
  if (split !== 'train' && split !== 'test') throw new UsageError(`--split must be train or test, got "${split}"`);
  const events = intFlag('events', flags.events, 1000, 1);
  const client = new ApiClient(flags.api, { apiKey: flags['api-key'] ?? process.env.SEED_API_KEY });
  const bar = new ProgressBar();
  const result = await simulateClients(client, {
    events, split, seed: intFlag('seed', flags.seed, 1), concurrency: intFlag('concurrency', flags.concurrency, 8, 1, 256),
    dropRate: numberFlag('drop-rate', flags['drop-rate'], 0, 0, 1),
    onProgress: (done) => bar.update('simulate', done / events, `${done}/${events}`),
  });
  bar.done();
  console.log(`${result.events} interactions in ${result.seconds.toFixed(1)} s (${(result.events / result.seconds).toFixed(0)}/s), ` +
    `${result.rewardsSent} rewards sent, online mean reward ${result.meanReward.toFixed(4)}`);
  for (const [version, e] of Object.entries(result.byVersion)) console.log(`  ${version}: ${e.events} events, mean reward ${e.meanReward.toFixed(4)}`);
}

