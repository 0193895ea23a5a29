// Node storage: SQLite through better-sqlite3 for the rows, a folder for the weights; the same SQL as D1.
import { mkdir, open, readFile, readdir, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { SqlEventLog } from '../storage/event_log';
import { SqlModelRegistry } from '../storage/model_registry';
import { applyMigrations, type Migration, type SqlDatabase, type SqlStatement, type SqlValue } from '../storage/sql';
import type { BlobStore, Storage } from '../storage/types';

export const MIGRATIONS_DIR = new URL('../../migrations/', import.meta.url);

export function sqliteSql(db: Database.Database): SqlDatabase {
  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string) => {
    let statement = statements.get(sql);
    if (!statement) statements.set(sql, (statement = db.prepare(sql)));
    return statement;
  };
  // better-sqlite3 binds a BLOB from a Buffer only.
  const bind = (params: SqlValue[]) => params.map((p) => (p instanceof Uint8Array ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p));
  const runAll = db.transaction((batch: SqlStatement[]) => batch.map((s) => prepare(s.sql).run(...bind(s.params)).changes));
  return {
    all: async <Row>(sql: string, ...params: SqlValue[]) => prepare(sql).all(...bind(params)) as Row[],
    first: async <Row>(sql: string, ...params: SqlValue[]) => (prepare(sql).get(...bind(params)) as Row | undefined) ?? null,
    transaction: groupCommit(db, runAll),
  };
}

interface QueuedTransaction {
  statements: SqlStatement[];
  resolve(changes: number[]): void;
  reject(error: unknown): void;
}

/**
 * Group commit: the transactions asked for in one turn of the event loop (predictions and rewards arriving together)
 * commit as one SQLite transaction, so one fsync, and each caller is answered only after that commit. Each keeps its
 * own all-or-nothing: inside the group it runs in a savepoint (`runAll` nested), and one that fails is rolled back and
 * rejected alone. If the commit itself fails, every caller in the group is rejected and none was answered.
 */
function groupCommit(db: Database.Database, runAll: (statements: SqlStatement[]) => number[]): (statements: SqlStatement[]) => Promise<number[]> {
  let queued: QueuedTransaction[] = [];
  const commitGroup = db.transaction((group: QueuedTransaction[]) =>
    group.map(({ statements }) => {
      try {
        return { changes: runAll(statements) };
      } catch (error) {
        return { error };
      }
    }),
  );
  const commit = () => {
    const group = queued;
    queued = [];
    let outcomes: ReturnType<typeof commitGroup>;
    try {
      outcomes = commitGroup(group);
    } catch (error) {
      for (const transaction of group) transaction.reject(error);
      return;
    }
    outcomes.forEach((outcome, i) => ('error' in outcome ? group[i].reject(outcome.error) : group[i].resolve(outcome.changes)));
  };
  return (statements) =>
    new Promise<number[]>((resolve, reject) => {
      // setImmediate runs after this turn's I/O callbacks: every request already read joins the group.
      if (queued.push({ statements, resolve, reject }) === 1) setImmediate(commit);
    });
}

/** Flushes a file, or a folder's entries, to disk. */
async function flush(path: string, bytes?: Uint8Array): Promise<void> {
  const handle = await open(path, bytes ? 'w' : 'r');
  try {
    if (bytes) await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Weights as files under a folder: written to a temporary name, flushed, then renamed, so a crash leaves no torn file. */
export function fileBlobs(folder: string): BlobStore {
  return {
    async put(key, bytes) {
      const path = join(folder, key);
      await mkdir(dirname(path), { recursive: true });
      await flush(`${path}.partial`, bytes);
      await rename(`${path}.partial`, path);
      // The rename reaches the disk before the registry row that points to the file is written.
      await flush(dirname(path));
    },
    async get(key) {
      try {
        return new Uint8Array(await readFile(join(folder, key)));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
  };
}

export async function readMigrations(folder: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await readdir(folder)).filter((name) => name.endsWith('.sql')).sort();
  return Promise.all(names.map(async (name) => ({ name, sql: await readFile(new URL(name, folder), 'utf8') })));
}

export interface NodeStorage extends Storage {
  close(): void;
}

/** Opens (or creates) `dataDir/seed.sqlite` and `dataDir/weights/`, applying pending migrations. */
export async function openNodeStorage(dataDir: string): Promise<NodeStorage> {
  await mkdir(dataDir, { recursive: true });
  const db = new Database(join(dataDir, 'seed.sqlite'));
  // WAL with full sync: a crash loses no answered prediction and never corrupts the file.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const sql = sqliteSql(db);
  await applyMigrations(sql, await readMigrations());
  return {
    events: new SqlEventLog(sql),
    models: new SqlModelRegistry(sql, fileBlobs(join(dataDir, 'weights'))),
    close: () => db.close(),
  };
}
