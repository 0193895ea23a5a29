// The per-version statistics from counters (migration 0004) equal a scan of the whole log, on a log written before
// the migration (its backfill) and after it (the triggers), with rewards in and past the wait.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { applyMigrations, SqlEventLog, type PredictionEvent, type RewardRules, type SqlDatabase } from '@seed/edge';
import { readMigrations, sqliteSql } from '@seed/edge/node';
import { Random } from '@seed/runtime/engine';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { temporaryDir } from './support';

const RULES: RewardRules = { waitMs: 60_000, defaultReward: -0.25 };

/** The statistics as a scan of the log computes them: the definition the counters must meet. */
async function scannedStats(sql: SqlDatabase, now: number) {
  const cutoff = now - RULES.waitMs;
  const rows = await sql.all<{ model_version: string; predictions: number; rewards: number; settled: number; reward_sum: number | null }>(
    `SELECT e.model_version, count(*) AS predictions, count(r.event_id) AS rewards,
            sum(r.event_id IS NOT NULL OR e.created_at <= ?) AS settled,
            sum(CASE WHEN r.event_id IS NOT NULL THEN r.value WHEN e.created_at <= ? THEN ? END) AS reward_sum
     FROM events e LEFT JOIN rewards r ON r.event_id = e.event_id GROUP BY e.model_version ORDER BY e.model_version`,
    cutoff, cutoff, RULES.defaultReward,
  );
  return rows.map((row) => ({ modelVersion: row.model_version, predictions: row.predictions, rewards: row.rewards, rewardMean: row.settled ? (row.reward_sum ?? 0) / row.settled : null }));
}

let dir: Awaited<ReturnType<typeof temporaryDir>>;
let db: Database.Database;
beforeEach(async () => {
  dir = await temporaryDir('counters');
  db = new Database(join(dir.path, 'seed.sqlite'));
});
afterEach(async () => {
  db.close();
  await dir.remove();
});

/** The key the test's events come from. */
const KEY_ID = 'k_counters';

/** Logs `count` events over three versions, spread over `start` + 0..3 minutes, and rewards about half of them. */
async function writeLog(log: SqlEventLog, random: Random, start: number, count: number, prefix: string): Promise<void> {
  const events: PredictionEvent[] = Array.from({ length: count }, (_, i) => ({
    keyId: KEY_ID, eventId: `${prefix}${i}`, time: start + Math.floor(random.next() * 180_000), modelVersion: `v${i % 3}`, pixels: new Uint8Array(784),
    probabilities: Array(10).fill(0.1), action: i % 10, propensity: 0.1, explored: false,
    exploration: 'epsilon:1', loggingProbabilities: null, challengerVersion: null, challengerShare: 0,
  }));
  await log.append(events);
  for (const event of events) {
    if (random.next() < 0.5) await log.reward(KEY_ID, event.eventId, Math.round(random.next() * 8) / 4 - 1, event.time + 1000, RULES.waitMs);
  }
}

it('equal a scan of the log: backfilled by the migration, then kept by the triggers, at several clocks', async () => {
  const sql = sqliteSql(db);
  const migrations = await readMigrations();
  const counters = migrations.findIndex((m) => m.name.startsWith('0004_'));
  expect(counters).toBeGreaterThan(0);
  await applyMigrations(sql, migrations.slice(0, counters));
  const log = new SqlEventLog(sql);
  const random = new Random(5);
  const start = Date.UTC(2026, 3, 1);
  await writeLog(log, random, start, 120, 'before-');
  await applyMigrations(sql, migrations);
  for (const now of [start + 30_000, start + 200_000, start + 400_000]) expect(await log.statsByModel(now, RULES)).toEqual(await scannedStats(sql, now));
  await writeLog(log, random, start + 100_000, 150, 'after-');
  // A repeated event or reward changes nothing.
  await log.append([{ keyId: KEY_ID, eventId: 'after-3', time: start, modelVersion: 'v9', pixels: new Uint8Array(784), probabilities: [], action: 0, propensity: 1, explored: false, exploration: 'greedy', loggingProbabilities: null, challengerVersion: null, challengerShare: 0 }]);
  await log.reward(KEY_ID, 'after-3', 1, start + 100_500, RULES.waitMs);
  for (const now of [start + 100_000, start + 150_000, start + 250_000, start + 10 ** 6]) {
    const stats = await log.statsByModel(now, RULES);
    expect(stats).toEqual(await scannedStats(sql, now));
    expect(stats.map((s) => s.modelVersion)).toEqual(['v0', 'v1', 'v2']);
  }
});
