// The event log on SQL: one implementation for D1 and SQLite.
//
// Event ids are scoped to the key that sent them: the `event_id` column holds `keyId:eventId` (both halves are free of
// ':'), so it stays unique across keys and every join on it (rewards, the counters' triggers) stays exact; the
// `key_id` column holds the key id alone. Rows logged before keys were recorded have key id '' and the bare id.
import type { EventExport, EventLog, ExportedEvent, ModelStats, PredictionEvent, PruneOutcome, RewardOutcome, RewardRules } from './types';
import { guardedSql, type SqlDatabase } from './sql';

interface EventRow {
  seq: number;
  key_id: string;
  event_id: string;
  created_at: number;
  model_version: string;
  /** D1 returns a BLOB as number[], better-sqlite3 as a Buffer. */
  pixels: ArrayLike<number>;
  probabilities: string;
  action: number;
  propensity: number;
  explored: number;
  exploration: string | null;
  logging_probabilities: string | null;
  challenger_version: string | null;
  challenger_share: number;
}

const EVENT_COLUMNS =
  'e.seq, e.key_id, e.event_id, e.created_at, e.model_version, e.pixels, e.probabilities, e.action, e.propensity, e.explored, e.exploration, e.logging_probabilities, e.challenger_version, e.challenger_share';
/** Rows read per query while an export streams. */
const EXPORT_PAGE = 200;

/** The stored id of a key's event. */
const scopedId = (keyId: string, eventId: string) => (keyId ? `${keyId}:${eventId}` : eventId);

const toEvent = (row: EventRow): PredictionEvent => ({
  keyId: row.key_id,
  eventId: row.key_id ? row.event_id.slice(row.key_id.length + 1) : row.event_id,
  time: row.created_at,
  modelVersion: row.model_version,
  pixels: Uint8Array.from(row.pixels),
  probabilities: JSON.parse(row.probabilities) as number[],
  action: row.action,
  propensity: row.propensity,
  explored: row.explored === 1,
  exploration: row.exploration,
  loggingProbabilities: row.logging_probabilities === null ? null : (JSON.parse(row.logging_probabilities) as number[]),
  challengerVersion: row.challenger_version,
  challengerShare: row.challenger_share,
});

export class SqlEventLog implements EventLog {
  private readonly db: SqlDatabase;

  constructor(db: SqlDatabase) {
    this.db = guardedSql(db);
  }

