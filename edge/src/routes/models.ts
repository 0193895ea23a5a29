// The model registry: upload (verified before it is stored), listing, weights, promotion and rollback.
import { ModelFileError, readModel, type ModelFile, type ModelMetadata } from '@seed/runtime/engine';
import { Hono } from 'hono';
import { z } from 'zod';
import { forwardPassProblem, servingProblem } from '../active_model';
import type { AppEnv } from '../app_env';
import { requireRole } from '../auth';
import { ApiError } from '../errors';
import type { ActiveModelRecord, ModelRecord, ModelStats } from '../storage/types';
import { limitBody, MiB, validate, versionSchema } from '../validation';

const WEIGHTS_BODY_BYTES = 16 * MiB;

const versionParam = validate('param', z.object({ version: versionSchema }));

const modelJson = (model: ModelRecord, activeVersion: string | undefined) => ({
  version: model.version,
  sha256: model.sha256,
  fileSha256: model.fileSha256,
  parent: model.parent,
  created: model.created,
  metrics: model.metrics,
  architecture: model.architecture,
  sizeBytes: model.sizeBytes,
  uploadedAt: new Date(model.uploadedAt).toISOString(),
  active: model.version === activeVersion,
});

/** How a version did while it served: its predictions, client rewards, and mean reward over settled events. */
const onlineJson = (stats: ModelStats | undefined) => ({ predictions: stats?.predictions ?? 0, rewards: stats?.rewards ?? 0, rewardMean: stats?.rewardMean ?? null });

/** One version in the registry listing (GET /v1/models). */
export type ModelSummary = ReturnType<typeof modelJson> & { online: ReturnType<typeof onlineJson> };
export interface ModelListing {
  active: string | null;
  models: ModelSummary[];
}

const activeModelJson = (model: ActiveModelRecord) => ({ ...modelJson(model, model.version), promotedAt: new Date(model.promotedAt).toISOString() });

/**
 * The file's metadata once format, architecture, shapes, checksum and serving shape check out and a forward pass on
 * test images gives finite outputs; a 400 that says what is wrong otherwise.
 */
async function verifiedMetadata(file: Uint8Array): Promise<ModelMetadata> {
  let model: ModelFile;
  try {
    model = await readModel(file);
  } catch (error) {
    if (error instanceof ModelFileError) throw new ApiError(400, 'invalid_model', error.message);
    throw error;
  }
  const problem = servingProblem(model.network) ?? forwardPassProblem(model);
  if (problem) throw new ApiError(400, 'invalid_model', `weights file: ${problem}`);
  return model.metadata;
}

export const modelRoutes = new Hono<AppEnv>()
  .get('/model', async (c) => {
    const active = await c.var.storage.models.active();
    if (!active) throw new ApiError(404, 'no_model', 'no model is active');
    return c.json(activeModelJson(active));
  })
  .get('/models', requireRole('reader'), async (c) => {
    const { rewardWaitMs: waitMs, defaultReward } = c.var.settings;
    const [models, active, stats] = await Promise.all([
      c.var.storage.models.list(),
      c.var.storage.models.active(),
      c.var.storage.events.statsByModel(c.var.now(), { waitMs, defaultReward }),
    ]);
    const online = new Map(stats.map((entry) => [entry.modelVersion, entry]));
    const listing: ModelListing = {
      active: active?.version ?? null,
      models: models.map((model) => ({ ...modelJson(model, active?.version), online: onlineJson(online.get(model.version)) })),
    };
    return c.json(listing);
  })
  .get('/models/:version/weights', requireRole('reader'), versionParam, async (c) => {
    const { version } = c.req.valid('param');
    const [model, weights] = await Promise.all([c.var.storage.models.get(version), c.var.storage.models.weights(version)]);
    if (!model || !weights) throw new ApiError(404, 'unknown_model', `no model ${version} in the registry`);
    return c.body(weights, 200, {
      'Content-Type': 'application/octet-stream',
      'Content-Disposition': `attachment; filename="seed-${version}.safetensors"`,
      ETag: `"${model.fileSha256}"`,
    });
  })
  .put('/models/:version', requireRole('admin'), versionParam, limitBody(WEIGHTS_BODY_BYTES), async (c) => {
    const { version } = c.req.valid('param');
    const file = new Uint8Array(await c.req.arrayBuffer());
    const metadata = await verifiedMetadata(file);
    if (metadata.version !== version) throw new ApiError(400, 'version_mismatch', `the file says version ${JSON.stringify(metadata.version)}, the path ${JSON.stringify(version)}`);
    const { outcome, model } = await c.var.storage.models.add(metadata, file, c.var.now());
    if (outcome === 'conflict') throw new ApiError(409, 'version_exists', `version ${version} is already stored with different contents`);
    const active = await c.var.storage.models.active();
    return c.json(modelJson(model, active?.version), outcome === 'added' ? 201 : 200);
  })
  .post('/models/:version/promote', requireRole('admin'), versionParam, async (c) => {
    const { version } = c.req.valid('param');
    const active = await c.var.storage.models.promote(version, c.var.now());
    if (!active) throw new ApiError(404, 'unknown_model', `no model ${version} in the registry`);
    return c.json(activeModelJson(active));
  })
  .post('/rollback', requireRole('admin'), async (c) => {
    const active = await c.var.storage.models.rollback(c.var.now());
    if (!active) throw new ApiError(409, 'no_previous_model', 'there is no earlier promoted model to roll back to');
    return c.json(activeModelJson(active));
  });
