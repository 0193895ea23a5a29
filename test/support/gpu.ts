// The WebGPU device for tests: every available backend, or a loud failure in CI when there is none.
import { createGpu, INSTALL_HINT, PipelineCache, type Backend, type Gpu } from '@seed/runtime';

export interface TestGpu { backend: Backend; gpu: Gpu; cache: PipelineCache }

const requested = (process.env.SEED_TEST_BACKENDS ?? 'vulkan,gles').split(',').map((b) => b.trim()) as Backend[];

async function open(backend: Backend): Promise<TestGpu | undefined> {
  try {
    const gpu = await createGpu(backend);
    return { backend, gpu, cache: new PipelineCache(gpu) };
  } catch (error) {
    if (process.env.CI) throw new Error(`CI needs a WebGPU adapter for ${backend}: ${(error as Error).message}`);
    console.warn(`skipping ${backend} GPU tests: ${INSTALL_HINT}`);
    return undefined;
  }
}

/** One device per requested backend (SEED_TEST_BACKENDS, default "vulkan,gles"), opened once per test file. */
export const testGpus: TestGpu[] = [];
for (const backend of requested) {
  const opened = await open(backend);
  if (opened) testGpus.push(opened);
}
