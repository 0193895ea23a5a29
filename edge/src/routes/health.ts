// GET /health: up, and which model answers. GET /health/live: up, touching nothing (liveness; the load run's baseline).
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app_env';
import { errorResponses, jsonContent, validationHook } from '../validation';

export const healthSchema = z
  .object({ status: z.literal('ok'), model: z.object({ version: z.string(), sha256: z.string() }).nullable() })
  .openapi('Health', { description: '`model` is null until a version is promoted.' });

const healthRoute = createRoute({
  method: 'get',
  path: '/',
  tags: ['health'],
  summary: 'Up, and which model answers',
  responses: { 200: jsonContent(healthSchema, 'the API is up'), ...errorResponses() },
});

const liveRoute = createRoute({
  method: 'get',
  path: '/live',
  tags: ['health'],
  summary: 'Up, touching nothing',
  responses: { 200: jsonContent(z.object({ status: z.literal('ok') }), 'the process answers'), ...errorResponses() },
});

export const healthRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(healthRoute, async (c) => {
    const active = await c.var.storage.models.active();
    return c.json({ status: 'ok' as const, model: active && { version: active.version, sha256: active.sha256 } }, 200);
  })
  .openapi(liveRoute, (c) => c.json({ status: 'ok' as const }, 200));
