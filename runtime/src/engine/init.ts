// Fresh parameters as PyTorch initialises Linear and Conv2d: uniform in ±1/√fan_in (kaiming_uniform with a=√5).
import type { Network } from './architecture';
import { Random } from './random';

export function initialParameters(network: Network, seed: number): Map<string, Float32Array> {
  const random = new Random(seed);
  const tensors = new Map<string, Float32Array>();
  for (const p of network.parameters) {
    const bound = 1 / Math.sqrt(p.fanIn);
    tensors.set(p.name, random.floats(p.size, -bound, bound));
  }
  return tensors;
}
