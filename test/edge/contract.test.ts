// The contract on the Node entry: 100 real responses of every route, errors included, each checked against the
// OpenAPI document the entry serves (test/edge/workers/contract.test.ts runs the same on the Workers entry).
import { startNodeServer, type NodeServer } from '@seed/edge/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentedRoutes, responseProblems, runContract, type OpenApiDocument } from './contract';
import { json, KEY_SETTINGS, KEYS } from './fixtures';
import { temporaryDir } from './support';

const RESPONSES_PER_ROUTE = 100;

let dataDir: Awaited<ReturnType<typeof temporaryDir>>;
let server: NodeServer;
let document: OpenApiDocument;

beforeAll(async () => {
  dataDir = await temporaryDir('contract');
  server = await startNodeServer({ port: 0, dataDir: dataDir.path, env: KEY_SETTINGS });
  const answer = await fetch(`${server.url}/openapi.json`);
  expect(answer.status).toBe(200);
  document = await json(answer);
});
afterAll(async () => {
  await server?.close();
  await dataDir?.remove();
});

describe('the checks themselves', () => {
  const body = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  it('pass a response as declared', () => {
    expect(responseProblems(document, 'GET', '/health/live', { status: 200, contentType: 'application/json', body: body({ status: 'ok' }) })).toEqual([]);
  });
  it('refuse an undeclared status, an undeclared media type, a body off its schema, and a body where none is declared', () => {
    expect(responseProblems(document, 'GET', '/health/live', { status: 418, contentType: 'application/json', body: body({ status: 'ok' }) })).toEqual(['status 418 is not declared for GET /health/live']);
    expect(responseProblems(document, 'GET', '/health/live', { status: 200, contentType: 'text/html', body: body({ status: 'ok' }) })[0]).toMatch(/^text\/html is not declared/);
    expect(responseProblems(document, 'POST', '/v1/predict', { status: 400, contentType: 'application/json', body: body({ error: { code: 'x' } }) })).toHaveLength(1);
    expect(responseProblems(document, 'POST', '/v1/events/e1/reward', { status: 204, contentType: '', body: body({}) })).toHaveLength(1);
    expect(responseProblems(document, 'GET', '/v1/nothing', { status: 200, contentType: 'application/json', body: body({}) })).toEqual(['GET /v1/nothing is not in the document']);
  });
});

it(`answers ${RESPONSES_PER_ROUTE} requests of every route as the document says, errors included`, async () => {
  expect(document.openapi).toBe('3.1.0');
  const run = await runContract((path, init) => fetch(`${server.url}${path}`, init), { adminToken: KEYS.admin, apiKey: KEYS.client, readKey: KEYS.reader }, RESPONSES_PER_ROUTE);
  console.log(`contract on the Node entry: ${JSON.stringify(run.statuses)}`);
  expect(run.problems).toEqual([]);
  expect(Object.keys(run.statuses).sort()).toEqual(documentedRoutes(document).sort());
  for (const [route, counts] of Object.entries(run.statuses)) expect(Object.values(counts).reduce((a, b) => a + b), route).toBe(RESPONSES_PER_ROUTE);
  const seen = new Set(Object.values(run.statuses).flatMap((counts) => Object.keys(counts).map(Number)));
  expect([...seen].sort()).toEqual([200, 201, 204, 400, 401, 403, 404, 409, 413, 415, 503]);
});
