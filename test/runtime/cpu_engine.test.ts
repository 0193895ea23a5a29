// The CPU engine (fused, blocked loops) against the kernels' plain-loop references composed layer by layer, in float64.
import { conv2dForwardRef, denseForwardRef, maxPool2dForwardRef } from '@seed/kernels';
import { buildNetwork, CpuEngine, initialParameters, Random, SEED_ARCHITECTURE, type HeadName, type LayerSpec, type Network } from '@seed/runtime/engine';
import { it } from 'vitest';
import { expectClose } from '../support/compare';

function referenceLogits(network: Network, tensors: Map<string, Float32Array>, pixels: Float32Array, batch: number, head: HeadName): Float64Array {
  let x: ArrayLike<number> = pixels;
  for (const { layer, inShape } of network.trunk) {
    switch (layer.kind) {
      case 'conv2d': {
        const [c, h, w] = inShape;
        x = conv2dForwardRef({ batch, inChannels: c, outChannels: layer.outChannels, height: h, width: w, kernelSize: layer.kernelSize, stride: layer.stride, padding: layer.padding },
          x, tensors.get(`${layer.name}.weight`)!, tensors.get(`${layer.name}.bias`)!);
        break;
      }
      case 'relu':
        x = Float64Array.from(x, (v) => Math.max(v, 0));
        break;
      case 'maxpool2d': {
        const [c, h, w] = inShape;
        x = maxPool2dForwardRef({ batch, channels: c, height: h, width: w, kernelSize: layer.kernelSize, stride: layer.stride }, x).output;
        break;
      }
      case 'flatten':
        break;
      case 'dense':
        x = denseForwardRef({ batch, inFeatures: layer.inFeatures, outFeatures: layer.outFeatures }, x, tensors.get(`${layer.name}.weight`)!, tensors.get(`${layer.name}.bias`)!);
        break;
    }
  }
  const spec = network.heads[head]!;
  return denseForwardRef({ batch, inFeatures: spec.inFeatures, outFeatures: spec.outFeatures }, x, tensors.get(`${spec.name}.weight`)!, tensors.get(`${spec.name}.bias`)!);
}

function check(name: string, architecture: LayerSpec[], batch: number, seed: number): void {
  const network = buildNetwork(architecture);
  const tensors = initialParameters(network, seed);
  const random = new Random(seed + 100);
  // Biases of both signs and larger than the initial ones, so ReLUs and pools see zeros and ties of sign.
  for (const p of network.parameters) if (p.name.endsWith('.bias')) tensors.set(p.name, random.floats(p.size, -0.5, 0.5));
  const engine = new CpuEngine({ network, tensors });
  // Dense inputs take the gathering convolution, mostly-zero ones (like digits) the scattering one.
  const dense = random.floats(batch * engine.inputSize, -1, 1);
  const sparse = dense.map((v) => (random.next() < 0.8 ? 0 : v));
  for (const [kind, pixels] of [['dense', dense], ['sparse', sparse]] as const) {
    for (const head of Object.keys(network.heads) as HeadName[]) {
      expectClose(`cpu engine ${name} ${kind} ${head}`, engine.logits(pixels, batch, head), referenceLogits(network, tensors, pixels, batch, head));
    }
  }
}

it('the seed network at batch 1 and 5', () => {
  check('seed', SEED_ARCHITECTURE, 1, 1);
  check('seed', SEED_ARCHITECTURE, 5, 2);
});

it('padding, stride, several channels, counts not a multiple of 8, unfused relu and pool', () => {
  check('odd', [
    { kind: 'input', shape: [3, 13, 7] },
    { kind: 'conv2d', name: 'c1', inChannels: 3, outChannels: 11, kernelSize: 3, stride: 2, padding: 2 }, // 8 + 3 channels
    { kind: 'relu' },
    { kind: 'conv2d', name: 'c2', inChannels: 11, outChannels: 4, kernelSize: 2, stride: 1, padding: 1 }, // no relu, pool
    { kind: 'maxpool2d', kernelSize: 3, stride: 2 },
    { kind: 'relu' },
    { kind: 'flatten' },
    { kind: 'dense', name: 'd1', inFeatures: 4 * 4 * 2, outFeatures: 19 },
    { kind: 'dense', name: 'd2', inFeatures: 19, outFeatures: 9 },
    { kind: 'relu' },
    { kind: 'dense', name: 'p', inFeatures: 9, outFeatures: 3, head: 'policy' },
    { kind: 'dense', name: 'r', inFeatures: 9, outFeatures: 4, head: 'rotation' },
  ], 3, 3);
});
