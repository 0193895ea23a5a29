// The Workers entry: D1 holds the event log and registry rows, R2 the weights.
import type { D1Database, R2Bucket } from '@cloudflare/workers-types';
import simdEngine from '@seed/runtime/engine/simd_engine.wasm';
import { createApp } from './app';
import type { Env } from './env';
import { d1Storage } from './storage/d1';

/** The bindings wrangler.toml declares. */
export interface WorkerEnv extends Env {
  DB: D1Database;
  WEIGHTS: R2Bucket;
}

export const app = createApp<WorkerEnv>({ storage: (env) => d1Storage(env.DB, env.WEIGHTS), simdEngine });

export default app;
