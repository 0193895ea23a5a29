-- Per model version, what the registry listing and /metrics report: counted by triggers as events and rewards are
-- written (in the writing transaction), so reading them never groups the whole log.
CREATE TABLE model_counters (
  model_version TEXT PRIMARY KEY,
  predictions INTEGER NOT NULL DEFAULT 0,
  rewards INTEGER NOT NULL DEFAULT 0, -- client rewards
  reward_sum REAL NOT NULL DEFAULT 0 -- of the client rewards
);

-- The events still inside the reward wait, found without a scan: the only ones whose default reward is not settled.
CREATE INDEX events_created_at ON events (created_at);

-- Each trigger's inner statement ends mid-line: the Node entry splits a migration at a `;` that ends a line.
CREATE TRIGGER events_counted AFTER INSERT ON events BEGIN
  INSERT INTO model_counters (model_version, predictions) VALUES (NEW.model_version, 1)
  ON CONFLICT (model_version) DO UPDATE SET predictions = predictions + 1; END;

CREATE TRIGGER rewards_counted AFTER INSERT ON rewards BEGIN
  UPDATE model_counters SET rewards = rewards + 1, reward_sum = reward_sum + NEW.value
  WHERE model_version = (SELECT model_version FROM events WHERE event_id = NEW.event_id); END;

-- The log as it stands when this migration runs.
INSERT INTO model_counters (model_version, predictions, rewards, reward_sum)
SELECT e.model_version, count(*), count(r.event_id), coalesce(sum(r.value), 0)
FROM events e LEFT JOIN rewards r ON r.event_id = e.event_id
GROUP BY e.model_version;
