// docs/design.md's promise that a PyTorch model of the same layers loads the weights file: Debian's python3-torch loads
// it with load_state_dict(strict=True) and its logits match the CPU engine's.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildNetwork, CpuEngine, IMAGE_PIXELS, initialParameters, loadMnist, SEED_ARCHITECTURE, writeModel } from '@seed/runtime';
import { expectClose } from '../support/compare';

const PYTHON = process.env.SEED_TORCH_PYTHON ?? '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!hasTorch && process.env.CI) throw new Error(`CI needs PyTorch for ${PYTHON}: apt-get install python3-torch (scripts/setup.sh does)`);
if (!hasTorch) console.warn(`skipping the PyTorch test: no torch for ${PYTHON} (apt-get install python3-torch)`);

describe.runIf(hasTorch)('PyTorch', () => {
  it('loads a weights file strictly, and both heads give the CPU engine\'s logits', async () => {
    const network = buildNetwork(SEED_ARCHITECTURE);
    const tensors = initialParameters(network, 11);
    // Non-zero biases, so a bias in the wrong place would show.
    for (const [name, t] of tensors) if (name.endsWith('.bias')) t.forEach((_, i) => { t[i] = Math.sin(i + name.length) * 0.1; });
    const dir = mkdtempSync(join(tmpdir(), 'seed-torch-'));
    try {
      const count = 37;
      const images = loadMnist().test.images.slice(0, count * IMAGE_PIXELS);
      writeFileSync(join(dir, 'model.safetensors'), await writeModel(network, tensors, { version: 'v7', parent: 'v6' }));
      writeFileSync(join(dir, 'inputs.f32'), images);
      const info = JSON.parse(execFileSync(PYTHON, [new URL('../support/load_in_pytorch.py', import.meta.url).pathname,
        join(dir, 'model.safetensors'), join(dir, 'inputs.f32'), String(count), join(dir, 'out.f32')], { encoding: 'utf8' }));
      expect(info.version).toBe('v7');
      expect(info.tensors).toEqual([...tensors.keys()].sort());
      const bytes = readFileSync(join(dir, 'out.f32'));
      const out = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      const engine = new CpuEngine({ network, tensors });
      const policy = engine.logits(images, count, 'policy');
      const rotation = engine.logits(images, count, 'rotation');
      const torchPolicy = new Float32Array(count * 10);
      const torchRotation = new Float32Array(count * 4);
      for (let n = 0; n < count; n++) {
        torchPolicy.set(out.subarray(n * 14, n * 14 + 10), n * 10);
        torchRotation.set(out.subarray(n * 14 + 10, n * 14 + 14), n * 4);
      }
      console.log(`PyTorch ${info.torch} loaded ${info.tensors.length} tensors`);
      expectClose('PyTorch policy logits', torchPolicy, policy);
      expectClose('PyTorch rotation logits', torchRotation, rotation);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
