-- The one schema for D1 (applied by `wrangler d1 migrations apply`) and SQLite (applied by the Node entry).

-- Every prediction, logged before it is answered.
CREATE TABLE events (
  -- Export order and cursor: writers are serialised (SQLite, D1), so a larger seq never commits before a smaller one.
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL, -- ms since the epoch
  model_version TEXT NOT NULL,
  pixels BLOB NOT NULL, -- 784 bytes: round(value * 255)
  probabilities TEXT NOT NULL, -- JSON array: the model's softmax
  action INTEGER NOT NULL,
  propensity REAL NOT NULL,
  explored INTEGER NOT NULL
);

-- At most one reward per event, never changed once written.
CREATE TABLE rewards (
  event_id TEXT PRIMARY KEY REFERENCES events (event_id),
  value REAL NOT NULL,
  created_at INTEGER NOT NULL
);

-- Verified weights files; the bytes live in R2 (or files) under weights_key, written before the row.
CREATE TABLE models (
  version TEXT PRIMARY KEY,
  sha256 TEXT NOT NULL, -- of the tensor data, as in the file's metadata
  file_sha256 TEXT NOT NULL, -- of the whole file
  parent TEXT NOT NULL,
  created TEXT NOT NULL,
  metrics TEXT NOT NULL, -- JSON object
  architecture TEXT NOT NULL, -- JSON layer list
  size_bytes INTEGER NOT NULL,
  weights_key TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL
);

-- Promotion history: the active model is the newest promotion not rolled back.
CREATE TABLE promotions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  version TEXT NOT NULL REFERENCES models (version),
  promoted_at INTEGER NOT NULL,
  rolled_back_at INTEGER
);
