// `pnpm export-onnx`: the exported graph, run by onnxruntime-node, gives the CPU engine's outputs within 1e-4.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildNetwork, CpuEngine, initialParameters, Random, readModel, SEED_ARCHITECTURE, writeModel, type LayerSpec } from '@seed/runtime/engine';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { exportOnnx } from '@seed/scripts/interop/onnx';
import { expectClose } from '../support/compare';
import { ROOT_DIR } from '@seed/scripts/lib/paths';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seed-onnx-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A model whose ReLUs and pool windows see both signs: initial weights, biases shifted by seeded noise. */
async function model(architecture: LayerSpec[], seed: number) {
  const network = buildNetwork(architecture);
  const tensors = initialParameters(network, seed);
  return readModel(await writeModel(network, tensors, { version: `onnx-${seed}` }));
}

async function run(session: ort.InferenceSession, pixels: Float32Array, shape: number[]) {
  const outputs = await session.run({ pixels: new ort.Tensor('float32', pixels, shape) });
  return Object.fromEntries(Object.entries(outputs).map(([name, tensor]) => [name, tensor.data as Float32Array]));
}

it('the seed model, exported by the command, matches the engine at batch 1 and 37', async () => {
  const file = await model(SEED_ARCHITECTURE, 5);
  const weightsPath = join(dir, 'seed.safetensors');
  const onnxPath = join(dir, 'seed.onnx');
  await writeFile(weightsPath, await writeModel(file.network, file.tensors, { version: 'v7' }));
  const { stdout } = await promisify(execFile)('pnpm', ['export-onnx', weightsPath, onnxPath], { cwd: ROOT_DIR });
  expect(stdout).toContain('ONNX opset 13, model v7');

  const session = await ort.InferenceSession.create(await readFile(onnxPath));
  expect(session.inputNames).toEqual(['pixels']);
  expect(session.outputNames).toEqual(['logits', 'probabilities', 'rotation_logits']);
  const engine = new CpuEngine(file);
  const random = new Random(11);
  for (const batch of [1, 37]) {
    const pixels = random.floats(batch * 784, 0, 1);
    const outputs = await run(session, pixels, [batch, 1, 28, 28]);
    expectClose('onnx logits', outputs.logits, engine.logits(pixels, batch));
    expectClose('onnx probabilities', outputs.probabilities, engine.probabilities(pixels, batch));
    expectClose('onnx rotation logits', outputs.rotation_logits, engine.logits(pixels, batch, 'rotation'));
  }
  await session.release();
});

it('another stack of the same layer kinds (padding, stride, two convolutions, no rotation head) exports as well', async () => {
  const architecture: LayerSpec[] = [
    { kind: 'input', shape: [2, 11, 9] },
    { kind: 'conv2d', name: 'c1', inChannels: 2, outChannels: 5, kernelSize: 3, stride: 2, padding: 1 },
    { kind: 'relu' },
    { kind: 'conv2d', name: 'c2', inChannels: 5, outChannels: 4, kernelSize: 2, stride: 1, padding: 0 },
    { kind: 'maxpool2d', kernelSize: 2, stride: 1 },
    { kind: 'flatten' },
    { kind: 'dense', name: 'd1', inFeatures: 4 * 4 * 3, outFeatures: 7 },
    { kind: 'relu' },
    { kind: 'dense', name: 'out', inFeatures: 7, outFeatures: 3, head: 'policy' },
  ];
  const file = await model(architecture, 9);
  const session = await ort.InferenceSession.create(exportOnnx(file));
  expect(session.outputNames).toEqual(['logits', 'probabilities']);
  const pixels = new Random(12).floats(5 * 2 * 11 * 9, -1, 1);
  const outputs = await run(session, pixels, [5, 2, 11, 9]);
  const engine = new CpuEngine(file);
  expectClose('onnx logits (other stack)', outputs.logits, engine.logits(pixels, 5));
  expectClose('onnx probabilities (other stack)', outputs.probabilities, engine.probabilities(pixels, 5));
  await session.release();
});
