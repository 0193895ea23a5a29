// The edge API: one Hono app for Workers and Node, storage chosen by the entry.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { routePath } from 'hono/route';
import { ActiveModelCache } from './active_model';
import type { AppVariables } from './app_env';
import { settingsFrom, type Env } from './env';
import { ApiError, errorBody } from './errors';
import { RequestMetrics } from './metrics';
import { challengerRoutes } from './routes/challenger';
import { eventRoutes } from './routes/events';
import { healthRoutes } from './routes/health';
import { metricsRoutes } from './routes/metrics';
import { modelRoutes } from './routes/models';
import { predictRoutes } from './routes/predict';
import { StorageError } from './storage/sql';
import type { Storage } from './storage/types';

export interface AppOptions<Bindings extends Env> {
  /** The storage for a request's bindings: D1 and R2 on Workers, SQLite and files on Node. */
  storage: (bindings: Bindings) => Storage;
  now?: () => number;
  random?: () => number;
}

const HTTP_ERROR_CODES: Record<number, string> = { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 413: 'too_large' };

export function createApp<Bindings extends Env>(options: AppOptions<Bindings>) {
  const activeModel = new ActiveModelCache();
  const requestMetrics = new RequestMetrics();
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const app = new Hono<{ Bindings: Bindings; Variables: AppVariables }>();

  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    const route = routePath(c, -1);
    // Unmatched paths share one label, so scanners cannot grow the series without bound.
    requestMetrics.observe(c.req.method, route === '/*' ? 'unmatched' : route, c.res.status, (performance.now() - started) / 1000);
  });
  app.use(async (c, next) => {
    c.set('settings', settingsFrom(c.env));
    c.set('storage', options.storage(c.env));
    c.set('activeModel', activeModel);
    c.set('requestMetrics', requestMetrics);
    c.set('now', now);
    c.set('random', random);
    await next();
  });

  app.route('/health', healthRoutes);
  app.route('/metrics', metricsRoutes);
  app.route('/v1/predict', predictRoutes);
  app.route('/v1/events', eventRoutes);
  app.route('/v1/challenger', challengerRoutes);
  app.route('/v1', modelRoutes);

  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404));
  app.onError((error, c) => {
    if (error instanceof ApiError) return c.json(errorBody(error.code, error.message), error.status);
    if (error instanceof HTTPException) return c.json(errorBody(HTTP_ERROR_CODES[error.status] ?? 'http_error', error.message), error.status);
    if (error instanceof StorageError) {
      // One line in the log; the client learns only that it may try again.
      console.error(`${c.req.method} ${c.req.path}: ${error.message}`);
      return c.json(errorBody('storage_unavailable', 'the event log or model registry is unavailable: try again later'), 503);
    }
    console.error(`${c.req.method} ${c.req.path}:`, error);
    return c.json(errorBody('internal', 'internal error'), 500);
  });
  return app;
}
