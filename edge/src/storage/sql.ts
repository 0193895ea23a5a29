// The SQL both stores speak: D1 and better-sqlite3 behind one small async interface, and the migrations runner.

export type SqlValue = string | number | null | Uint8Array;

export interface SqlStatement {
  sql: string;
  params: SqlValue[];
}

export interface SqlDatabase {
  all<Row>(sql: string, ...params: SqlValue[]): Promise<Row[]>;
  first<Row>(sql: string, ...params: SqlValue[]): Promise<Row | null>;
  /** Runs the statements as one transaction (a D1 batch); each one's count of changed rows. */
  transaction(statements: SqlStatement[]): Promise<number[]>;
}

/** The database or the blob store failed (unreachable, closed, locked, full): the API answers 503, never a wrong answer. */
export class StorageError extends Error {
  override name = 'StorageError';
}

/** Runs a storage call, turning whatever the driver throws into a StorageError that keeps the driver's message. */
export async function storageCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new StorageError(`${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** The same database, its failures as StorageError. */
export function guardedSql(db: SqlDatabase): SqlDatabase {
  return {
    all: (sql, ...params) => storageCall('database', () => db.all(sql, ...params)),
    first: (sql, ...params) => storageCall('database', () => db.first(sql, ...params)),
    transaction: (statements) => storageCall('database', () => db.transaction(statements)),
  };
}

export interface Migration {
  /** File name in edge/migrations, e.g. 0001_event_log_and_registry.sql */
  name: string;
  sql: string;
}

/** Splits a migration file into statements: comments dropped, split at `;` ending a line. */
function sqlStatements(sql: string): string[] {
  return sql
    .replace(/--.*$/gm, '')
    .split(/;\s*$/m)
    .map((statement) => statement.trim())
    .filter(Boolean);
}

/** Applies the migrations not yet applied, each in its own transaction, recorded in wrangler's d1_migrations table. */
export async function applyMigrations(db: SqlDatabase, migrations: Migration[]): Promise<string[]> {
  await db.transaction([
    {
      sql: 'CREATE TABLE IF NOT EXISTS d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)',
      params: [],
    },
  ]);
  const applied = new Set((await db.all<{ name: string }>('SELECT name FROM d1_migrations')).map((row) => row.name));
  const pending = [...migrations].sort((a, b) => a.name.localeCompare(b.name)).filter((m) => !applied.has(m.name));
  for (const migration of pending) {
    await db.transaction([
      ...sqlStatements(migration.sql).map((sql) => ({ sql, params: [] })),
      { sql: 'INSERT INTO d1_migrations (name) VALUES (?)', params: [migration.name] },
    ]);
  }
  return pending.map((m) => m.name);
}
