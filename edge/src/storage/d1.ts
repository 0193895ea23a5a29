// Workers storage: D1 for the event log and registry rows, R2 for the weights.
import type { D1Database, R2Bucket } from '@cloudflare/workers-types';
import { SqlEventLog } from './event_log';
import { SqlModelRegistry } from './model_registry';
import type { SqlDatabase, SqlValue } from './sql';
import type { BlobStore, Storage } from './types';

export function d1Sql(db: D1Database): SqlDatabase {
  const prepare = (sql: string, params: SqlValue[]) => db.prepare(sql).bind(...params);
  return {
    all: async <Row>(sql: string, ...params: SqlValue[]) => (await prepare(sql, params).all<Row>()).results,
    first: <Row>(sql: string, ...params: SqlValue[]) => prepare(sql, params).first<Row>(),
    transaction: async (statements) => (await db.batch(statements.map((s) => prepare(s.sql, s.params)))).map((result) => result.meta.changes),
  };
}

export function r2Blobs(bucket: R2Bucket): BlobStore {
  return {
    async put(key, bytes, sha256) {
      await bucket.put(key, bytes, { sha256 });
    },
    async get(key) {
      const object = await bucket.get(key);
      return object && new Uint8Array(await object.arrayBuffer());
    },
  };
}

export function d1Storage(db: D1Database, weights: R2Bucket): Storage {
  const sql = d1Sql(db);
  return { events: new SqlEventLog(sql), models: new SqlModelRegistry(sql, r2Blobs(weights)) };
}
