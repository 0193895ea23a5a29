// The contract on the Workers entry inside workerd: the same 100 requests of every route as on the Node entry
// (test/edge/contract.test.ts), each response checked against the document this entry serves.
import { applyD1Migrations } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import worker from '@seed/edge/worker';
import { beforeAll, expect, it } from 'vitest';
import { documentedRoutes, runContract, type OpenApiDocument } from '../contract';
import { KEYS } from '../keys';

const RESPONSES_PER_ROUTE = 100;
// The Worker's fetch handler with this isolate's D1 and R2: the pool's `exports.default.fetch` gets slower with every
// call (1,200 calls would take minutes), the handler itself does not.
const call = (path: string, init: RequestInit) => worker.fetch(new Request(`http://edge${path}`, init), env);

beforeAll(async () => {
  await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
});

it(`answers ${RESPONSES_PER_ROUTE} requests of every route as the document says, errors included`, async () => {
  const document = (await (await call('/openapi.json', {})).json()) as OpenApiDocument;
  const run = await runContract(call, { adminToken: KEYS.admin, apiKey: KEYS.client, readKey: KEYS.reader }, RESPONSES_PER_ROUTE);
  console.log(`contract on the Workers entry: ${JSON.stringify(run.statuses)}`);
  expect(run.problems).toEqual([]);
  expect(Object.keys(run.statuses).sort()).toEqual(documentedRoutes(document).sort());
  for (const [route, counts] of Object.entries(run.statuses)) expect(Object.values(counts).reduce((a, b) => a + b), route).toBe(RESPONSES_PER_ROUTE);
});
