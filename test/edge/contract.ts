// The API contract: real responses checked against GET /openapi.json. Free of Node built-ins, so the Workers tests (in
// workerd) run the same requests and checks as the Node entry's.
import { Validator, type Schema } from '@cfworker/json-schema';
import { gridImage } from '@seed/runtime/engine';
import { LINEAR_ARCHITECTURE, modelFile } from './fixtures';

/** The parts of an OpenAPI 3.1 document the checks read. */
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>>;
  components: { schemas: Record<string, Schema> };
}

export interface ObservedResponse {
  status: number;
  contentType: string;
  body: Uint8Array;
}

/** The document's operation for a concrete path, by its template (`/v1/models/{version}` matches `/v1/models/v1`). */
export function operationFor(document: OpenApiDocument, method: string, path: string) {
  for (const [template, operations] of Object.entries(document.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    const operation = operations[method.toLowerCase()];
    if (pattern.test(path) && operation) return { template, operation };
  }
  return null;
}

/** Every operation the document declares, as `METHOD /path/{param}`: the routes a contract run must cover. */
export const documentedRoutes = (document: OpenApiDocument) =>
  Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));

const validators = new Map<Schema, Validator>();

/** What is wrong with a response by the document: an undeclared status or media type, or a body off its schema. */
export function responseProblems(document: OpenApiDocument, method: string, path: string, response: ObservedResponse): string[] {
  const found = operationFor(document, method, path);
  if (!found) return [`${method} ${path} is not in the document`];
  const declared = found.operation.responses[String(response.status)];
  if (!declared) return [`status ${response.status} is not declared for ${method} ${found.template}`];
  if (!declared.content) return response.body.length === 0 ? [] : [`status ${response.status} declares no body, but ${response.body.length} bytes came`];
  const mediaType = response.contentType.split(';')[0].trim().toLowerCase();
  const content = declared.content[mediaType];
  if (!content) return [`${mediaType || 'no Content-Type'} is not declared for ${response.status} (${Object.keys(declared.content).join(', ')})`];
  const text = new TextDecoder().decode(response.body);
  let instances: unknown[];
  if (mediaType === 'application/octet-stream') return response.body.length > 0 ? [] : ['an empty file'];
  else if (mediaType === 'text/plain') instances = [text];
  else if (mediaType === 'application/x-ndjson') instances = text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
  else instances = [JSON.parse(text)];
  let validator = validators.get(content.schema);
  if (!validator) validators.set(content.schema, (validator = new Validator({ ...content.schema, components: document.components } as Schema, '2020-12', false)));
  return instances.flatMap((instance) => {
    const { valid, errors } = validator.validate(instance);
    return valid ? [] : [`${text.slice(0, 200)}: ${errors.map((e) => `${e.instanceLocation} ${e.error}`).join('; ')}`];
  });
}

export interface ContractRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export type Call = (path: string, init: RequestInit) => Response | Promise<Response>;

/** One key of each role the entry knows (API_KEYS, READ_KEYS, ADMIN_TOKEN): every route is asked with and without. */
export interface ContractKeys {
  adminToken: string;
  apiKey: string;
  readKey: string;
}

