-- What each event was logged under, so an off-policy estimate can use exact probabilities and leave greedy answers out.
-- The exploration policy (`epsilon:0.1`, `softmax:1:0.1`, `greedy` for explore:false); NULL for events logged before.
ALTER TABLE events ADD COLUMN exploration TEXT;
-- JSON array: the whole distribution the action was drawn from (the challenger mixture when one served).
ALTER TABLE events ADD COLUMN logging_probabilities TEXT;
-- The challenger mixed in, and its share for this image (0 where it agreed with the active model).
ALTER TABLE events ADD COLUMN challenger_version TEXT;
ALTER TABLE events ADD COLUMN challenger_share REAL NOT NULL DEFAULT 0;

-- At most one challenger: a candidate served on a share of the traffic where it disagrees with the active model.
CREATE TABLE challenger (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version TEXT NOT NULL REFERENCES models (version),
  share REAL NOT NULL,
  set_at INTEGER NOT NULL -- ms since the epoch
);
