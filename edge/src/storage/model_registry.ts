// The model registry on SQL rows plus a blob store for the weights: one implementation for D1 + R2 and SQLite + files.
import { sha256Hex, type LayerSpec, type ModelMetadata } from '@seed/runtime/engine';
import type { ActiveModelRecord, AddModelOutcome, BlobStore, ChallengerRecord, ModelRecord, ModelRegistry } from './types';
import { guardedSql, storageCall, type SqlDatabase } from './sql';

interface ModelRow {
  version: string;
  sha256: string;
  file_sha256: string;
  parent: string;
  created: string;
  metrics: string;
  architecture: string;
  size_bytes: number;
  weights_key: string;
  uploaded_at: number;
}

const MODEL_COLUMNS = 'm.version, m.sha256, m.file_sha256, m.parent, m.created, m.metrics, m.architecture, m.size_bytes, m.weights_key, m.uploaded_at';
const ACTIVE_PROMOTION = 'SELECT max(seq) FROM promotions WHERE rolled_back_at IS NULL';

const toRecord = (row: ModelRow): ModelRecord => ({
  version: row.version,
  sha256: row.sha256,
  fileSha256: row.file_sha256,
  parent: row.parent,
  created: row.created,
  metrics: JSON.parse(row.metrics) as Record<string, unknown>,
  architecture: JSON.parse(row.architecture) as LayerSpec[],
  sizeBytes: row.size_bytes,
  uploadedAt: row.uploaded_at,
});

export class SqlModelRegistry implements ModelRegistry {
  private readonly db: SqlDatabase;
  private readonly blobs: BlobStore;

  constructor(db: SqlDatabase, blobs: BlobStore) {
    this.db = guardedSql(db);
    this.blobs = {
      put: (key, bytes, sha256) => storageCall('blob store', () => blobs.put(key, bytes, sha256)),
      get: (key) => storageCall('blob store', () => blobs.get(key)),
    };
  }

  async add(metadata: ModelMetadata, file: Uint8Array, now: number): Promise<AddModelOutcome> {
    const fileSha256 = await sha256Hex(file);
    const existing = await this.get(metadata.version);
    if (existing) return { outcome: existing.fileSha256 === fileSha256 ? 'exists' : 'conflict', model: existing };
    // Keyed by content, so a losing concurrent upload of the same version never overwrites the winner's weights.
    const weightsKey = `models/${metadata.version}/${fileSha256}.safetensors`;
    await this.blobs.put(weightsKey, file, fileSha256);
    const [inserted] = await this.db.transaction([
      {
        sql: `INSERT INTO models (version, sha256, file_sha256, parent, created, metrics, architecture, size_bytes, weights_key, uploaded_at)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (version) DO NOTHING`,
        params: [
          metadata.version,
          metadata.sha256,
          fileSha256,
          metadata.parent,
          metadata.created,
          JSON.stringify(metadata.metrics),
          JSON.stringify(metadata.architecture),
          file.length,
          weightsKey,
          now,
        ],
      },
    ]);
    const model = (await this.get(metadata.version)) as ModelRecord;
    if (inserted) return { outcome: 'added', model };
    return { outcome: model.fileSha256 === fileSha256 ? 'exists' : 'conflict', model };
  }

  async get(version: string): Promise<ModelRecord | null> {
    const row = await this.db.first<ModelRow>(`SELECT ${MODEL_COLUMNS} FROM models m WHERE m.version = ?`, version);
    return row && toRecord(row);
  }

  async list(): Promise<ModelRecord[]> {
    return (await this.db.all<ModelRow>(`SELECT ${MODEL_COLUMNS} FROM models m ORDER BY m.uploaded_at, m.version`)).map(toRecord);
  }

  async active(): Promise<ActiveModelRecord | null> {
    const row = await this.db.first<ModelRow & { promoted_at: number }>(
      `SELECT ${MODEL_COLUMNS}, p.promoted_at FROM promotions p JOIN models m ON m.version = p.version WHERE p.seq = (${ACTIVE_PROMOTION})`,
    );
    return row && { ...toRecord(row), promotedAt: row.promoted_at };
  }

  async promote(version: string, now: number): Promise<ActiveModelRecord | null> {
    const active = await this.active();
    if (active?.version === version) return active;
    const [promoted] = await this.db.transaction([
      { sql: 'INSERT INTO promotions (version, promoted_at) SELECT version, ? FROM models WHERE version = ?', params: [now, version] },
    ]);
    return promoted ? this.active() : null;
  }

  async rollback(now: number): Promise<ActiveModelRecord | null> {
    const [rolledBack] = await this.db.transaction([
      {
        sql: `UPDATE promotions SET rolled_back_at = ?
              WHERE seq = (${ACTIVE_PROMOTION}) AND (SELECT count(*) FROM promotions WHERE rolled_back_at IS NULL) > 1`,
        params: [now],
      },
    ]);
    return rolledBack ? this.active() : null;
  }

  async weights(version: string): Promise<Uint8Array<ArrayBuffer> | null> {
    const row = await this.db.first<{ weights_key: string }>('SELECT weights_key FROM models WHERE version = ?', version);
    return row && this.blobs.get(row.weights_key);
  }

  async challenger(): Promise<ChallengerRecord | null> {
    const row = await this.db.first<ModelRow & { share: number; set_at: number }>(
      `SELECT ${MODEL_COLUMNS}, c.share, c.set_at FROM challenger c JOIN models m ON m.version = c.version WHERE c.id = 1`,
    );
    return row && { ...toRecord(row), share: row.share, setAt: row.set_at };
  }

  async setChallenger(version: string, share: number, now: number): Promise<ChallengerRecord | null> {
    const [set] = await this.db.transaction([
      {
        sql: `INSERT INTO challenger (id, version, share, set_at) SELECT 1, version, ?, ? FROM models WHERE version = ?
              ON CONFLICT (id) DO UPDATE SET version = excluded.version, share = excluded.share, set_at = excluded.set_at`,
        params: [share, now, version],
      },
    ]);
    return set ? this.challenger() : null;
  }

  async clearChallenger(): Promise<boolean> {
    const [cleared] = await this.db.transaction([{ sql: 'DELETE FROM challenger WHERE id = 1', params: [] }]);
    return cleared > 0;
  }
}
