-- Attribution and retention. Each event and reward records the id of the key that sent it (a hash, never the key).
-- A client's event id is scoped to its key: `event_id` holds `key_id:id` for events logged from now on, so it stays
-- unique, and every join on it stays exact. Events and rewards logged before this have key id '' and the bare id.
ALTER TABLE events ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE rewards ADD COLUMN key_id TEXT NOT NULL DEFAULT '';

-- The furthest cursor an export was asked to continue from: everything up to it has been read by the evolution, and
-- only that may be pruned (RETENTION_DAYS).
CREATE TABLE export_progress (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  read_through INTEGER NOT NULL
);
