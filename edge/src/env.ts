// Bindings and settings: wrangler vars and secrets on Workers, the process environment on Node.
import { ApiError } from './errors';
import { parseExploration, type Exploration } from './exploration';

/** What every entry passes to the app as bindings; the Workers entry adds D1, R2 and the rate limiter (see worker.ts). */
export interface Env {
  /** `epsilon:0.1` (default), `softmax:1.0` or `greedy`. */
  EXPLORATION?: string;
  /** Seconds an event waits for a client reward before the default one counts (default 60). */
  REWARD_WAIT_SECONDS?: string;
  /** Reward of an event nobody rewarded within the wait (default 0). */
  DEFAULT_REWARD?: string;
  /** Comma-separated client keys: predict and reward need one. */
  API_KEYS?: string;
  /** Comma-separated reader keys: the registry listing, the weights download and /metrics need one (or the admin token). */
  READ_KEYS?: string;
  /** The admin bearer token: admin routes are off when it is unset. */
  ADMIN_TOKEN?: string;
  /** `true`: predict and reward take requests without a key (logged as a warning). */
  ALLOW_ANONYMOUS?: string;
  /** Requests per minute per key on the keyed routes; unset or 0: no limit. */
  RATE_LIMIT_PER_MINUTE?: string;
  /** Events and rewards older than this many days are pruned once the evolution has read them; unset or 0: kept. */
  RETENTION_DAYS?: string;
  /** Experiments only: a secret that makes each exploration draw a keyed hash of the event (see seeded_draw.ts); unset: Math.random. */
  EXPLORATION_SEED?: string;
}

export interface Settings {
  exploration: Exploration;
  rewardWaitMs: number;
  defaultReward: number;
  apiKeys: string[];
  readKeys: string[];
  adminToken: string | null;
  allowAnonymous: boolean;
  /** 0: no limit. */
  rateLimitPerMinute: number;
  /** 0: events are kept. */
  retentionMs: number;
  /** null: exploration draws from Math.random. */
  explorationSeed: string | null;
}

export const ANONYMOUS_WARNING = 'warning: ALLOW_ANONYMOUS=true: predict and reward take requests without a key, and anyone can steer the model through rewards';

export const EXPLORATION_SEED_WARNING =
  'warning: EXPLORATION_SEED is set: exploration draws are a keyed hash of each event id, for reproducible experiments; a client that learns the seed can choose its draws, so leave it unset in production';

const parsed = new WeakMap<Env, Settings>();

/** Settings for a bindings object, parsed once (the anonymous and exploration-seed warnings are logged then); a bad value is a 500 that names the setting. */
export function settingsFrom(env: Env): Settings {
  let settings = parsed.get(env);
  if (!settings) {
    settings = parseSettings(env);
    if (settings.allowAnonymous) console.warn(ANONYMOUS_WARNING);
    if (settings.explorationSeed) console.warn(EXPLORATION_SEED_WARNING);
    parsed.set(env, settings);
  }
  return settings;
}

const keyList = (text: string | undefined) => (text ?? '').split(',').map((key) => key.trim()).filter(Boolean);

function parseSettings(env: Env): Settings {
  const misconfigured = (message: string): never => {
    throw new ApiError(500, 'misconfigured', message);
  };
  const number = (name: 'REWARD_WAIT_SECONDS' | 'DEFAULT_REWARD' | 'RATE_LIMIT_PER_MINUTE' | 'RETENTION_DAYS', fallback: number, valid: (value: number) => boolean, rule: string): number => {
    const text = env[name]?.trim();
    if (!text) return fallback;
    const value = Number(text);
    return valid(value) ? value : misconfigured(`${name} must be ${rule}, not ${JSON.stringify(text)}`);
  };
  let exploration: Exploration;
  try {
    exploration = parseExploration(env.EXPLORATION?.trim() || 'epsilon:0.1');
  } catch (error) {
    return misconfigured((error as Error).message);
  }
  const anonymous = env.ALLOW_ANONYMOUS?.trim().toLowerCase() || 'false';
  if (anonymous !== 'true' && anonymous !== 'false') misconfigured(`ALLOW_ANONYMOUS must be true or false, not ${JSON.stringify(env.ALLOW_ANONYMOUS)}`);
  return {
    exploration,
    rewardWaitMs: 1000 * number('REWARD_WAIT_SECONDS', 60, (v) => Number.isFinite(v) && v >= 0, 'a number of seconds ≥ 0'),
    defaultReward: number('DEFAULT_REWARD', 0, (v) => v >= -1 && v <= 1, 'a number in [-1, 1]'),
    apiKeys: keyList(env.API_KEYS),
    readKeys: keyList(env.READ_KEYS),
    adminToken: env.ADMIN_TOKEN?.trim() || null,
    allowAnonymous: anonymous === 'true',
    rateLimitPerMinute: number('RATE_LIMIT_PER_MINUTE', 0, (v) => Number.isInteger(v) && v >= 0, 'a whole number of requests ≥ 0'),
    retentionMs: 86_400_000 * number('RETENTION_DAYS', 0, (v) => Number.isFinite(v) && v >= 0, 'a number of days ≥ 0'),
    explorationSeed: env.EXPLORATION_SEED?.trim() || null,
  };
}