const jsonRequest = (method: string, path: string, body: unknown, headers: Record<string, string> = {}): ContractRequest => ({
  method,
  path,
  headers: { 'Content-Type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

/**
 * The requests for each route, `count` of each, good and bad in turn. Routes are taken round-robin so the state moves
 * under every route: at first no model is stored (404s, 503s), then uploads, promotions and rollbacks change it.
 */
export async function* contractRequests(keys: ContractKeys, count: number): AsyncGenerator<{ route: string; request: ContractRequest }, void, ObservedResponse> {
  const admin = { Authorization: `Bearer ${keys.adminToken}` };
  const client = { Authorization: `Bearer ${keys.apiKey}` };
  const reader = { Authorization: `Bearer ${keys.readKey}` };
  // Small files of a linear model keep a hundred uploads cheap.
  const file = (version: string, seed: number, parent?: string) => modelFile(version, seed, parent, LINEAR_ARCHITECTURE);
  const files = { v1: await file('v1', 1), v2: await file('v2', 2, 'v1'), otherV1: await file('v1', 3) };
  const eventIds: string[] = [];
  const pixels = (i: number) => gridImage(i);
  const routes: Record<string, (i: number) => ContractRequest> = {
    'GET /health': () => ({ method: 'GET', path: '/health' }),
    'GET /health/live': () => ({ method: 'GET', path: '/health/live' }),
    'GET /metrics': (i) => [() => ({ method: 'GET', path: '/metrics', headers: reader }), () => ({ method: 'GET', path: '/metrics', headers: client })][i % 2](),
    'POST /v1/predict': (i) =>
      [
        () => jsonRequest('POST', '/v1/predict', { pixels: pixels(i), eventId: `contract-${i}` }, client),
        () => jsonRequest('POST', '/v1/predict', { instances: [{ pixels: pixels(i) }, { pixels: pixels(i + 1) }], explore: false }, client),
        () => jsonRequest('POST', '/v1/predict', { pixels: pixels(i).slice(1) }, client),
        () => jsonRequest('POST', '/v1/predict', { pixels: pixels(i).map(() => 2) }, client),
        () => jsonRequest('POST', '/v1/predict', '{"pixels": [0.5,', client),
        () => ({ ...jsonRequest('POST', '/v1/predict', { pixels: pixels(i) }, client), headers: { ...client, 'Content-Type': 'text/plain' } }),
        () => jsonRequest('POST', '/v1/predict', { pixels: pixels(i), instances: [] }, client),
        () => jsonRequest('POST', '/v1/predict', { pixels: pixels(i) }, { Authorization: 'Bearer not-a-key' }),
        () => jsonRequest('POST', '/v1/predict', { pixels: pixels(i), padding: 'x'.repeat(70_000) }, client),
        () => jsonRequest('POST', '/v1/predict', { pixels: pixels(i) }),
      ][i % 10](),
    'POST /v1/events/{eventId}/reward': (i) => {
      const eventId = eventIds[i % Math.max(1, eventIds.length)] ?? 'not-logged';
      return [
        () => jsonRequest('POST', `/v1/events/${eventId}/reward`, { value: 1 }, client),
        () => jsonRequest('POST', `/v1/events/${eventId}/reward`, { value: -1 }, client),
        () => jsonRequest('POST', '/v1/events/never-logged/reward', { value: 0 }, client),
        () => jsonRequest('POST', '/v1/events/bad%21id/reward', { value: 0 }, client),
        () => jsonRequest('POST', `/v1/events/${eventId}/reward`, { value: 3 }, client),
        () => ({ method: 'POST', path: `/v1/events/${eventId}/reward`, headers: client, body: 'value=1' }),
        () => jsonRequest('POST', `/v1/events/${eventId}/reward`, { value: 1, note: 'x'.repeat(5000) }, client),
        () => jsonRequest('POST', `/v1/events/${eventId}/reward`, { value: 0 }),
      ][i % 8]();
    },
    'GET /v1/events': (i) =>
      [
        () => ({ method: 'GET', path: `/v1/events?limit=${1 + (i % 7)}`, headers: admin }),
        () => ({ method: 'GET', path: '/v1/events', headers: admin }),
        () => ({ method: 'GET', path: '/v1/events?limit=0', headers: admin }),
        () => ({ method: 'GET', path: '/v1/events?after=abc', headers: admin }),
        () => ({ method: 'GET', path: '/v1/events?since=1', headers: admin }),
        () => ({ method: 'GET', path: '/v1/events' }),
        () => ({ method: 'GET', path: '/v1/events', headers: { Authorization: 'Bearer not-a-key' } }),
        () => ({ method: 'GET', path: '/v1/events', headers: client }),
      ][i % 8](),
    'GET /v1/model': () => ({ method: 'GET', path: '/v1/model' }),
    'GET /v1/models': (i) => [() => ({ method: 'GET', path: '/v1/models', headers: reader }), () => ({ method: 'GET', path: '/v1/models' })][i % 2](),
    'GET /v1/models/{version}/weights': (i) =>
      i % 5 === 4 ? { method: 'GET', path: '/v1/models/v1/weights' } : { method: 'GET', path: `/v1/models/${['v1', 'v2', 'v9', 'bad%20name'][i % 5]}/weights`, headers: reader },
    'PUT /v1/models/{version}': (i) =>
      [
        () => ({ method: 'PUT', path: '/v1/models/v1', headers: admin, body: files.v1 }),
        () => ({ method: 'PUT', path: '/v1/models/v2', headers: admin, body: files.v2 }),
        () => ({ method: 'PUT', path: '/v1/models/v1', headers: admin, body: files.otherV1 }),
        () => ({ method: 'PUT', path: '/v1/models/v3', headers: admin, body: files.v2 }),
        () => ({ method: 'PUT', path: '/v1/models/v3', headers: admin, body: new TextEncoder().encode('not a weights file') }),
        () => ({ method: 'PUT', path: '/v1/models/.hidden', headers: admin, body: files.v1 }),
        () => ({ method: 'PUT', path: '/v1/models/v1', body: files.v1 }),
        () => ({ method: 'PUT', path: '/v1/models/v1', headers: { Authorization: 'Bearer not-a-key' }, body: files.v1 }),
        // Over 16 MiB once: the rest of the cases are cheap.
        () => ({ method: 'PUT', path: '/v1/models/v4', headers: admin, body: i < 10 ? new Uint8Array(16 * 1024 * 1024 + 1) : files.v1 }),
      ][i % 9](),
    'POST /v1/models/{version}/promote': (i) =>
      [
        () => ({ method: 'POST', path: '/v1/models/v1/promote', headers: admin }),
        () => ({ method: 'POST', path: '/v1/models/v2/promote', headers: admin }),
        () => ({ method: 'POST', path: '/v1/models/v9/promote', headers: admin }),
        () => ({ method: 'POST', path: '/v1/models/bad%20name/promote', headers: admin }),
        () => ({ method: 'POST', path: '/v1/models/v1/promote' }),
      ][i % 5](),
    'POST /v1/rollback': (i) => [() => ({ method: 'POST', path: '/v1/rollback', headers: admin }), () => ({ method: 'POST', path: '/v1/rollback' })][i % 2](),
    'GET /v1/challenger': (i) =>
      [
        () => ({ method: 'GET', path: '/v1/challenger', headers: admin }),
        () => ({ method: 'GET', path: '/v1/challenger' }),
        () => ({ method: 'GET', path: '/v1/challenger', headers: { Authorization: 'Bearer not-a-key' } }),
        () => ({ method: 'GET', path: '/v1/challenger', headers: client }),
      ][i % 4](),
    'PUT /v1/challenger': (i) =>
      [
        () => jsonRequest('PUT', '/v1/challenger', { version: ['v1', 'v2'][i % 2] }, admin),
        () => jsonRequest('PUT', '/v1/challenger', { version: 'v2', share: 0.25 }, admin),
        () => jsonRequest('PUT', '/v1/challenger', { version: 'v9' }, admin),
        () => jsonRequest('PUT', '/v1/challenger', { version: 'v2', share: 1 }, admin),
        () => jsonRequest('PUT', '/v1/challenger', '{"version":', admin),
        () => ({ ...jsonRequest('PUT', '/v1/challenger', { version: 'v2' }, admin), headers: { ...admin, 'Content-Type': 'text/plain' } }),
        () => jsonRequest('PUT', '/v1/challenger', { version: 'v2', note: 'x'.repeat(5000) }, admin),
        () => jsonRequest('PUT', '/v1/challenger', { version: 'v2' }),
      ][i % 8](),
    'DELETE /v1/challenger': (i) => [() => ({ method: 'DELETE', path: '/v1/challenger', headers: admin }), () => ({ method: 'DELETE', path: '/v1/challenger' })][i % 2](),
  };
  for (let i = 0; i < count; i++) {
    for (const [route, request] of Object.entries(routes)) {
      const response = yield { route, request: request(i) };
      // Events the predictions logged become the rewards' targets.
      if (route === 'POST /v1/predict' && response.status === 200) {
        const answer = JSON.parse(new TextDecoder().decode(response.body)) as { eventId?: string; predictions?: { eventId: string }[] };
        eventIds.push(...(answer.predictions?.map((p) => p.eventId) ?? [answer.eventId as string]));
      }
    }
  }
}

export interface ContractRun {
  /** Responses by route, then by status. */
  statuses: Record<string, Record<number, number>>;
  problems: string[];
}

/** Sends `count` requests per route through `call` and checks every response against the document the entry serves. */
export async function runContract(call: Call, keys: ContractKeys, count: number): Promise<ContractRun> {
  const document = (await (await call('/openapi.json', {})).json()) as OpenApiDocument;
  const run: ContractRun = { statuses: {}, problems: [] };
  const requests = contractRequests(keys, count);
  let next = await requests.next();
  while (!next.done) {
    const { route, request } = next.value;
    const response = await call(request.path, { method: request.method, headers: request.headers, body: request.body });
    const observed = { status: response.status, contentType: response.headers.get('Content-Type') ?? '', body: new Uint8Array(await response.arrayBuffer()) };
    const counts = (run.statuses[route] ??= {});
    counts[response.status] = (counts[response.status] ?? 0) + 1;
    const path = new URL(request.path, 'http://edge').pathname;
    run.problems.push(...responseProblems(document, request.method, path, observed).map((problem) => `${request.method} ${request.path} → ${response.status}: ${problem}`));
    next = await requests.next(observed);
  }
  return run;
}
