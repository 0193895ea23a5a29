// Bindings and settings: wrangler vars and secrets on Workers, the process environment on Node.
import { ApiError } from './errors';
import { parseExploration, type Exploration } from './exploration';

/** What every entry passes to the app as bindings; the Workers entry adds D1 and R2 (see worker.ts). */
export interface Env {
  /** `epsilon:0.1` (default), `softmax:1.0` or `greedy`. */
  EXPLORATION?: string;
  /** Seconds an event waits for a client reward before the default one counts (default 60). */
  REWARD_WAIT_SECONDS?: string;
  /** Reward of an event nobody rewarded within the wait (default 0). */
  DEFAULT_REWARD?: string;
  /** Comma-separated client keys: predict and reward need one when set. */
  API_KEYS?: string;
  /** The admin bearer token: admin routes are off when it is unset. */
  ADMIN_TOKEN?: string;
}

export interface Settings {
  exploration: Exploration;
  rewardWaitMs: number;
  defaultReward: number;
  apiKeys: string[];
  adminToken: string | null;
}

const parsed = new WeakMap<Env, Settings>();

/** Settings for a bindings object, parsed once; a bad value is a 500 that names the setting. */
export function settingsFrom(env: Env): Settings {
  let settings = parsed.get(env);
  if (!settings) {
    settings = parseSettings(env);
    parsed.set(env, settings);
  }
  return settings;
}

function parseSettings(env: Env): Settings {
  const misconfigured = (message: string): never => {
    throw new ApiError(500, 'misconfigured', message);
  };
  const number = (name: 'REWARD_WAIT_SECONDS' | 'DEFAULT_REWARD', fallback: number, valid: (value: number) => boolean, rule: string): number => {
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
  return {
    exploration,
    rewardWaitMs: 1000 * number('REWARD_WAIT_SECONDS', 60, (v) => Number.isFinite(v) && v >= 0, 'a number of seconds ≥ 0'),
    defaultReward: number('DEFAULT_REWARD', 0, (v) => v >= -1 && v <= 1, 'a number in [-1, 1]'),
    apiKeys: (env.API_KEYS ?? '').split(',').map((key) => key.trim()).filter(Boolean),
    adminToken: env.ADMIN_TOKEN?.trim() || null,
  };
}
