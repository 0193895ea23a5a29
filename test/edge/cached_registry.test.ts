// The registry cache (storage/cached_registry.ts): on the Node entry reads remembered and shared, forgotten on every
// change made through it, read again after a change by another process, and read through once closed; on Workers
// remembered by value only, so no request awaits a read another request started.
import { CachedModelRegistry, REGISTRY_CACHE_MS, type ActiveModelRecord, type ChallengerRecord, type ModelRegistry } from '@seed/edge';
import { openNodeStorage } from '@seed/edge/node';
import { readModel } from '@seed/runtime/engine';
import { afterEach, describe, expect, it } from 'vitest';
import { modelFile } from './fixtures';
import { temporaryDir } from './support';

/** A registry whose reads are counted and whose active version the test sets; a read can be made to fail. */
function countingRegistry() {
  const state = { version: 'v1', reads: 0, fail: false };
  const record = (version: string) => ({ version }) as ActiveModelRecord & ChallengerRecord;
  const read = async () => {
    state.reads++;
    if (state.fail) throw new Error('database is closed');
    return record(state.version);
  };
  const registry = {
    active: read,
    challenger: read,
    promote: async (version: string) => {
      state.version = version;
      return record(version);
    },
    rollback: async () => {
      throw new Error('rollback failed');
    },
  } as unknown as ModelRegistry;
  return { state, registry };
}

describe('CachedModelRegistry', () => {
  it('shares one read among concurrent callers and remembers it', async () => {
    const { state, registry } = countingRegistry();
    const cached = new CachedModelRegistry(registry);
    const answers = await Promise.all([cached.active(), cached.active(), cached.challenger()]);
    expect(answers.map((a) => a?.version)).toEqual(['v1', 'v1', 'v1']);
    expect((await cached.active())?.version).toBe('v1');
    expect(state.reads).toBe(2);
  });

  it('forgets on a change, also one that fails, and reads again after maxAgeMs', async () => {
    const { state, registry } = countingRegistry();
    const cached = new CachedModelRegistry(registry, 300);
    await cached.active();
    await cached.promote('v2', 0);
    expect((await cached.active())?.version).toBe('v2');
    // Changed behind its back, then a change through it that fails: forgotten all the same.
    state.version = 'v3';
    await expect(cached.rollback(0)).rejects.toThrow('rollback failed');
    expect((await cached.active())?.version).toBe('v3');
    // A change behind its back only (another process) is seen once the remembered read is older than maxAgeMs.
    state.version = 'v4';
    expect((await cached.active())?.version).toBe('v3');
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await cached.active())?.version).toBe('v4');
  });

  it('does not remember a failed read, and reads through once closed', async () => {
    const { state, registry } = countingRegistry();
    const cached = new CachedModelRegistry(registry);
    state.fail = true;
    await expect(cached.active()).rejects.toThrow('database is closed');
    state.fail = false;
    expect((await cached.active())?.version).toBe('v1');
    cached.close();
    state.fail = true;
    await expect(cached.active()).rejects.toThrow('database is closed');
    await expect(cached.challenger()).rejects.toThrow('database is closed');
  });
});

describe('CachedModelRegistry by value (the Workers entry)', () => {
  /** A registry whose reads wait until the test lets them finish, in the order they were made. */
  function gatedRegistry() {
    const state = { version: 'v1', reads: 0 };
    const waiting: (() => void)[] = [];
    const read = () =>
      new Promise<ActiveModelRecord>((resolve) => {
        state.reads++;
        const version = state.version;
        waiting.push(() => resolve({ version } as ActiveModelRecord));
      });
    const registry = {
      active: read,
      challenger: read,
      promote: async (version: string) => {
        state.version = version;
        return { version } as ActiveModelRecord;
      },
    } as unknown as ModelRegistry;
    const finish = async () => {
      for (const release of waiting.splice(0)) release();
      await new Promise((resolve) => setTimeout(resolve, 0));
    };
    return { state, registry, finish };
  }

  it('lets concurrent callers each read until one read has come back, then remembers its answer', async () => {
    const { state, registry, finish } = gatedRegistry();
    const cached = new CachedModelRegistry(registry, REGISTRY_CACHE_MS, 'by-value');
    const first = [cached.active(), cached.active()];
    expect(state.reads).toBe(2);
    await finish();
    expect((await Promise.all(first)).map((a) => a?.version)).toEqual(['v1', 'v1']);
    expect((await cached.active())?.version).toBe('v1');
    expect(state.reads).toBe(2);
  });

  it('does not remember a read begun before a change made through it', async () => {
    const { state, registry, finish } = gatedRegistry();
    const cached = new CachedModelRegistry(registry, REGISTRY_CACHE_MS, 'by-value');
    const before = cached.active();
    await cached.promote('v2', 0);
    await finish();
    expect((await before)?.version).toBe('v1');
    const after = cached.active();
    await finish();
    expect((await after)?.version).toBe('v2');
    expect(state.reads).toBe(2);
  });
});

describe('the Node storage on a data directory another process also writes', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it(`sees a promotion made through another connection within REGISTRY_CACHE_MS (${REGISTRY_CACHE_MS} ms)`, async () => {
    const dir = await temporaryDir('cached-registry');
    cleanup.push(dir.remove);
    const ours = await openNodeStorage(dir.path);
    cleanup.push(() => ours.close());
    const theirs = await openNodeStorage(dir.path);
    cleanup.push(() => theirs.close());
    for (const version of ['v1', 'v2']) {
      const file = await modelFile(version, version === 'v1' ? 1 : 2);
      await theirs.models.add((await readModel(file)).metadata, file, 0);
    }
    await ours.models.promote('v1', 1);
    expect((await ours.models.active())?.version).toBe('v1');
    const promoted = performance.now();
    await theirs.models.promote('v2', 2);
    let seen: string | undefined;
    while ((seen = (await ours.models.active())?.version) !== 'v2' && performance.now() - promoted < 3 * REGISTRY_CACHE_MS) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toBe('v2');
    // A margin for a busy machine: the bound is REGISTRY_CACHE_MS after the last read of the old record.
    expect(performance.now() - promoted).toBeLessThan(REGISTRY_CACHE_MS + 500);
  });
});
