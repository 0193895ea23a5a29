// The WebAssembly SIMD engine (what the edge serves with) against the TypeScript engine (the reference): logits within
// 1e-5 on the seed network with MNIST digits, on odd architectures and on random weights, across tile boundaries.
import { readFile } from 'node:fs/promises';
import { simdEngineModule, SIMD_ENGINE_WASM_PATH } from '@seed/edge/node';
import { assembleSimdEngine } from '@seed/scripts/build/wasm';
import { buildNetwork, CpuEngine, initialParameters, loadMnist, Random, SEED_ARCHITECTURE, WasmEngine, type HeadName, type LayerSpec } from '@seed/runtime';
import { expect, it } from 'vitest';
import { expectClose } from '../support/compare';

const TOLERANCE = 1e-5;

async function check(name: string, architecture: LayerSpec[], batches: number[], seed: number, inputs?: Float32Array): Promise<void> {
  const network = buildNetwork(architecture);
  const tensors = initialParameters(network, seed);
  const random = new Random(seed + 100);
  // Biases of both signs and larger than the initial ones, so ReLUs and pools see zeros and ties of sign.
  for (const p of network.parameters) if (p.name.endsWith('.bias')) tensors.set(p.name, random.floats(p.size, -0.5, 0.5));
  const cpu = new CpuEngine({ network, tensors });
  const wasm = new WasmEngine(await simdEngineModule(), { network, tensors });
  for (const batch of batches) {
    const dense = random.floats(batch * cpu.inputSize, -1, 1);
    const sparse = dense.map((v) => (random.next() < 0.8 ? 0 : v));
    const cases: [string, Float32Array][] = [['dense', dense], ['sparse', sparse], ['zero', new Float32Array(batch * cpu.inputSize)]];
    if (inputs) cases.push(['given', inputs.subarray(0, batch * cpu.inputSize)]);
    for (const [kind, pixels] of cases) {
      for (const head of Object.keys(network.heads) as HeadName[]) {
        expectClose(`wasm engine ${name} ${kind} ${head} batch ${batch}`, wasm.logits(pixels, batch, head), cpu.logits(pixels, batch, head), TOLERANCE, TOLERANCE);
      }
    }
  }
}

it('the committed .wasm is what its WAT source assembles to (pnpm build:wasm)', async () => {
  expect(Buffer.from(await readFile(SIMD_ENGINE_WASM_PATH)).equals(Buffer.from(await assembleSimdEngine()))).toBe(true);
});

it('the seed network on MNIST digits and random inputs, batches across tile boundaries', async () => {
  const { images } = loadMnist().test;
  const network = buildNetwork(SEED_ARCHITECTURE);
  const tile = new WasmEngine(await simdEngineModule(), { network, tensors: initialParameters(network, 1) }).tile;
  await check('seed', SEED_ARCHITECTURE, [1, 5, tile, tile + 3, 2 * tile + 1], 1, images);
});

it('padding, stride, several channels, counts not a multiple of 4 or 32, unfused relu and pool', async () => {
  await check('odd', [
    { kind: 'input', shape: [3, 13, 7] },
    { kind: 'conv2d', name: 'c1', inChannels: 3, outChannels: 37, kernelSize: 3, stride: 2, padding: 2 }, // 32 + 4 + 1 channels
    { kind: 'relu' },
    { kind: 'conv2d', name: 'c2', inChannels: 37, outChannels: 5, kernelSize: 2, stride: 1, padding: 1 }, // no relu, pool
    { kind: 'maxpool2d', kernelSize: 3, stride: 2 },
    { kind: 'relu' },
    { kind: 'flatten' },
    { kind: 'dense', name: 'd1', inFeatures: 5 * 4 * 2, outFeatures: 45 },
    { kind: 'dense', name: 'd2', inFeatures: 45, outFeatures: 9 },
    { kind: 'relu' },
    { kind: 'dense', name: 'p', inFeatures: 9, outFeatures: 3, head: 'policy' },
    { kind: 'dense', name: 'r', inFeatures: 9, outFeatures: 4, head: 'rotation' },
  ], [1, 3, 40], 3);
});

