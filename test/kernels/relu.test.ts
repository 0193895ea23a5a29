import { describe, it } from 'vitest';
import { reluBackward, reluBackwardRef, reluForward, reluForwardRef } from '@seed/kernels';
import { Random, runKernel } from '@seed/runtime';
import { expectClose } from '../support/compare';
import { testGpus } from '../support/gpu';

describe.each(testGpus)('relu on $backend', ({ cache }) => {
  it.each([[3 * 7 * 13], [32 * 26 * 26 * 3], [64 * 65]])('forward and backward, %i elements', async (count) => {
    const random = new Random(count);
    const x = random.floats(count);
    const dy = random.floats(count);
    const { y } = await runKernel(cache, reluForward, { count }, { x }, { y: count });
    expectClose('relu_forward', y, reluForwardRef(x));
    const { dx } = await runKernel(cache, reluBackward, { count }, { y, dy }, { dx: count });
    expectClose('relu_backward', dx, reluBackwardRef(y, dy));
  });
});
