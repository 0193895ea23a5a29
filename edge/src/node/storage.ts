// Node storage: SQLite through better-sqlite3 for the rows, a folder for the weights; the same SQL as D1.
import { mkdir, open, readFile, readdir, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { CachedModelRegistry } from '../storage/cached_registry';
import { SqlEventLog } from '../storage/event_log';
import { SqlModelRegistry } from '../storage/model_registry';
import { applyMigrations, type Migration, type SqlDatabase, type SqlStatement, type SqlValue } from '../storage/sql';
import type { BlobStore, Storage } from '../storage/types';

export const MIGRATIONS_DIR = new URL('../../migrations/', import.meta.url);

/** The transactions of one group, each as its statements; a group commits as one SQLite transaction (one fsync). */
type Group = SqlStatement[][];
/** A transaction's changed rows per statement, or why it alone was rolled back (it ran in a savepoint). */
type Outcome = { changes: number[] } | { error: unknown };

/**
 * Reads on `db`; transactions committed in groups, by `commitGroup` when given (the writer thread), else on `db` on
 * this thread.
 */
export function sqliteSql(db: Database.Database, commitGroup: (group: Group) => Promise<Outcome[]> = inlineCommitter(db)): SqliteSql {
  const prepare = statementCache(db);
  return {
    all: async <Row>(sql: string, ...params: SqlValue[]) => prepare(sql).all(...bind(params)) as Row[],
    first: async <Row>(sql: string, ...params: SqlValue[]) => (prepare(sql).get(...bind(params)) as Row | undefined) ?? null,
    ...groupCommit(commitGroup),
  };
}

export interface SqliteSql extends SqlDatabase {
  /** Resolves once every transaction asked for so far is committed (or refused). */
  drain(): Promise<void>;
}

/** Prepares each SQL text once. */
function statementCache(db: Database.Database): (sql: string) => Database.Statement {
  const statements = new Map<string, Database.Statement>();
  return (sql) => {
    let statement = statements.get(sql);
    if (!statement) statements.set(sql, (statement = db.prepare(sql)));
    return statement;
  };
}

// better-sqlite3 binds a BLOB from a Buffer only.
const bind = (params: SqlValue[]) => params.map((p) => (p instanceof Uint8Array ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p));

/** Commits a group on this thread: the fsync holds the event loop. Each transaction runs nested, as a savepoint. */
function inlineCommitter(db: Database.Database): (group: Group) => Promise<Outcome[]> {
  const prepare = statementCache(db);
  const runAll = db.transaction((batch: SqlStatement[]) => batch.map((s) => prepare(s.sql).run(...bind(s.params)).changes));
  const commit = db.transaction((group: Group): Outcome[] =>
    group.map((batch) => {
      try {
        return { changes: runAll(batch) };
      } catch (error) {
        return { error };
      }
    }),
  );
  return async (group) => commit(group);
}

interface QueuedTransaction {
  statements: SqlStatement[];
  resolve(changes: number[]): void;
  reject(error: unknown): void;
}

/**
 * Group commit: transactions asked for while no group is committing wait for the end of this turn of the event loop
 * (every request already read joins them); those asked for while a group commits join the next group, sent as soon as
 * that one is done. Each caller is answered only after its group's commit, and keeps its own all-or-nothing: one that
 * fails is rolled back and rejected alone. If the commit itself fails, every caller in the group is rejected and none
 * was answered.
 */
function groupCommit(commitGroup: (group: Group) => Promise<Outcome[]>): Pick<SqliteSql, 'transaction' | 'drain'> {
  let queued: QueuedTransaction[] = [];
  let drained: (() => void)[] = [];
  let committing = false;
  let scheduled = false;
  const commit = async () => {
    scheduled = false;
    if (committing || queued.length === 0) return;
    const group = queued;
    queued = [];
    committing = true;
    try {
      const outcomes = await commitGroup(group.map((t) => t.statements));
      outcomes.forEach((outcome, i) => ('error' in outcome ? group[i].reject(outcome.error) : group[i].resolve(outcome.changes)));
    } catch (error) {
      for (const transaction of group) transaction.reject(error);
    } finally {
      committing = false;
      if (queued.length > 0) schedule();
      else for (const resolve of drained.splice(0)) resolve();
    }
  };
  // setImmediate runs after this turn's I/O callbacks.
  const schedule = () => {
    if (!scheduled) {
      scheduled = true;
      setImmediate(commit);
    }
  };
  return {
    transaction: (statements) =>
      new Promise<number[]>((resolve, reject) => {
        queued.push({ statements, resolve, reject });
        if (!committing) schedule();
      }),
    drain: () => (queued.length === 0 && !committing ? Promise.resolve() : new Promise<void>((resolve) => drained.push(resolve))),
  };
}

interface WriterThread {
  commit(group: Group): Promise<Outcome[]>;
  /** Commits what was sent, then closes the writer's connection and ends the thread. */
  close(): Promise<void>;
}

const WRITER_SCRIPT = new URL('./sqlite_writer.mjs', import.meta.url);

type WriterMessage = { ready: true } | { id: number; outcomes: ({ changes: number[] } | { error: string })[] } | { id: number; error: string };

/**
 * The writer connection on its own thread (sqlite_writer.mjs). It keeps the process alive only while a group is
 * waiting for its commit; if the thread dies, every waiting and later transaction is rejected (a 503, never a lie).
 */
async function startWriterThread(path: string): Promise<WriterThread> {
  const worker = new Worker(WRITER_SCRIPT, { workerData: { path } });
  const waiting = new Map<number, { resolve(outcomes: Outcome[]): void; reject(error: unknown): void }>();
  let nextId = 0;
  let broken: Error | null = null;
  const fail = (error: Error) => {
    broken ??= error;
    for (const { reject } of waiting.values()) reject(broken);
    waiting.clear();
  };
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  worker.on('message', (message: WriterMessage) => {
    if ('ready' in message) return;
    const caller = waiting.get(message.id);
    waiting.delete(message.id);
    if (waiting.size === 0) worker.unref();
    if (!caller) return;
    if ('error' in message) caller.reject(new Error(message.error));
    else caller.resolve(message.outcomes.map((outcome) => ('error' in outcome ? { error: new Error(outcome.error) } : outcome)));
  });
  worker.on('error', (error) => fail(error));
  worker.on('exit', (code) => fail(new Error(`the SQLite writer thread has stopped (exit code ${code})`)));
  worker.unref();
  // Statements travel as [number of their SQL, params]; the SQL text crosses once, in `define`.
  const sqlNumbers = new Map<string, number>();
  return {
    commit: (group) => {
      if (broken) return Promise.reject(broken);
      const define: [number, string][] = [];
      const numbered = group.map((batch) =>
        batch.map(({ sql, params }): [number, SqlValue[]] => {
          let n = sqlNumbers.get(sql);
          if (n === undefined) {
            sqlNumbers.set(sql, (n = sqlNumbers.size));
            define.push([n, sql]);
          }
          return [n, params];
        }),
      );
      return new Promise<Outcome[]>((resolve, reject) => {
        const id = nextId++;
        waiting.set(id, { resolve, reject });
        worker.ref();
        worker.postMessage({ id, define, group: numbered });
      });
    },
    close: async () => {
      if (broken) return;
      broken = new Error('the database is closed');
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.ref();
      worker.postMessage({ close: true });
      await exited;
    },
  };
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
  /** Commits what was already asked for, then closes; later calls fail (a 503 from the API). */
  close(): Promise<void>;
}

export interface SqliteConnection {
  sql: SqlDatabase;
  /** Commits what was already asked for, then closes both connections; later calls fail. */
  close(): Promise<void>;
}

/**
 * Opens (or creates) a SQLite file in WAL with full sync: a crash loses no answered transaction and never corrupts the
 * file. Reads run on this thread's connection; transactions commit in groups on the writer thread's connection
 * (WAL lets this one read meanwhile), so a group's fsync no longer holds the event loop.
 */
export async function openSqlite(path: string): Promise<SqliteConnection> {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  let writer: WriterThread;
  try {
    writer = await startWriterThread(path);
  } catch (error) {
    db.close();
    throw error;
  }
  const sql = sqliteSql(db, writer.commit);
  let closing: Promise<void> | null = null;
  return {
    sql: {
      ...sql,
      transaction: (statements) => (closing ? Promise.reject(new Error('the database is closed')) : sql.transaction(statements)),
    },
    close: () =>
      (closing ??= (async () => {
        await sql.drain();
        db.close();
        await writer.close();
      })()),
  };
}

/**
 * Opens (or creates) `dataDir/seed.sqlite` and `dataDir/weights/`, applying pending migrations. The process owns the
 * directory: the active model and challenger are remembered in memory (storage/cached_registry.ts), forgotten on each
 * change made through this storage, and read again at most a second after a change by another process.
 */
export async function openNodeStorage(dataDir: string): Promise<NodeStorage> {
  await mkdir(dataDir, { recursive: true });
  const { sql, close } = await openSqlite(join(dataDir, 'seed.sqlite'));
  try {
    await applyMigrations(sql, await readMigrations());
  } catch (error) {
    await close();
    throw error;
  }
  const models = new CachedModelRegistry(new SqlModelRegistry(sql, fileBlobs(join(dataDir, 'weights'))));
  return {
    events: new SqlEventLog(sql),
    models,
    close: () => {
      models.close();
      return close();
    },
  };
}