it('a max pool fused into the convolution where windows do not overlap: with and without ReLU, stride over size, 32 + 4 + 1 channels', async () => {
  const architecture: LayerSpec[] = [
    { kind: 'input', shape: [2, 17, 15] },
    { kind: 'conv2d', name: 'c1', inChannels: 2, outChannels: 37, kernelSize: 3, stride: 1, padding: 1 },
    { kind: 'relu' },
    { kind: 'maxpool2d', kernelSize: 2, stride: 2 }, // 17×15 → 8×7: the last row and column are never pooled
    { kind: 'conv2d', name: 'c2', inChannels: 37, outChannels: 6, kernelSize: 2, stride: 1, padding: 0 }, // no relu
    { kind: 'maxpool2d', kernelSize: 2, stride: 3 }, // 7×6 → 2×2, gaps between windows
    { kind: 'conv2d', name: 'c3', inChannels: 6, outChannels: 4, kernelSize: 1, stride: 1, padding: 0 },
    { kind: 'relu' },
    { kind: 'maxpool2d', kernelSize: 2, stride: 1 }, // overlapping windows: its own stage
    { kind: 'flatten' },
    { kind: 'dense', name: 'p', inFeatures: 4, outFeatures: 10, head: 'policy' },
  ];
  const network = buildNetwork(architecture);
  expect(new WasmEngine(await simdEngineModule(), { network, tensors: initialParameters(network, 8) }).stages).toEqual([
    'conv2d+relu+maxpool2d', 'conv2d+maxpool2d', 'conv2d+relu', 'maxpool2d',
  ]);
  await check('fused pools', architecture, [1, 3, 33], 8);
  const seed = buildNetwork(SEED_ARCHITECTURE);
  expect(new WasmEngine(await simdEngineModule(), { network: seed, tensors: initialParameters(seed, 1) }).stages[0]).toBe('conv2d+relu+maxpool2d');
});

it('a pool or relu straight on the input, a dense-only network, two convolutions', async () => {
  await check('pool first', [
    { kind: 'input', shape: [1, 28, 28] },
    { kind: 'relu' },
    { kind: 'maxpool2d', kernelSize: 2, stride: 2 },
    { kind: 'conv2d', name: 'c', inChannels: 1, outChannels: 8, kernelSize: 5, stride: 1, padding: 0 },
    { kind: 'flatten' },
    { kind: 'dense', name: 'p', inFeatures: 8 * 10 * 10, outFeatures: 10, head: 'policy' },
  ], [1, 7], 4);
  await check('dense only', [
    { kind: 'input', shape: [1, 28, 28] },
    { kind: 'flatten' },
    { kind: 'dense', name: 'h', inFeatures: 784, outFeatures: 130 },
    { kind: 'relu' },
    { kind: 'dense', name: 'p', inFeatures: 130, outFeatures: 10, head: 'policy' },
  ], [1, 9], 5);
  await check('two convolutions', [
    { kind: 'input', shape: [1, 28, 28] },
    { kind: 'conv2d', name: 'c1', inChannels: 1, outChannels: 16, kernelSize: 3, stride: 1, padding: 1 },
    { kind: 'relu' },
    { kind: 'maxpool2d', kernelSize: 2, stride: 2 },
    { kind: 'conv2d', name: 'c2', inChannels: 16, outChannels: 32, kernelSize: 3, stride: 1, padding: 0 },
    { kind: 'relu' },
    { kind: 'maxpool2d', kernelSize: 2, stride: 2 },
    { kind: 'flatten' },
    { kind: 'dense', name: 'f', inFeatures: 32 * 6 * 6, outFeatures: 64 },
    { kind: 'relu' },
    { kind: 'dense', name: 'p', inFeatures: 64, outFeatures: 10, head: 'policy' },
  ], [1, 4], 6);
});

it('random weights of a larger scale, seeds in turn', async () => {
  for (let seed = 10; seed < 14; seed++) await check(`seed network, seed ${seed}`, SEED_ARCHITECTURE, [2], seed);
});
