// The Workers pool's virtual modules, as these tests use them: the test project compiles with Node's globals, not
// Workers' (@cloudflare/vitest-pool-workers/types would bring those in for every test). The Worker's bindings come from
// the Env that `wrangler types` generated (what WorkerEnv is built on).
/// <reference path="../../../edge/src/worker-configuration.d.ts" />
/// <reference path="../../../edge/src/workers_globals.d.ts" />
declare module 'cloudflare:workers' {
  import type { WorkerEnv } from '@seed/edge';
  export const env: WorkerEnv & { TEST_MIGRATIONS: import('cloudflare:test').D1Migration[] };
  export const exports: { default: { fetch(input: string | Request, init?: RequestInit): Promise<Response> } };
}

declare module 'cloudflare:test' {
  import type { D1Database } from '@cloudflare/workers-types';
  export interface D1Migration {
    name: string;
    queries: string[];
  }
  export function applyD1Migrations(db: D1Database, migrations: D1Migration[]): Promise<void>;
  export interface TestExecutionContext {
    waitUntil(promise: Promise<unknown>): void;
  }
  export function createExecutionContext(): TestExecutionContext;
  export function waitOnExecutionContext(context: TestExecutionContext): Promise<void>;
  export function createScheduledController(options?: { scheduledTime?: number; cron?: string }): unknown;
}
