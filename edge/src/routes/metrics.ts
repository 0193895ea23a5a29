// GET /metrics: Prometheus text exposition.
import { Hono } from 'hono';
import type { AppEnv } from '../app_env';
import { requireRole } from '../auth';
import { renderModelStats } from '../metrics';

export const metricsRoutes = new Hono<AppEnv>().get('/', requireRole('reader'), async (c) => {
  const { rewardWaitMs: waitMs, defaultReward } = c.var.settings;
  const stats = await c.var.storage.events.statsByModel(c.var.now(), { waitMs, defaultReward });
  const text = [...c.var.requestMetrics.render(), ...renderModelStats(stats)].join('\n');
  return c.text(`${text}\n`, 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
});
