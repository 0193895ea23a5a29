// The Node entry's group commit, on this thread and on the writer thread: transactions asked for together commit
// together, each keeps its own all-or-nothing, each caller hears back only once its rows are committed, and closing
// commits what was asked for first.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { openSqlite, sqliteSql } from '@seed/edge/node';
import type { SqlDatabase } from '@seed/edge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { temporaryDir } from './support';

const insert = (id: number, v: string | null) => ({ sql: 'INSERT INTO t (id, v) VALUES (?, ?) ON CONFLICT (id) DO NOTHING', params: [id, v] });

interface Opened {
  sql: SqlDatabase;
  close(): Promise<void>;
}

describe.each([
  ['on this thread', (path: string): Promise<Opened> => {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    const sql = sqliteSql(db);
    let closed = false;
    return Promise.resolve({
      sql: { ...sql, transaction: (statements) => (closed ? Promise.reject(new Error('closed')) : sql.transaction(statements)) },
      close: async () => {
        closed = true;
        await sql.drain();
        db.close();
      },
    });
  }],
  ['on the writer thread', (path: string): Promise<Opened> => openSqlite(path)],
])('group commit %s', (_, open) => {
  let dir: Awaited<ReturnType<typeof temporaryDir>>;
  let path: string;
  let opened: Opened;
  // Another connection sees the rows only once they are committed.
  let reader: Database.Database;
  beforeEach(async () => {
    dir = await temporaryDir('group-commit');
    path = join(dir.path, 'test.sqlite');
    const setup = new Database(path);
    setup.pragma('journal_mode = WAL');
    setup.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    setup.close();
    opened = await open(path);
    reader = new Database(path, { readonly: true });
  });
  afterEach(async () => {
    reader.close();
    await opened.close().catch(() => undefined);
    await dir.remove();
  });
  const committed = () => (reader.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;

  it('transactions asked for in one turn commit together, and every row is there when its caller hears back', async () => {
    const { sql } = opened;
    const asked = Array.from({ length: 50 }, (_, i) => sql.transaction([insert(i, `a${i}`), insert(1000 + i, `b${i}`)]));
    expect(committed()).toBe(0);
    const seenAtAnswer: number[] = [];
    await Promise.all(asked.map((p) => p.then(() => seenAtAnswer.push(committed()))));
    expect(seenAtAnswer).toEqual(Array(50).fill(100));
    expect(await Promise.all(asked)).toEqual(Array(50).fill([1, 1]));
    expect(await sql.transaction([insert(3, 'again')])).toEqual([0]);
    // Reads see what was committed.
    expect(await sql.first('SELECT v FROM t WHERE id = ?', 1049)).toEqual({ v: 'b49' });
  });

  it('transactions asked for while a group commits are committed too, each answered after its own rows', async () => {
    const { sql } = opened;
    const seen: [number, number][] = [];
    // Waves: each wave asks while the previous one may still be committing.
    const waves = await Promise.all(
      Array.from({ length: 5 }, async (_, wave) => {
        await new Promise((resolve) => setTimeout(resolve, wave));
        return Promise.all(
          Array.from({ length: 20 }, (_, i) => {
            const id = wave * 100 + i;
            return sql.transaction([insert(id, `w${wave}`)]).then((changes) => {
              seen.push([id, (reader.prepare('SELECT count(*) AS n FROM t WHERE id = ?').get(id) as { n: number }).n]);
              return changes;
            });
          }),
        );
      }),
    );
    expect(waves.flat()).toEqual(Array(100).fill([1]));
    expect(seen.every(([, n]) => n === 1)).toBe(true);
    expect(committed()).toBe(100);
  });

  it('a transaction that fails in a group is rolled back and rejected alone; the others commit', async () => {
    const { sql } = opened;
    const results = await Promise.allSettled([
      sql.transaction([insert(1, 'one')]),
      sql.transaction([insert(2, 'two'), insert(3, null)]), // NOT NULL: the whole transaction goes, row 2 with it
      sql.transaction([insert(4, 'four')]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/NOT NULL/);
    expect(reader.prepare('SELECT id FROM t ORDER BY id').all()).toEqual([{ id: 1 }, { id: 4 }]);
  });

  it('SQL that does not prepare fails only the transactions that use it, every time', async () => {
    const { sql } = opened;
    const bad = { sql: 'INSERT INTO no_such_table (id) VALUES (?)', params: [1] };
    for (let round = 0; round < 2; round++) {
      const results = await Promise.allSettled([sql.transaction([insert(10 + round, 'ok')]), sql.transaction([bad])]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
      expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/no such table/);
    }
    expect(committed()).toBe(2);
  });

  it('closing commits what was asked for before it; a transaction asked for after it fails', async () => {
    const { sql } = opened;
    const asked = Array.from({ length: 20 }, (_, i) => sql.transaction([insert(i, 'before close')]));
    await opened.close();
    expect(await Promise.all(asked)).toEqual(Array(20).fill([1]));
    expect(committed()).toBe(20);
    await expect(sql.transaction([insert(99, 'after close')])).rejects.toThrow();
    expect(committed()).toBe(20);
  });
});
