// The Workers entry: D1 holds the event log and registry rows, R2 the weights, the Rate Limiting binding counts requests per key.
import type { D1Database, R2Bucket } from '@cloudflare/workers-types';
import simdEngine from '@seed/runtime/engine/simd_engine.wasm';
import { createApp } from './app';
import { bindingRateLimiter, MemoryRateLimiter, type RateLimitBinding } from './auth';
import type { Env } from './env';
import { d1Storage } from './storage/d1';

/** The bindings wrangler.toml declares. */
export interface WorkerEnv extends Env {
  DB: D1Database;
  WEIGHTS: R2Bucket;
  /** Counts each key's requests across isolates; its limit is `simple.limit` in wrangler.toml. */
  RATE_LIMITER?: RateLimitBinding;
}

const isolateLimiter = new MemoryRateLimiter();

export const app = createApp<WorkerEnv>({
  storage: (env) => d1Storage(env.DB, env.WEIGHTS),
  simdEngine,
  // Without the binding (a deployment that left it out), one isolate's memory still bounds a burst.
  rateLimiter: (env) => (env.RATE_LIMITER ? bindingRateLimiter(env.RATE_LIMITER) : isolateLimiter),
});

export default app;
