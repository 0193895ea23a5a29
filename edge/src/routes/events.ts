// Rewards, and the event log export.
//
// GET /v1/events?after=CURSOR&limit=N (admin) answers NDJSON (Content-Type application/x-ndjson), one JSON object a line:
//   {"type":"event","cursor":"17","keyId":"k_…","eventId":"…","time":"2026-…Z","modelVersion":"v1","pixels":[784 numbers in [0,1]],
//    "action":3,"propensity":0.91,"probabilities":[10 numbers],"explored":false,"exploration":"epsilon:0.1",
//    "loggingProbabilities":[10 numbers],"challengerVersion":null,"challengerShare":0,"reward":1,"rewardSource":"client"}
//   …
//   {"type":"end","nextCursor":"42","count":25}
// Events come in log order. `reward` is the client's, or DEFAULT_REWARD ("rewardSource":"default") once
// REWARD_WAIT_SECONDS have passed without one. The export stops before the first event still inside its wait with no
// reward, so the cursor never moves past an event that can still change. The next cursor is in the X-Next-Cursor
// header and in the final "end" line; a stream without that line was cut short: ask again from the last event's
// `cursor` (or the previous cursor). `after` is omitted (or "0") for the start; `limit` is 1 to 10000, default 1000.
// `pixels` are the logged image: round(value·255)/255. `exploration` is the policy the action was drawn under ("greedy"
// for explore:false, null for events logged before it was recorded); `loggingProbabilities` the whole distribution it
// was drawn from, the challenger mixture when `challengerVersion` served at `challengerShare` (0 where it agreed).
// `keyId` names the key that sent the event (a hash of it): event ids are unique per key. With RETENTION_DAYS set,
// each export prunes what is older and already read (up to `after`).
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app_env';
import { requireRole } from '../auth';
import { ApiError } from '../errors';
import type { ExportedEvent } from '../storage/types';
import { bearerSecurity, errorResponses, eventIdSchema, jsonBody, KiB, limitBody, validate, validationHook } from '../validation';
import { predictionSchema } from './predict';
import { pruneExpired } from '../retention';

const REWARD_BODY_BYTES = 4 * KiB;
const DEFAULT_EXPORT_LIMIT = 1000;
const MAX_EXPORT_LIMIT = 10_000;

export const rewardRequestSchema = z
  .strictObject({
    value: z.number({ error: 'must be a finite number in [-1, 1]' }).min(-1, { error: 'must be in [-1, 1]' }).max(1, { error: 'must be in [-1, 1]' }),
  })
  .openapi('RewardRequest');

const rewardParams = z.object({ eventId: eventIdSchema });

export const exportQuerySchema = z.strictObject({
  after: z.string().regex(/^\d{1,15}$/, { error: 'must be a cursor from an earlier export (digits)' }).default('0'),
  limit: z.coerce.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).min(1).max(MAX_EXPORT_LIMIT).default(DEFAULT_EXPORT_LIMIT),
});

export const exportedEventSchema = predictionSchema
  .extend({
    type: z.literal('event'),
    cursor: z.string(),
    keyId: z.string().openapi({ description: 'the id of the key that sent the event: a hash of the key, never the key' }),
    time: z.iso.datetime(),
    pixels: z.array(z.number().min(0).max(1)),
    exploration: z.string().nullable().openapi({ description: 'the exploration policy the action was drawn under: `epsilon:0.1`, `softmax:1:0.1`, `greedy` for explore:false; null before it was recorded' }),
    loggingProbabilities: z.array(z.number().min(0).max(1)).nullable().openapi({ description: 'the whole distribution the action was drawn from (the challenger mixture when one served)' }),
    challengerVersion: z.string().nullable(),
    challengerShare: z.number().min(0).max(1).openapi({ description: 'the challenger’s share for this image: 0 where it agreed with the active model' }),
    reward: z.number().min(-1).max(1),
    rewardSource: z.enum(['client', 'default']),
  })
  .openapi('ExportedEvent');

export const exportEndSchema = z.object({ type: z.literal('end'), nextCursor: z.string(), count: z.number().int().min(0) }).openapi('ExportEnd');

/** One line of the NDJSON export. */
export const exportLineSchema = z.union([exportedEventSchema, exportEndSchema]).openapi('ExportLine');
export type ExportLine = z.infer<typeof exportLineSchema>;

