// The edge API package: the app, its settings and storage interfaces. Node-only parts are in '@seed/edge/node'.
export { servingProblem } from './active_model';
export { createApp, type App, type AppOptions } from './app';
export { ANONYMOUS_KEY_ID, keyIdOf, type Role, type Sha256, webCryptoSha256 } from './auth';
export type { AppEnv, AppVariables } from './app_env';
export { ANONYMOUS_WARNING, type Env, type Settings } from './env';
export { SECURITY_HEADERS } from './security_headers';
export { ApiError } from './errors';
export { argmax, DEFAULT_SOFTMAX_FLOOR, explorationFloor, formatExploration, parseExploration, policyDistribution, sampleIndex, type Exploration } from './exploration';
export { dequantisePixels, quantisePixels } from './pixels';
export type { Prediction, PredictionRequest } from './prediction';
export type { ModelListing, ModelSummary } from './routes/models';
export type { ExportLine } from './routes/events';
export { d1Sql, d1Storage, r2Blobs } from './storage/d1';
export { SqlEventLog } from './storage/event_log';
export { SqlModelRegistry } from './storage/model_registry';
export { applyMigrations, StorageError, type Migration, type SqlDatabase, type SqlStatement, type SqlValue } from './storage/sql';
export type * from './storage/types';
export type { WorkerEnv } from './worker';
