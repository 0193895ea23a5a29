// The challenger (admin): a candidate the edge serves beside the active model on a share of the traffic where the two
// disagree, logging the mixture's exact probability. GET shows it, PUT sets it, DELETE clears it.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { DEFAULT_CHALLENGER_SHARE } from '@seed/runtime/engine';
import type { AppEnv } from '../app_env';
import { requireRole } from '../auth';
import { ApiError } from '../errors';
import type { ChallengerRecord } from '../storage/types';
import { bearerSecurity, errorResponses, jsonBody, jsonContent, KiB, limitBody, validationHook, versionSchema } from '../validation';

const CHALLENGER_BODY_BYTES = 4 * KiB;

export const challengerRequestSchema = z
  .strictObject({
    version: versionSchema,
    share: z
      .number({ error: 'must be a number in (0, 1)' })
      .gt(0, { error: 'must be above 0' })
      .lt(1, { error: 'must be below 1' })
      .default(DEFAULT_CHALLENGER_SHARE)
      .openapi({ description: 'share of the traffic the challenger serves where its greedy action differs from the active model’s' }),
  })
  .openapi('ChallengerRequest');

export const challengerSchema = z
  .object({ challenger: z.object({ version: z.string(), share: z.number(), setAt: z.iso.datetime() }).nullable() })
  .openapi('Challenger');

const challengerJson = (challenger: ChallengerRecord | null): z.infer<typeof challengerSchema> => ({
  challenger: challenger && { version: challenger.version, share: challenger.share, setAt: new Date(challenger.setAt).toISOString() },
});

const showRoute = createRoute({
  method: 'get',
  path: '/',
  summary: 'The challenger, or null',
  security: bearerSecurity,
  middleware: [requireRole('admin')] as const,
  responses: { 200: jsonContent(challengerSchema, 'the challenger'), ...errorResponses(401, 403) },
});

const setRoute = createRoute({
  method: 'put',
  path: '/',
  summary: 'Serve a stored version as the challenger',
  security: bearerSecurity,
  middleware: [requireRole('admin'), limitBody(CHALLENGER_BODY_BYTES)] as const,
  request: { body: jsonBody(challengerRequestSchema) },
  responses: { 200: jsonContent(challengerSchema, 'the new challenger'), ...errorResponses(400, 401, 403, 404, 409, 413, 415) },
});

const clearRoute = createRoute({
  method: 'delete',
  path: '/',
  summary: 'Stop serving a challenger',
  security: bearerSecurity,
  middleware: [requireRole('admin')] as const,
  responses: { 204: { description: 'no challenger is served' }, ...errorResponses(401, 403) },
});

export const challengerRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(showRoute, async (c) => c.json(challengerJson(await c.var.storage.models.challenger()), 200))
  .openapi(setRoute, async (c) => {
    const { version, share } = c.req.valid('json');
    const active = await c.var.storage.models.active();
    if (active?.version === version) throw new ApiError(409, 'challenger_is_active', `${version} is the active model: a challenger must be another version`);
    const challenger = await c.var.storage.models.setChallenger(version, share, c.var.now());
    if (!challenger) throw new ApiError(404, 'unknown_model', `no model ${version} in the registry`);
    return c.json(challengerJson(challenger), 200);
  })
  .openapi(clearRoute, async (c) => {
    await c.var.storage.models.clearChallenger();
    return c.body(null, 204);
  });
