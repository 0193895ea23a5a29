import { createGpu, PipelineCache, runKernel, Random } from '@seed/runtime';
import { reluForward } from '@seed/kernels';
const gpu = await createGpu('vulkan', console.log);
const cache = new PipelineCache(gpu);
for (const count of [4160, 4160]) {
const x = new Random(count).floats(count);
const { y } = await runKernel(cache, reluForward, { count }, { x }, { y: count });
console.log(count, y[0]);
}
