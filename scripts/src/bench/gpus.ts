// The Dawn backends of this run: each one's device and pipeline cache, shared by every part (pipelines compile once).
import { buildNetwork, getGpu, initialParameters, Model, PipelineCache, SEED_ARCHITECTURE, type Backend, type Gpu, type Network } from '@seed/runtime';

export interface BenchGpu {
  backend: Backend;
  gpu: Gpu;
  cache: PipelineCache;
  /** The seed network with seeded initial weights on this device. */
  model: Model;
}

export const BACKENDS: readonly Backend[] = ['vulkan', 'gles'];
export const network: Network = buildNetwork(SEED_ARCHITECTURE);
/** The weights every implementation in the bench starts from. */
export const tensors = initialParameters(network, 1);

const gpus = new Map<Backend, Promise<BenchGpu>>();

/** The device of a backend, created on first use; rejects with the reason when the backend has no adapter here. */
export function benchGpu(backend: Backend): Promise<BenchGpu> {
  let pending = gpus.get(backend);
  if (!pending) {
    pending = getGpu(backend).then((gpu) => {
      const cache = new PipelineCache(gpu);
      return { backend, gpu, cache, model: new Model(cache, network, tensors) };
    });
    gpus.set(backend, pending);
  }
  return pending;
}
