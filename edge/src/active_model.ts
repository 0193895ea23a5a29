// The active model's engine, loaded once per isolate and swapped when the registry's active model changes.
import { CpuEngine, readModel } from '@seed/runtime/engine';
import { ApiError } from './errors';
import type { ModelRecord, ModelRegistry } from './storage/types';

export interface ServingModel {
  version: string;
  sha256: string;
  engine: CpuEngine;
}

export class ActiveModelCache {
  private key = '';
  private loading: Promise<ServingModel> | null = null;

  /** The engine for the registry's active model; concurrent callers share one load. */
  engineFor(active: ModelRecord, registry: ModelRegistry): Promise<ServingModel> {
    // The file's hash names the exact weights, so one cache serves any storage.
    const key = `${active.version}:${active.fileSha256}`;
    if (this.loading && this.key === key) return this.loading;
    this.key = key;
    const loading = load(active, registry);
    this.loading = loading;
    loading.catch(() => {
      if (this.loading === loading) this.loading = null;
    });
    return loading;
  }
}

async function load(active: ModelRecord, registry: ModelRegistry): Promise<ServingModel> {
  const file = await registry.weights(active.version);
  if (!file) throw new ApiError(500, 'weights_missing', `the weights of active model ${active.version} are missing from the store`);
  // readModel checks the file again: the store could have been changed behind the registry's back.
  const model = await readModel(file);
  return { version: active.version, sha256: model.metadata.sha256, engine: new CpuEngine(model) };
}