const exportedLine = (event: ExportedEvent): z.infer<typeof exportedEventSchema> => ({
  type: 'event',
  cursor: event.cursor,
  keyId: event.keyId,
  eventId: event.eventId,
  time: new Date(event.time).toISOString(),
  modelVersion: event.modelVersion,
  pixels: Array.from(event.pixels, (value) => value / 255),
  action: event.action,
  propensity: event.propensity,
  probabilities: event.probabilities,
  explored: event.explored,
  exploration: event.exploration,
  loggingProbabilities: event.loggingProbabilities,
  challengerVersion: event.challengerVersion,
  challengerShare: event.challengerShare,
  reward: event.reward,
  rewardSource: event.rewardSource,
});

async function* exportLines(events: AsyncIterable<ExportedEvent>, nextCursor: string) {
  let count = 0;
  for await (const event of events) {
    count++;
    yield exportedLine(event);
  }
  yield { type: 'end', nextCursor, count };
}

function ndjson(lines: AsyncIterable<unknown>): ReadableStream<Uint8Array> {
  const iterator = lines[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(encoder.encode(`${JSON.stringify(value)}\n`));
    },
    async cancel() {
      await iterator.return?.(undefined);
    },
  });
}

const rewardRoute = createRoute({
  method: 'post',
  path: '/{eventId}/reward',
  tags: ['predictions'],
  summary: 'Reward a logged prediction',
  security: bearerSecurity,
  // The event id is checked before the body is read, as the route's own validators run after its middleware.
  middleware: [requireRole('client'), validate('param', rewardParams), limitBody(REWARD_BODY_BYTES)] as const,
  request: { params: rewardParams, body: jsonBody(rewardRequestSchema) },
  responses: {
    204: { description: 'recorded, or the same value again' },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429),
  },
});

const exportRoute = createRoute({
  method: 'get',
  path: '/',
  tags: ['events'],
  summary: 'Export logged events with their rewards',
  description: 'NDJSON: one `ExportedEvent` a line in log order, then an `ExportEnd` line; the next cursor is also in `X-Next-Cursor`.',
  security: bearerSecurity,
  middleware: [requireRole('admin')] as const,
  request: { query: exportQuerySchema },
  responses: {
    200: {
      description: 'one JSON object a line',
      headers: z.object({ 'X-Next-Cursor': z.string() }),
      content: { 'application/x-ndjson': { schema: exportLineSchema } },
    },
    ...errorResponses(400, 401, 403),
  },
});

export const eventRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(rewardRoute, async (c) => {
    const { eventId } = c.req.valid('param');
    const { value } = c.req.valid('json');
    // c.get, not c.var: each read of c.var builds an object of every variable (a few µs on every reward).
    const { rewardWaitMs } = c.get('settings');
    const outcome = await c.get('storage').events.reward(c.get('keyId'), eventId, value, c.get('now')(), rewardWaitMs);
    switch (outcome) {
      case 'recorded':
      case 'repeated':
        return c.body(null, 204);
      case 'unknown_event':
        throw new ApiError(404, 'unknown_event', `no event ${eventId} is logged`);
      case 'conflict':
        throw new ApiError(409, 'reward_conflict', `event ${eventId} already has a different reward`);
      case 'window_closed':
        throw new ApiError(409, 'reward_window_closed', `event ${eventId} is past its ${rewardWaitMs / 1000} s reward wait: the default reward holds`);
    }
  })
  .openapi(exportRoute, async (c) => {
    const { after, limit } = c.req.valid('query');
    const { rewardWaitMs: waitMs, defaultReward, retentionMs } = c.var.settings;
    const now = c.var.now();
    const { nextCursor, events } = await c.var.storage.events.exportAfter(after, limit, now, { waitMs, defaultReward });
    await pruneExpired(c.var.storage, { retentionMs }, now);
    const headers = { 'Content-Type': 'application/x-ndjson', 'X-Next-Cursor': nextCursor, 'Cache-Control': 'no-store' };
    // zod-openapi types every application/…json… response as JSON; NDJSON is a stream of lines, so the type is set aside.
    return c.body(ndjson(exportLines(events, nextCursor)), 200, headers) as never;
  });
