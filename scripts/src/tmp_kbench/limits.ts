import { createGpu } from '@seed/runtime';
for (const b of ['vulkan', 'gles'] as const) { const g = await createGpu(b, console.log); }
