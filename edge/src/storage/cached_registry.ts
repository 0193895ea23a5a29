// The model registry with the active model and the challenger remembered in memory, so a prediction reads neither from
// the database. For the Node entry, whose process owns its data directory: every change to the registry goes through
// this object, which forgets what it remembered as soon as the change is committed, so the very next request sees it.
// A change made to the same SQLite file by another process (a second server on the same directory, the sqlite3 shell)
// is seen within `maxAgeMs`, when a remembered record is read again. Not used on Workers: there each isolate would keep
// its own copy, and a promotion through one isolate would leave the others serving the old model.
import type { ActiveModelRecord, AddModelOutcome, ChallengerRecord, ModelRecord, ModelRegistry } from './types';
import type { ModelMetadata } from '@seed/runtime/engine';

/** How long a remembered record is served before it is read again (changes by another process). */
export const REGISTRY_CACHE_MS = 1000;

/** One read remembered for `maxAgeMs`: callers that ask meanwhile share it; a read that fails is not remembered. */
class RememberedRead<T> {
  private readonly read: () => Promise<T>;
  private readonly maxAgeMs: number;
  private current: { at: number; value: Promise<T> } | null = null;

  constructor(read: () => Promise<T>, maxAgeMs: number) {
    this.read = read;
    this.maxAgeMs = maxAgeMs;
  }

  get(): Promise<T> {
    const now = performance.now();
    if (this.current && now - this.current.at < this.maxAgeMs) return this.current.value;
    const fresh = { at: now, value: this.read() };
    this.current = fresh;
    fresh.value.catch(() => {
      if (this.current === fresh) this.current = null;
    });
    return fresh.value;
  }

  forget(): void {
    this.current = null;
  }
}

export class CachedModelRegistry implements ModelRegistry {
  private readonly registry: ModelRegistry;
  private readonly activeRead: RememberedRead<ActiveModelRecord | null>;
  private readonly challengerRead: RememberedRead<ChallengerRecord | null>;
  private closed = false;

  constructor(registry: ModelRegistry, maxAgeMs = REGISTRY_CACHE_MS) {
    this.registry = registry;
    this.activeRead = new RememberedRead(() => registry.active(), maxAgeMs);
    this.challengerRead = new RememberedRead(() => registry.challenger(), maxAgeMs);
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
