// Storage behind interfaces: the event log and the model registry, on D1 + R2 (Workers) or SQLite + files (Node).
import type { LayerSpec, ModelMetadata } from '@seed/runtime/engine';

/** One prediction as logged, before it is answered. */
export interface PredictionEvent {
  /** The id of the key that asked (see auth.ts keyIdOf): event ids are unique within a key. */
  keyId: string;
  eventId: string;
  /** ms since the epoch */
  time: number;
  modelVersion: string;
  /** The image, quantised: round(value · 255), 784 bytes. */
  pixels: Uint8Array;
  probabilities: number[];
  action: number;
  propensity: number;
  explored: boolean;
  /** The exploration policy the action was drawn under (`epsilon:0.1`, `greedy`, …); null for events logged before it was recorded. */
  exploration: string | null;
  /** The whole distribution the action was drawn from (the challenger mixture when one served); null before it was recorded. */
  loggingProbabilities: number[] | null;
  /** The challenger whose policy was mixed in, and its share for this image (0 where it agreed with the active model). */
  challengerVersion: string | null;
  challengerShare: number;
}

/** An event as exported: joined with its reward, or the default one once the wait has passed. */
export interface ExportedEvent extends PredictionEvent {
  cursor: string;
  reward: number;
  rewardSource: 'client' | 'default';
}

export interface RewardRules {
  waitMs: number;
  defaultReward: number;
}

export type RewardOutcome = 'recorded' | 'repeated' | 'conflict' | 'unknown_event' | 'window_closed';

export interface EventExport {
  /** Cursor after the last event of this export; equal to the one asked for when there is nothing new. */
  nextCursor: string;
  events: AsyncIterable<ExportedEvent>;
}

export interface ModelStats {
  modelVersion: string;
  predictions: number;
  rewards: number;
  /** Mean over client rewards and the default reward of events past the wait; null when none is settled. */
  rewardMean: number | null;
}

export interface PruneOutcome {
  events: number;
  rewards: number;
}

export interface EventLog {
  /** The key's logged events among these ids. */
  find(keyId: string, eventIds: string[]): Promise<Map<string, PredictionEvent>>;
  /** Logs the events in one transaction; an id already logged under the same key keeps its first event. Returns what is logged, in order. */
  append(events: PredictionEvent[]): Promise<PredictionEvent[]>;
  /** Records the key's reward for its own event while the wait is open; another key's event is `unknown_event`. */
  reward(keyId: string, eventId: string, value: number, now: number, waitMs: number): Promise<RewardOutcome>;
  /**
   * Events after the cursor in log order, stopping before the first one still waiting for its reward. Asking from a
   * cursor records that everything up to it has been read (what retention may prune).
   */
  exportAfter(cursor: string, limit: number, now: number, rules: RewardRules): Promise<EventExport>;
  statsByModel(now: number, rules: RewardRules): Promise<ModelStats[]>;
  /** Deletes events (and their rewards) logged before `before` that an export has already read past. */
  prune(before: number): Promise<PruneOutcome>;
}

export interface ModelRecord {
  version: string;
  /** sha256 of the tensor data, as the file's metadata says. */
  sha256: string;
  fileSha256: string;
  parent: string;
  created: string;
  metrics: Record<string, unknown>;
  architecture: LayerSpec[];
  sizeBytes: number;
  /** ms since the epoch */
  uploadedAt: number;
}

export interface ActiveModelRecord extends ModelRecord {
  /** ms since the epoch */
  promotedAt: number;
}

/** A candidate served beside the active model on a share of the traffic where the two disagree. */
export interface ChallengerRecord extends ModelRecord {
  share: number;
  /** ms since the epoch */
  setAt: number;
}

/** `conflict`: the version is taken by a different file. */
export type AddModelOutcome = { outcome: 'added' | 'exists' | 'conflict'; model: ModelRecord };

export interface ModelRegistry {
  /** Stores a verified file: its weights first, then the row that points to them. */
  add(metadata: ModelMetadata, file: Uint8Array, now: number): Promise<AddModelOutcome>;
  get(version: string): Promise<ModelRecord | null>;
  list(): Promise<ModelRecord[]>;
  active(): Promise<ActiveModelRecord | null>;
  /** The new active model, or null for an unknown version. */
  promote(version: string, now: number): Promise<ActiveModelRecord | null>;
  /** Undoes the newest promotion; null when no earlier model is left to go back to. */
  rollback(now: number): Promise<ActiveModelRecord | null>;
  weights(version: string): Promise<Uint8Array<ArrayBuffer> | null>;
  challenger(): Promise<ChallengerRecord | null>;
  /** Sets (or replaces) the challenger; null for an unknown version. */
  setChallenger(version: string, share: number, now: number): Promise<ChallengerRecord | null>;
  /** Clears the challenger; false when none was set. */
  clearChallenger(): Promise<boolean>;
}

/** Weights files by key: an R2 bucket or a folder. */
export interface BlobStore {
  /** Stores the bytes; `sha256` lets the store check them on the way in. */
  put(key: string, bytes: Uint8Array, sha256: string): Promise<void>;
  get(key: string): Promise<Uint8Array<ArrayBuffer> | null>;
}

export interface Storage {
  events: EventLog;
  models: ModelRegistry;
}
