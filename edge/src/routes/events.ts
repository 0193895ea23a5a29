// Rewards, and the event log export.
//
// GET /v1/events?after=CURSOR&limit=N (admin) answers NDJSON (Content-Type application/x-ndjson), one JSON object a line:
//   {"type":"event","cursor":"17","eventId":"…","time":"2026-…Z","modelVersion":"v1","pixels":[784 numbers in [0,1]],
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
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app_env';
import { requireRole } from '../auth';
import { ApiError } from '../errors';
import type { ExportedEvent } from '../storage/types';
import { eventIdSchema, KiB, limitBody, validate } from '../validation';

const REWARD_BODY_BYTES = 4 * KiB;
const DEFAULT_EXPORT_LIMIT = 1000;
const MAX_EXPORT_LIMIT = 10_000;

const rewardBody = z.strictObject({
  value: z.number({ error: 'must be a finite number in [-1, 1]' }).min(-1, { error: 'must be in [-1, 1]' }).max(1, { error: 'must be in [-1, 1]' }),
});

const exportQuery = z.strictObject({
  after: z.string().regex(/^\d{1,15}$/, { error: 'must be a cursor from an earlier export (digits)' }).default('0'),
  limit: z.coerce.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).min(1).max(MAX_EXPORT_LIMIT).default(DEFAULT_EXPORT_LIMIT),
});

const exportedLine = (event: ExportedEvent) => ({
  type: 'event',
  cursor: event.cursor,
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

export const eventRoutes = new Hono<AppEnv>()
  .post(
    '/:eventId/reward',
    requireRole('client'),
    validate('param', z.object({ eventId: eventIdSchema })),
    limitBody(REWARD_BODY_BYTES),
    validate('json', rewardBody),
    async (c) => {
      const { eventId } = c.req.valid('param');
      const { value } = c.req.valid('json');
      const outcome = await c.var.storage.events.reward(eventId, value, c.var.now(), c.var.settings.rewardWaitMs);
      switch (outcome) {
        case 'recorded':
        case 'repeated':
          return c.body(null, 204);
        case 'unknown_event':
          throw new ApiError(404, 'unknown_event', `no event ${eventId} is logged`);
        case 'conflict':
          throw new ApiError(409, 'reward_conflict', `event ${eventId} already has a different reward`);
        case 'window_closed':
          throw new ApiError(409, 'reward_window_closed', `event ${eventId} is past its ${c.var.settings.rewardWaitMs / 1000} s reward wait: the default reward holds`);
      }
    },
  )
  .get('/', requireRole('admin'), validate('query', exportQuery), async (c) => {
    const { after, limit } = c.req.valid('query');
    const { rewardWaitMs: waitMs, defaultReward } = c.var.settings;
    const { nextCursor, events } = await c.var.storage.events.exportAfter(after, limit, c.var.now(), { waitMs, defaultReward });
    return c.body(ndjson(exportLines(events, nextCursor)), 200, {
      'Content-Type': 'application/x-ndjson',
      'X-Next-Cursor': nextCursor,
      'Cache-Control': 'no-store',
    });
  });
