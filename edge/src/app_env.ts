// The Hono environment every route sees: bindings plus what the app's first middleware puts in context.
import type { ActiveModelCache } from './active_model';
import type { RateLimiter, Sha256 } from './auth';
import type { Env, Settings } from './env';
import type { RequestMetrics } from './metrics';
import type { Storage } from './storage/types';

export interface AppVariables {
  settings: Settings;
  storage: Storage;
  activeModel: ActiveModelCache;
  requestMetrics: RequestMetrics;
  rateLimiter: RateLimiter;
  /** ms since the epoch; a test can move it */
  now: () => number;
  /** uniform in [0, 1): the exploration draw; a test can seed it */
  random: () => number;
  /** SHA-256, for comparing keys and deriving key ids */
  sha256: Sha256;
  /** Who sent the request (set by requireRole): an id derived from the key, or `anonymous`. */
  keyId: string;
}

export type AppEnv = { Bindings: Env; Variables: AppVariables };
