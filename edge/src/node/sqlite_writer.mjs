// The Node entry's SQLite writer, on its own thread: it owns the connection every transaction commits through, so the
// fsync of one group runs while the main thread parses, infers and reads for the next (WAL lets both connections work
// at once). Plain JavaScript, so it starts the same under tsx, vitest and node.
//
// In:  { id, define: [[n, sql], …], group: [[[n, params], …], …] }: the transactions of one group, committed together
//      (one fsync); each statement names its SQL by a number, defined once (copying the same SQL text into every
//      message cost more than the rest of the message).
//      { close: true }: after the groups before it, close the connection and exit.
// Out: { id, outcomes: [{ changes: number[] } | { error: string }, …] }: each transaction's changed rows, or why it
//      was rolled back alone (it ran in a savepoint); { id, error }: the commit itself failed and nothing was written.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

const db = new Database(workerData.path);
db.pragma('journal_mode = WAL');
// Durability as the issue fixes it: every commit reaches the disk before its callers are answered.
db.pragma('synchronous = FULL');
db.pragma('foreign_keys = ON');
db.pragma('busy_timeout = 5000');

// The SQL each number names, prepared when first run (a migration creates a table and fills it in one transaction,
// so its later statements prepare only after the earlier ones ran).
const sqlText = new Map();
const statements = new Map();
const prepared = (n) => {
  let statement = statements.get(n);
  if (!statement) statements.set(n, (statement = db.prepare(sqlText.get(n))));
  return statement;
};
// better-sqlite3 binds a BLOB from a Buffer only; a Uint8Array arrives from the main thread.
const bind = (params) => params.map((p) => (p instanceof Uint8Array ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p));
// Nested inside the group's transaction, db.transaction runs as a savepoint: one failing transaction rolls back alone.
const runAll = db.transaction((batch) => batch.map(([n, params]) => prepared(n).run(...bind(params)).changes));
const commitGroup = db.transaction((group) =>
  group.map((batch) => {
    try {
      return { changes: runAll(batch) };
    } catch (error) {
      return { error: error instanceof Error ? error.message : String(error) };
    }
  }),
);

parentPort.on('message', (message) => {
  if (message.close) {
    db.close();
    parentPort.close();
    return;
  }
  try {
    for (const [n, sql] of message.define) sqlText.set(n, sql);
    parentPort.postMessage({ id: message.id, outcomes: commitGroup(message.group) });
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) });
  }
});
parentPort.postMessage({ ready: true });
