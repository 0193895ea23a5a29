// GET /metrics: Prometheus text exposition.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app_env';
import { requireRole } from '../auth';
import { renderModelStats } from '../metrics';
import { bearerSecurity, errorResponses, validationHook } from '../validation';

const metricsRoute = createRoute({
  method: 'get',
  path: '/',
  tags: ['health'],
  summary: 'Prometheus metrics: requests by route and status, predictions and rewards by model',
  security: bearerSecurity,
  middleware: [requireRole('reader')] as const,
  responses: {
    200: { description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: z.string() } } },
    ...errorResponses(401, 403, 429),
  },
});

export const metricsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(metricsRoute, async (c) => {
  const { rewardWaitMs: waitMs, defaultReward } = c.var.settings;
  const stats = await c.var.storage.events.statsByModel(c.var.now(), { waitMs, defaultReward });
  const text = [...c.var.requestMetrics.render(), ...renderModelStats(stats)].join('\n');
  return c.text(`${text}\n`, 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
});
