-- Attribution and retention. Each event and reward records the id of the key that sent it (a hash, never the key);
-- a client's event id is unique within its key only, so the tables are rebuilt with (key_id, event_id) as the identity.
-- Events logged before this migration belong to key id '' (no key was recorded).

CREATE TABLE events_by_key (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  key_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  created_at INTEGER NOT NULL, -- ms since the epoch
  model_version TEXT NOT NULL,
  pixels BLOB NOT NULL, -- 784 bytes: round(value * 255)
  probabilities TEXT NOT NULL, -- JSON array: the model's softmax
  action INTEGER NOT NULL,
  propensity REAL NOT NULL,
  explored INTEGER NOT NULL,
  UNIQUE (key_id, event_id)
);

INSERT INTO events_by_key (seq, key_id, event_id, created_at, model_version, pixels, probabilities, action, propensity, explored)
SELECT seq, '', event_id, created_at, model_version, pixels, probabilities, action, propensity, explored FROM events;

-- At most one reward per event, from the key that made the prediction, never changed once written.
CREATE TABLE rewards_by_key (
  key_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  value REAL NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (key_id, event_id),
  FOREIGN KEY (key_id, event_id) REFERENCES events_by_key (key_id, event_id) ON DELETE CASCADE
);

INSERT INTO rewards_by_key (key_id, event_id, value, created_at) SELECT '', event_id, value, created_at FROM rewards;

DROP TABLE rewards;
DROP TABLE events;
ALTER TABLE events_by_key RENAME TO events;
ALTER TABLE rewards_by_key RENAME TO rewards;

-- Retention prunes by age.
CREATE INDEX events_created_at ON events (created_at);

-- The furthest cursor an export was asked to continue from: everything up to it has been read by the evolution, and
-- only that may be pruned.
CREATE TABLE export_progress (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  read_through INTEGER NOT NULL
);
