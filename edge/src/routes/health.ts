// GET /health: up, and which model answers. GET /health/live: up, touching nothing (liveness; the load run's baseline).
import { Hono } from 'hono';
import type { AppEnv } from '../app_env';

export const healthRoutes = new Hono<AppEnv>()
  .get('/', async (c) => {
    const active = await c.var.storage.models.active();
    return c.json({ status: 'ok', model: active && { version: active.version, sha256: active.sha256 } });
  })
  .get('/live', (c) => c.json({ status: 'ok' }));