  async find(keyId: string, eventIds: string[]): Promise<Map<string, PredictionEvent>> {
    const found = new Map<string, PredictionEvent>();
    if (eventIds.length === 0) return found;
    const rows = await this.db.all<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.event_id IN (${eventIds.map(() => '?').join(',')})`,
      ...eventIds.map((id) => scopedId(keyId, id)),
    );
    for (const row of rows) found.set(toEvent(row).eventId, toEvent(row));
    return found;
  }

  async append(events: PredictionEvent[]): Promise<PredictionEvent[]> {
    const changes = await this.db.transaction(
      events.map((e) => ({
        sql: `INSERT INTO events (key_id, event_id, created_at, model_version, pixels, probabilities, action, propensity, explored,
                                  exploration, logging_probabilities, challenger_version, challenger_share)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
        params: [
          e.keyId, scopedId(e.keyId, e.eventId), e.time, e.modelVersion, e.pixels, JSON.stringify(e.probabilities), e.action, e.propensity, e.explored ? 1 : 0,
          e.exploration, e.loggingProbabilities && JSON.stringify(e.loggingProbabilities), e.challengerVersion, e.challengerShare,
        ],
      })),
    );
    // An id that was logged meanwhile (a concurrent retry) answers with its first event.
    const taken = new Map<string, PredictionEvent>();
    for (const keyId of new Set(events.map((e) => e.keyId))) {
      const mine = events.filter((e, i) => changes[i] === 0 && e.keyId === keyId).map((e) => e.eventId);
      for (const event of (await this.find(keyId, mine)).values()) taken.set(scopedId(keyId, event.eventId), event);
    }
    return events.map((e) => taken.get(scopedId(e.keyId, e.eventId)) ?? e);
  }

  async reward(keyId: string, eventId: string, value: number, now: number, waitMs: number): Promise<RewardOutcome> {
    // Looked for under the sender's key: another key's event is as unknown as an id nobody used.
    const id = scopedId(keyId, eventId);
    const [recorded] = await this.db.transaction([
      {
        sql: `INSERT INTO rewards (event_id, key_id, value, created_at)
              SELECT event_id, key_id, ?, ? FROM events WHERE event_id = ? AND created_at > ?
              ON CONFLICT (event_id) DO NOTHING`,
        params: [value, now, id, now - waitMs],
      },
    ]);
    if (recorded) return 'recorded';
    const row = await this.db.first<{ value: number | null }>(
      'SELECT r.value FROM events e LEFT JOIN rewards r ON r.event_id = e.event_id WHERE e.event_id = ?',
      id,
    );
    if (!row) return 'unknown_event';
    if (row.value === null) return 'window_closed';
    return row.value === value ? 'repeated' : 'conflict';
  }

  async exportAfter(cursor: string, limit: number, now: number, rules: RewardRules): Promise<EventExport> {
    const after = Number(cursor);
    const cutoff = now - rules.waitMs;
    await this.db.transaction([
      {
        sql: `INSERT INTO export_progress (id, read_through) VALUES (1, ?)
              ON CONFLICT (id) DO UPDATE SET read_through = max(read_through, excluded.read_through)`,
        params: [after],
      },
    ]);
    // The export ends before the first event that may still get a client reward, so the cursor never passes it.
    const bounds = await this.db.first<{ last: number | null }>(
      `SELECT max(seq) AS last FROM (
         SELECT seq FROM events
         WHERE seq > ? AND seq < coalesce((
           SELECT min(p.seq) FROM events p
           WHERE p.seq > ? AND p.created_at > ? AND NOT EXISTS (SELECT 1 FROM rewards r WHERE r.event_id = p.event_id)
         ), 9223372036854775807)
         ORDER BY seq LIMIT ?)`,
      after,
      after,
      cutoff,
      limit,
    );
    const last = bounds?.last ?? after;
    return { nextCursor: String(last), events: this.exportRange(after, last, rules) };
  }

  private async *exportRange(after: number, last: number, rules: RewardRules): AsyncGenerator<ExportedEvent> {
    // Past the cutoff, no reward can arrive for an event in the range: reading it page by page is consistent.
    for (let from = after; from < last; ) {
      const rows = await this.db.all<EventRow & { reward: number | null }>(
        `SELECT ${EVENT_COLUMNS}, r.value AS reward FROM events e LEFT JOIN rewards r ON r.event_id = e.event_id
         WHERE e.seq > ? AND e.seq <= ? ORDER BY e.seq LIMIT ?`,
        from,
        last,
        EXPORT_PAGE,
      );
      for (const row of rows) {
        yield {
          ...toEvent(row),
          cursor: String(row.seq),
          reward: row.reward ?? rules.defaultReward,
          rewardSource: row.reward === null ? 'default' : 'client',
        };
      }
      from = rows.length ? rows[rows.length - 1].seq : last;
    }
  }

  /**
   * From the counters the triggers keep (migration 0004), plus the unrewarded events still inside the wait (an index
   * range, not the log): every other unrewarded event has settled at the default reward.
   */
  async statsByModel(now: number, rules: RewardRules): Promise<ModelStats[]> {
    const rows = await this.db.all<{ model_version: string; predictions: number; rewards: number; reward_sum: number; waiting: number }>(
      `SELECT c.model_version, c.predictions, c.rewards, c.reward_sum, coalesce(w.waiting, 0) AS waiting
       FROM model_counters c LEFT JOIN (
         SELECT e.model_version, count(*) AS waiting FROM events e
         WHERE e.created_at > ? AND NOT EXISTS (SELECT 1 FROM rewards r WHERE r.event_id = e.event_id)
         GROUP BY e.model_version
       ) w ON w.model_version = c.model_version
       ORDER BY c.model_version`,
      now - rules.waitMs,
    );
    return rows.map((row) => {
      const defaulted = row.predictions - row.rewards - row.waiting;
      const settled = row.rewards + defaulted;
      return {
        modelVersion: row.model_version,
        predictions: row.predictions,
        rewards: row.rewards,
        rewardMean: settled ? (row.reward_sum + defaulted * rules.defaultReward) / settled : null,
      };
    });
  }

  async prune(before: number): Promise<PruneOutcome> {
    // Only events an export has read past: the evolution never misses one for retention's sake.
    const doomed = `SELECT event_id FROM events
                    WHERE created_at < ? AND seq <= coalesce((SELECT read_through FROM export_progress WHERE id = 1), 0)`;
    const [rewards, events] = await this.db.transaction([
      { sql: `DELETE FROM rewards WHERE event_id IN (${doomed})`, params: [before] },
      { sql: `DELETE FROM events WHERE event_id IN (${doomed})`, params: [before] },
    ]);
    return { events, rewards };
  }
}
