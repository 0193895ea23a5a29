// POST /v1/predict: one image ({"pixels":[…784]}) or a batch of up to 64 ({"instances":[{"pixels":[…]},…]}).
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../app_env';
import { requireRole } from '../auth';
import { predictAndLog } from '../prediction';
import { bearerSecurity, errorResponses, eventIdSchema, jsonBody, jsonContent, KiB, limitBody, MiB, pixelsSchema, tooLarge, validationHook } from '../validation';

const SINGLE_BODY_BYTES = 64 * KiB;
const BATCH_BODY_BYTES = 4 * MiB;
const MAX_BATCH = 64;

const instance = z.strictObject({ pixels: pixelsSchema, eventId: eventIdSchema.optional() });

const clientEventIds = (instances: { eventId?: string }[] = []) => instances.flatMap((i) => (i.eventId ? [i.eventId] : []));

export const predictRequestSchema = z
  .strictObject({
    pixels: pixelsSchema.optional(),
    eventId: eventIdSchema.optional(),
    instances: z.array(instance).min(1, { error: 'must hold at least one instance' }).max(MAX_BATCH, { error: `must hold at most ${MAX_BATCH} instances` }).optional(),
    explore: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .refine((body) => (body.pixels === undefined) !== (body.instances === undefined), { error: 'send either "pixels" (one image) or "instances" (a batch)' })
  .refine((body) => body.instances === undefined || body.eventId === undefined, { error: 'in a batch, each instance carries its own "eventId"' })
  .refine((body) => new Set(clientEventIds(body.instances)).size === clientEventIds(body.instances).length, { error: 'two instances have the same "eventId"' })
  .openapi('PredictRequest', { description: 'One image as `pixels`, or a batch as `instances`; `explore: false` answers greedily.' });

export const predictionSchema = z
  .object({
    eventId: z.string(),
    modelVersion: z.string(),
    action: z.number().int().min(0),
    probabilities: z.array(z.number().min(0).max(1)),
    propensity: z.number().min(0).max(1),
    explored: z.boolean(),
  })
  .openapi('Prediction', { description: '`action` drawn from the exploration policy with probability `propensity`; `probabilities` are the model’s.' });

export const batchPredictionSchema = z.object({ predictions: z.array(predictionSchema) }).openapi('BatchPrediction');

// A body over the single-image limit must be a batch: refused before JSON parsing unless it names "instances".
const singleImageLimit = createMiddleware<AppEnv & { Variables: { bodyBytes: number } }>(async (c, next) => {
  if (c.get('bodyBytes') > SINGLE_BODY_BYTES && !(await c.req.text()).includes('"instances"')) throw tooLarge('a single prediction', SINGLE_BODY_BYTES);
  await next();
});

const predictRoute = createRoute({
  method: 'post',
  path: '/',
  tags: ['predictions'],
  summary: 'Predict a digit and log the event',
  security: bearerSecurity,
  middleware: [requireRole('client'), limitBody(BATCH_BODY_BYTES), singleImageLimit] as const,
  request: { body: jsonBody(predictRequestSchema) },
  responses: {
    200: jsonContent(z.union([predictionSchema, batchPredictionSchema]), 'the prediction, or `predictions` in request order for a batch'),
    ...errorResponses(400, 401, 403, 413, 415, 429),
  },
});

export const predictRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(predictRoute, async (c) => {
  const body = c.req.valid('json');
  const explore = body.explore ?? true;
  if (body.instances) return c.json({ predictions: await predictAndLog(c.var, body.instances, explore) }, 200);
  if (c.get('bodyBytes') > SINGLE_BODY_BYTES) throw tooLarge('a single prediction', SINGLE_BODY_BYTES);
  // The schema's first refine makes `pixels` present when `instances` is not.
  const [prediction] = await predictAndLog(c.var, [{ pixels: body.pixels as number[], eventId: body.eventId }], explore);
  return c.json(prediction, 200);
});
