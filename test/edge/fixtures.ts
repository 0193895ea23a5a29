// Test data for the edge tests, free of Node built-ins so the Workers tests (in workerd) share it.
import { buildNetwork, initialParameters, Random, SEED_ARCHITECTURE, writeModel, type LayerSpec } from '@seed/runtime/engine';

import { ADMIN_TOKEN, KEYS } from './keys';

export { ADMIN_TOKEN, KEY_SETTINGS, KEYS } from './keys';

/** A weights file with seeded initial parameters (the seed network by default): the same arguments give the same bytes. */
export async function modelFile(version: string, seed = 1, parent?: string, architecture: LayerSpec[] = SEED_ARCHITECTURE): Promise<Uint8Array> {
  const network = buildNetwork(architecture);
  return writeModel(network, initialParameters(network, seed), { version, parent, created: '2026-04-01T00:00:00.000Z', metrics: { seed } });
}

/** Another stack of the same layer kinds, a linear policy on the pixels: the edge serves it unchanged, and fast. */
export const LINEAR_ARCHITECTURE: LayerSpec[] = [
  { kind: 'input', shape: [1, 28, 28] },
  { kind: 'flatten' },
  { kind: 'dense', name: 'policy', inFeatures: 784, outFeatures: 10, head: 'policy' },
];

/** 784 values on the 1/255 grid, so quantising them loses nothing. */

/** A response's JSON, loosely typed: the tests check its shape themselves. */
export const json = (response: Response): Promise<any> => response.json();

export interface ExportLine {
  type: 'event' | 'end';
  [field: string]: unknown;
}

/** Reads an NDJSON export: its event lines, and the end line that must close it. */
export async function readExport(response: Response): Promise<{ events: ExportLine[]; end: ExportLine; nextCursor: string | null }> {
  const lines = (await response.text())
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ExportLine);
  const end = lines.pop();
  if (end?.type !== 'end') throw new Error(`the export did not close with an end line: ${JSON.stringify(end)}`);
  return { events: lines, end, nextCursor: response.headers.get('X-Next-Cursor') };
}


export type Caller = 'no key' | 'wrong key' | 'client' | 'reader' | 'admin';
export const CALLERS: Caller[] = ['no key', 'wrong key', 'client', 'reader', 'admin'];
const TOKENS: Record<Caller, string | undefined> = { 'no key': undefined, 'wrong key': 'not-a-key', client: KEYS.client, reader: KEYS.reader, admin: KEYS.admin };

export type MatrixCall = (method: string, path: string, init: { token?: string; json?: unknown; body?: Uint8Array }) => Promise<Response>;

interface RouteCase {
  method: string;
  path: string;
  /** The status for each caller, as docs/security.md documents it. */
  expect: Record<Caller, number>;
  /** The request, made fresh for each caller (a new event to reward, a new version to upload). */
  request(call: MatrixCall, caller: Caller): Promise<{ path: string; json?: unknown; body?: Uint8Array }>;
}

const OPEN = { 'no key': 200, 'wrong key': 200, client: 200, reader: 200, admin: 200 };
const CLIENT = (ok: number) => ({ 'no key': 401, 'wrong key': 401, client: ok, reader: 403, admin: 403 });
const READER = { 'no key': 401, 'wrong key': 401, client: 403, reader: 200, admin: 200 };
const ADMIN = (ok: number) => ({ 'no key': 401, 'wrong key': 401, client: 403, reader: 403, admin: ok });

let uploads = 0;

/**
 * Every route × every caller, over `call`, on an app whose settings are KEY_SETTINGS and whose active model is
 * `activeVersion`; answers one line per call whose status is not the documented one (empty: all as documented).
 */
export async function accessMismatches(call: MatrixCall, activeVersion: string): Promise<string[]> {
  const image = { pixels: Array.from({ length: 784 }, (_, i) => (i % 7) / 255) };
  const fixed = (path: string, json?: unknown) => async () => ({ path, json });
  const routes: RouteCase[] = [
    { method: 'GET', path: '/health', expect: OPEN, request: fixed('/health') },
    { method: 'GET', path: '/health/live', expect: OPEN, request: fixed('/health/live') },
    { method: 'GET', path: '/v1/model', expect: OPEN, request: fixed('/v1/model') },
    { method: 'POST', path: '/v1/predict', expect: CLIENT(200), request: fixed('/v1/predict', image) },
    {
      method: 'POST',
      path: '/v1/events/{eventId}/reward',
      expect: CLIENT(204),
      request: async () => {
        // A fresh event of the client key's, so the client's own reward is a first one.
        const made = await call('POST', '/v1/predict', { token: KEYS.client, json: image });
        if (made.status !== 200) throw new Error(`predict for the reward case: ${made.status} ${await made.text()}`);
        const { eventId } = (await made.json()) as { eventId: string };
        return { path: `/v1/events/${eventId}/reward`, json: { value: 1 } };
      },
    },
    { method: 'GET', path: '/v1/models', expect: READER, request: fixed('/v1/models') },
    { method: 'GET', path: '/v1/models/{version}/weights', expect: READER, request: fixed(`/v1/models/${activeVersion}/weights`) },
    { method: 'GET', path: '/metrics', expect: READER, request: fixed('/metrics') },
    {
      method: 'PUT',
      path: '/v1/models/{version}',
      expect: ADMIN(201),
      request: async () => {
        const version = `matrix-${Date.now().toString(36)}-${uploads++}`;
        return { path: `/v1/models/${version}`, body: await modelFile(version, uploads, undefined, LINEAR_ARCHITECTURE) };
      },
    },
    { method: 'POST', path: '/v1/models/{version}/promote', expect: ADMIN(200), request: fixed(`/v1/models/${activeVersion}/promote`) },
    // Nothing was promoted before the active model: the admin's rollback is refused on its merits, not for access.
    { method: 'POST', path: '/v1/rollback', expect: ADMIN(409), request: fixed('/v1/rollback') },
    { method: 'GET', path: '/v1/events', expect: ADMIN(200), request: fixed('/v1/events?limit=1') },
    { method: 'GET', path: '/v1/challenger', expect: ADMIN(200), request: fixed('/v1/challenger') },
    // The active model cannot be its own challenger: the admin is refused on the merits, everyone else for access.
    { method: 'PUT', path: '/v1/challenger', expect: ADMIN(409), request: fixed('/v1/challenger', { version: activeVersion }) },
    { method: 'DELETE', path: '/v1/challenger', expect: ADMIN(204), request: fixed('/v1/challenger') },
  ];
  const mismatches: string[] = [];
  for (const route of routes) {
    for (const caller of CALLERS) {
      const { path, json, body } = await route.request(call, caller);
      const response = await call(route.method, path, { token: TOKENS[caller], json, body });
      const text = await response.text();
      if (response.status !== route.expect[caller]) mismatches.push(`${route.method} ${route.path} as ${caller}: ${response.status} (expected ${route.expect[caller]}) ${text.slice(0, 160)}`);
    }
  }
  return mismatches;
}
