// The edge API: one Hono app for Workers and Node, storage chosen by the entry.
import { OpenAPIHono } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import { routePath } from 'hono/route';
import { ActiveModelCache } from './active_model';
import type { AppVariables } from './app_env';
import { MemoryRateLimiter, type RateLimiter, type Sha256, webCryptoSha256 } from './auth';
import { settingsFrom, type Env } from './env';
import { ApiError, errorBody } from './errors';
import { RequestMetrics } from './metrics';
import { challengerRoutes } from './routes/challenger';
import { SECURITY_HEADERS } from './security_headers';
import { eventRoutes } from './routes/events';
import { healthRoutes } from './routes/health';
import { metricsRoutes } from './routes/metrics';
import { modelRoutes } from './routes/models';
import { predictRoutes } from './routes/predict';
import { StorageError } from './storage/sql';
import type { Storage } from './storage/types';
import { BEARER_AUTH, unsupportedMediaType, validationHook } from './validation';

export interface AppOptions<Bindings extends Env> {
  /** The storage for a request's bindings: D1 and R2 on Workers, SQLite and files on Node. */
  storage: (bindings: Bindings) => Storage;
  /** The SIMD inference engine's compiled module: wrangler's import of the .wasm on Workers, the file on Node. */
  simdEngine: WebAssembly.Module;
  /** Per-key request limits: the Rate Limiting binding on Workers; one process's memory by default. */
  rateLimiter?: (bindings: Bindings) => RateLimiter;
  now?: () => number;
  random?: () => number;
  /** SHA-256 for keys: Web Crypto's by default; the Node entry passes node:crypto's, which answers without a trip through the thread pool. */
  sha256?: Sha256;
}

const HTTP_ERROR_CODES: Record<number, string> = { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 413: 'too_large', 429: 'rate_limited' };

/** The document's header: what `GET /openapi.json` describes. */
const DOCUMENT_INFO = {
  openapi: '3.1.0',
  info: {
    title: 'seed edge API',
    version: '1',
    description: 'Predictions from the active digit model, rewards for them, and the model registry. Every error is `{"error":{"code","message"}}`.',
  },
  tags: [
    { name: 'predictions', description: 'predict a digit, then reward the answer (a client key when API_KEYS is set)' },
    { name: 'models', description: 'the registry: read it openly, change it with the admin token' },
    { name: 'events', description: 'the event log with its rewards, for training (admin)' },
    { name: 'health', description: 'liveness, the active model, Prometheus metrics' },
  ],
};

export function createApp<Bindings extends Env>(options: AppOptions<Bindings>) {
  const activeModel = new ActiveModelCache(options.simdEngine);
  const requestMetrics = new RequestMetrics();
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const sha256 = options.sha256 ?? webCryptoSha256;
  const memoryRateLimiter = new MemoryRateLimiter();
  const rateLimiter = options.rateLimiter ?? (() => memoryRateLimiter);
  const app = new OpenAPIHono<{ Bindings: Bindings; Variables: AppVariables }>({ defaultHook: validationHook });

  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    const route = routePath(c, -1);
    // Unmatched paths share one label, so scanners cannot grow the series without bound.
    requestMetrics.observe(c.req.method, route === '/*' ? 'unmatched' : route, c.res.status, (performance.now() - started) / 1000);
  });
  app.use(async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
  });
  app.use(async (c, next) => {
    c.set('settings', settingsFrom(c.env));
    c.set('storage', options.storage(c.env));
    c.set('activeModel', activeModel);
    c.set('requestMetrics', requestMetrics);
    c.set('rateLimiter', rateLimiter(c.env));
    c.set('now', now);
    c.set('random', random);
    c.set('sha256', sha256);
    await next();
  });

  const api = app
    .route('/health', healthRoutes)
    .route('/metrics', metricsRoutes)
    .route('/v1/predict', predictRoutes)
    .route('/v1/events', eventRoutes)
    .route('/v1/challenger', challengerRoutes)
    .route('/v1', modelRoutes);

  app.openAPIRegistry.registerComponent('securitySchemes', BEARER_AUTH, { type: 'http', scheme: 'bearer', description: 'an API key from API_KEYS, or the admin token' });
  let document: ReturnType<typeof app.getOpenAPI31Document> | undefined;
  app.get('/openapi.json', (c) => c.json((document ??= app.getOpenAPI31Document(DOCUMENT_INFO))));

  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404));
  app.onError((error, c) => {
    const errorResponse = (apiError: ApiError) => c.json(errorBody(apiError.code, apiError.message), apiError.status);
    if (error instanceof ApiError) return errorResponse(error);
    // zod-openapi's own media type check answers like ours.
    if (error instanceof HTTPException && error.status === 415) return errorResponse(unsupportedMediaType());
    if (error instanceof HTTPException) return c.json(errorBody(HTTP_ERROR_CODES[error.status] ?? 'http_error', error.message), error.status);
    if (error instanceof StorageError) {
      // One line in the log; the client learns only that it may try again.
      console.error(`${c.req.method} ${c.req.path}: ${error.message}`);
      return c.json(errorBody('storage_unavailable', 'the event log or model registry is unavailable: try again later'), 503);
    }
    console.error(`${c.req.method} ${c.req.path}:`, error);
    return c.json(errorBody('internal', 'internal error'), 500);
  });
  return api;
}

/** The app's type, routes and schemas included: what `hono/client` builds the typed client from. */
export type App = ReturnType<typeof createApp<Env>>;
