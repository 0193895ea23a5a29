// The model registry with the active model and the challenger remembered in memory, so a prediction reads neither from
// the database. Every change to the registry made through this object forgets what it remembered as soon as the change
// is committed, so the very next request through it sees the change. A change made elsewhere is seen within
// `maxAgeMs`, when a remembered record is read again:
// - the Node entry (one per process, reads shared among concurrent callers): another process on the same SQLite file
//   (a second server on the same directory, the sqlite3 shell);
// - the Workers entry (one per isolate, remembered by value: workerd ties a read's promise to the request that made
//   it, so concurrent requests each read for themselves until one read has come back): another isolate, where an admin
//   promoted or set the challenger. Each event logs the version that answered it and the challenger it was mixed
//   with, so a request served a second late by the old model is still logged truthfully, and the gate still judges a
//   candidate on the events logged with it.
import type { ActiveModelRecord, AddModelOutcome, ChallengerRecord, ModelRecord, ModelRegistry } from './types';
import type { ModelMetadata } from '@seed/runtime/engine';

/** How long a remembered record is served before it is read again (changes by another process). */
export const REGISTRY_CACHE_MS = 1000;

/**
 * One read remembered for `maxAgeMs`. Shared (Node): callers that ask while it runs share it. By value (Workers): only
 * a read that has come back is remembered. A read that fails is never remembered, nor one begun before a forget().
 */
class RememberedRead<T> {
  private readonly read: () => Promise<T>;
  private readonly maxAgeMs: number;
  private readonly shared: boolean;
  private current: { at: number; value: Promise<T> } | null = null;
  /** Counts forget() calls: a by-value read remembers its answer only if none came between its start and its end. */
  private generation = 0;

  constructor(read: () => Promise<T>, maxAgeMs: number, shared: boolean) {
    this.read = read;
    this.maxAgeMs = maxAgeMs;
    this.shared = shared;
  }

  get(): Promise<T> {
    const now = performance.now();
    if (this.current && now - this.current.at < this.maxAgeMs) return this.current.value;
    const value = this.read();
    if (this.shared) {
      const fresh = { at: now, value };
      this.current = fresh;
      value.catch(() => {
        if (this.current === fresh) this.current = null;
      });
    } else {
      const generation = this.generation;
      value.then(
        (answer) => {
          // A promise already settled with a plain value: any request may await it.
          if (this.generation === generation) this.current = { at: now, value: Promise.resolve(answer) };
        },
        () => {},
      );
    }
    return value;
  }

  forget(): void {
    this.generation++;
    this.current = null;
  }
}

/** How reads are remembered: shared among concurrent callers (Node, the default) or by value only (Workers). */
export type RegistryReads = 'shared' | 'by-value';

export class CachedModelRegistry implements ModelRegistry {
  private readonly registry: ModelRegistry;
  private readonly activeRead: RememberedRead<ActiveModelRecord | null>;
  private readonly challengerRead: RememberedRead<ChallengerRecord | null>;
  private closed = false;

  constructor(registry: ModelRegistry, maxAgeMs = REGISTRY_CACHE_MS, reads: RegistryReads = 'shared') {
    this.registry = registry;
    this.activeRead = new RememberedRead(() => registry.active(), maxAgeMs, reads === 'shared');
    this.challengerRead = new RememberedRead(() => registry.challenger(), maxAgeMs, reads === 'shared');
  }

  /** Forgets everything and reads through from now on: after the database is closed, each read fails as it would. */
  close(): void {
    this.closed = true;
    this.forget();
  }

  active(): Promise<ActiveModelRecord | null> {
    return this.closed ? this.registry.active() : this.activeRead.get();
  }

  challenger(): Promise<ChallengerRecord | null> {
    return this.closed ? this.registry.challenger() : this.challengerRead.get();
  }

  private forget(): void {
    this.activeRead.forget();
    this.challengerRead.forget();
  }

  /**
   * A change: what was read before it committed (or failed) is forgotten once it has, reads still running included
   * (their callers, concurrent with the change, may still get the old record; later callers read again).
   */
  private async change<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      this.forget();
    }
  }

  add(metadata: ModelMetadata, file: Uint8Array, now: number): Promise<AddModelOutcome> {
    return this.change(() => this.registry.add(metadata, file, now));
  }

  promote(version: string, now: number): Promise<ActiveModelRecord | null> {
    return this.change(() => this.registry.promote(version, now));
  }

  rollback(now: number): Promise<ActiveModelRecord | null> {
    return this.change(() => this.registry.rollback(now));
  }

  setChallenger(version: string, share: number, now: number): Promise<ChallengerRecord | null> {
    return this.change(() => this.registry.setChallenger(version, share, now));
  }

  clearChallenger(): Promise<boolean> {
    return this.change(() => this.registry.clearChallenger());
  }

  get(version: string): Promise<ModelRecord | null> {
    return this.registry.get(version);
  }

  list(): Promise<ModelRecord[]> {
    return this.registry.list();
  }

  weights(version: string): Promise<Uint8Array<ArrayBuffer> | null> {
    return this.registry.weights(version);
  }
}
