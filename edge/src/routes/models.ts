// The model registry: upload (verified before it is stored), listing, weights, promotion and rollback.
import { ModelFileError, readModel, type ModelFile, type ModelMetadata } from '@seed/runtime/engine';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { forwardPassProblem, servingProblem } from '../active_model';
import type { AppEnv } from '../app_env';
import { requireRole } from '../auth';
import { ApiError } from '../errors';
import type { ActiveModelRecord, ModelRecord, ModelStats } from '../storage/types';
import { bearerSecurity, errorResponses, jsonContent, limitBody, MiB, validate, validationHook, versionSchema } from '../validation';

const WEIGHTS_BODY_BYTES = 16 * MiB;

const versionParams = z.object({ version: versionSchema });

const modelSchema = z
  .object({
    version: z.string(),
    sha256: z.string(),
    fileSha256: z.string(),
    parent: z.string(),
    created: z.string(),
    metrics: z.record(z.string(), z.unknown()),
    architecture: z.array(z.looseObject({ kind: z.string() })),
    sizeBytes: z.number().int(),
    uploadedAt: z.iso.datetime(),
    active: z.boolean(),
  })
  .openapi('Model');

/** How a version did while it served: its predictions, client rewards, and mean reward over settled events. */
const onlineSchema = z.object({ predictions: z.number().int(), rewards: z.number().int(), rewardMean: z.number().nullable() });

export const modelSummarySchema = modelSchema.extend({ online: onlineSchema }).openapi('ModelSummary');
export const modelListingSchema = z.object({ active: z.string().nullable(), models: z.array(modelSummarySchema) }).openapi('ModelListing');
export const activeModelSchema = modelSchema.extend({ promotedAt: z.iso.datetime() }).openapi('ActiveModel');

/** One version in the registry listing (GET /v1/models). */
export type ModelSummary = z.infer<typeof modelSummarySchema>;
export type ModelListing = z.infer<typeof modelListingSchema>;

const modelJson = (model: ModelRecord, activeVersion: string | undefined): z.infer<typeof modelSchema> => ({
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

const onlineJson = (stats: ModelStats | undefined): z.infer<typeof onlineSchema> => ({ predictions: stats?.predictions ?? 0, rewards: stats?.rewards ?? 0, rewardMean: stats?.rewardMean ?? null });

const activeModelJson = (model: ActiveModelRecord): z.infer<typeof activeModelSchema> => ({ ...modelJson(model, model.version), promotedAt: new Date(model.promotedAt).toISOString() });

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

const activeModelRoute = createRoute({
  method: 'get',
  path: '/model',
  tags: ['models'],
  summary: 'The active model',
  responses: { 200: jsonContent(activeModelSchema, 'the model that answers predictions'), ...errorResponses(404) },
});

const listingRoute = createRoute({
  method: 'get',
  path: '/models',
  tags: ['models'],
  summary: 'The model registry, with how each version did online',
  security: bearerSecurity,
  middleware: [requireRole('reader')] as const,
  responses: { 200: jsonContent(modelListingSchema, 'every stored version, oldest first'), ...errorResponses(401, 403, 429) },
});

const weightsRoute = createRoute({
  method: 'get',
  path: '/models/{version}/weights',
  tags: ['models'],
  summary: 'A version’s safetensors file',
  security: bearerSecurity,
  middleware: [requireRole('reader')] as const,
  request: { params: versionParams },
  responses: {
    200: { description: 'the file as uploaded; its sha256 is the ETag', content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } },
    ...errorResponses(400, 401, 403, 404, 429),
  },
});

const uploadRoute = createRoute({
  method: 'put',
  path: '/models/{version}',
  tags: ['models'],
  summary: 'Upload a version (verified before it is stored)',
  security: bearerSecurity,
  // The version is checked before the body is read, as the route's own validators run after its middleware.
  middleware: [requireRole('admin'), validate('param', versionParams), limitBody(WEIGHTS_BODY_BYTES)] as const,
  request: {
    params: versionParams,
    body: { required: true, content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary', description: 'a seed-cnn/1 safetensors file, up to 16 MiB' }) } } },
  },
  responses: {
    201: jsonContent(modelSchema, 'stored'),
    200: jsonContent(modelSchema, 'the same file was already stored'),
    ...errorResponses(400, 401, 403, 409, 413),
  },
});

const promoteRoute = createRoute({
  method: 'post',
  path: '/models/{version}/promote',
  tags: ['models'],
  summary: 'Make a version the active one',
  security: bearerSecurity,
  middleware: [requireRole('admin')] as const,
  request: { params: versionParams },
  responses: { 200: jsonContent(activeModelSchema, 'the new active model'), ...errorResponses(400, 401, 403, 404) },
});

const rollbackRoute = createRoute({
  method: 'post',
  path: '/rollback',
  tags: ['models'],
  summary: 'Undo the newest promotion',
  security: bearerSecurity,
  middleware: [requireRole('admin')] as const,
  responses: { 200: jsonContent(activeModelSchema, 'the new active model'), ...errorResponses(401, 403, 409) },
});

export const modelRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(activeModelRoute, async (c) => {
    const active = await c.var.storage.models.active();
    if (!active) throw new ApiError(404, 'no_model', 'no model is active');
    return c.json(activeModelJson(active), 200);
  })
  .openapi(listingRoute, async (c) => {
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
    return c.json(listing, 200);
  })
  .openapi(weightsRoute, async (c) => {
    const { version } = c.req.valid('param');
    const [model, weights] = await Promise.all([c.var.storage.models.get(version), c.var.storage.models.weights(version)]);
    if (!model || !weights) throw new ApiError(404, 'unknown_model', `no model ${version} in the registry`);
    return c.body(weights, 200, {
      'Content-Type': 'application/octet-stream',
      'Content-Disposition': `attachment; filename="seed-${version}.safetensors"`,
      ETag: `"${model.fileSha256}"`,
    });
  })
  .openapi(uploadRoute, async (c) => {
    const { version } = c.req.valid('param');
    const file = new Uint8Array(await c.req.arrayBuffer());
    const metadata = await verifiedMetadata(file);
    if (metadata.version !== version) throw new ApiError(400, 'version_mismatch', `the file says version ${JSON.stringify(metadata.version)}, the path ${JSON.stringify(version)}`);
    const { outcome, model } = await c.var.storage.models.add(metadata, file, c.var.now());
    if (outcome === 'conflict') throw new ApiError(409, 'version_exists', `version ${version} is already stored with different contents`);
    const active = await c.var.storage.models.active();
    return c.json(modelJson(model, active?.version), outcome === 'added' ? 201 : 200);
  })
  .openapi(promoteRoute, async (c) => {
    const { version } = c.req.valid('param');
    const active = await c.var.storage.models.promote(version, c.var.now());
    if (!active) throw new ApiError(404, 'unknown_model', `no model ${version} in the registry`);
    return c.json(activeModelJson(active), 200);
  })
  .openapi(rollbackRoute, async (c) => {
    const active = await c.var.storage.models.rollback(c.var.now());
    if (!active) throw new ApiError(409, 'no_previous_model', 'there is no earlier promoted model to roll back to');
    return c.json(activeModelJson(active), 200);
  });
