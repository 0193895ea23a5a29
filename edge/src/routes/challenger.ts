// The challenger (admin): a candidate the edge serves beside the active model on a share of the traffic where the two
// disagree, logging the mixture's exact probability. GET shows it, PUT sets it, DELETE clears it.
import { DEFAULT_CHALLENGER_SHARE } from '@seed/runtime/engine';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app_env';
import { requireRole } from '../auth';
import { ApiError } from '../errors';
import type { ChallengerRecord } from '../storage/types';
import { KiB, limitBody, validate, versionSchema } from '../validation';

const CHALLENGER_BODY_BYTES = 4 * KiB;

const challengerBody = z.strictObject({
  version: versionSchema,
  share: z.number({ error: 'must be a number in (0, 1)' }).gt(0, { error: 'must be above 0' }).lt(1, { error: 'must be below 1' }).default(DEFAULT_CHALLENGER_SHARE),
});

const challengerJson = (challenger: ChallengerRecord | null) => ({
  challenger: challenger && { version: challenger.version, share: challenger.share, setAt: new Date(challenger.setAt).toISOString() },
});

export const challengerRoutes = new Hono<AppEnv>()
  .get('/', requireRole('admin'), async (c) => c.json(challengerJson(await c.var.storage.models.challenger())))
  .put('/', requireRole('admin'), limitBody(CHALLENGER_BODY_BYTES), validate('json', challengerBody), async (c) => {
    const { version, share } = c.req.valid('json');
    const active = await c.var.storage.models.active();
    if (active?.version === version) throw new ApiError(409, 'challenger_is_active', `${version} is the active model: a challenger must be another version`);
    const challenger = await c.var.storage.models.setChallenger(version, share, c.var.now());
    if (!challenger) throw new ApiError(404, 'unknown_model', `no model ${version} in the registry`);
    return c.json(challengerJson(challenger));
  })
  .delete('/', requireRole('admin'), async (c) => {
    await c.var.storage.models.clearChallenger();
    return c.body(null, 204);
  });
