// Retention (RETENTION_DAYS): events and rewards older than the setting are deleted once an export has read past them,
// so the evolution never misses one. Each export prunes; so do the entries on their own, without exports: the Workers
// cron trigger (wrangler.toml `[triggers]`, the `scheduled` handler) and a timer in the Node entry.
import type { Settings } from './env';
import type { PruneOutcome, Storage } from './storage/types';

/** How often the Node entry prunes on its own; the Workers cron in wrangler.toml runs hourly too. */
export const PRUNE_INTERVAL_MS = 3_600_000;

/** Deletes what retention allows at `now`: read events (and their rewards) older than RETENTION_DAYS. Null when retention is off. */
export async function pruneExpired(storage: Pick<Storage, 'events'>, settings: Pick<Settings, 'retentionMs'>, now: number): Promise<PruneOutcome | null> {
  if (settings.retentionMs <= 0) return null;
  return storage.events.prune(now - settings.retentionMs);
}
