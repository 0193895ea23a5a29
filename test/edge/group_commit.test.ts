// The Node entry's group commit: transactions asked for together commit together, each keeps its own all-or-nothing,
// and each caller hears back only once its rows are committed.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { sqliteSql } from '@seed/edge/node';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { temporaryDir } from './support';

let dir: Awaited<ReturnType<typeof temporaryDir>>;
let db: Database.Database;
beforeEach(async () => {
  dir = await temporaryDir('group-commit');
  db = new Database(join(dir.path, 'test.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
});
afterEach(async () => {
  db.close();
  await dir.remove();
});

const insert = (id: number, v: string | null) => ({ sql: 'INSERT INTO t (id, v) VALUES (?, ?) ON CONFLICT (id) DO NOTHING', params: [id, v] });

it('transactions asked for in one turn commit as one group, and every row is there when its caller hears back', async () => {
  const sql = sqliteSql(db);
  // Another connection sees the rows only once they are committed.
  const reader = new Database(join(dir.path, 'test.sqlite'), { readonly: true });
  const committed = () => (reader.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
  const asked = Array.from({ length: 50 }, (_, i) => sql.transaction([insert(i, `a${i}`), insert(1000 + i, `b${i}`)]));
  expect(committed()).toBe(0);
  const seenAtAnswer: number[] = [];
  await Promise.all(asked.map((p) => p.then(() => seenAtAnswer.push(committed()))));
  expect(seenAtAnswer).toEqual(Array(50).fill(100));
  expect(await Promise.all(asked)).toEqual(Array(50).fill([1, 1]));
  expect(await sql.transaction([insert(3, 'again')])).toEqual([0]);
  reader.close();
});

it('a transaction that fails in a group is rolled back and rejected alone; the others commit', async () => {
  const sql = sqliteSql(db);
  const results = await Promise.allSettled([
    sql.transaction([insert(1, 'one')]),
    sql.transaction([insert(2, 'two'), insert(3, null)]), // NOT NULL: the whole transaction goes, row 2 with it
    sql.transaction([insert(4, 'four')]),
  ]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/NOT NULL/);
  expect(db.prepare('SELECT id FROM t ORDER BY id').all()).toEqual([{ id: 1 }, { id: 4 }]);
});
