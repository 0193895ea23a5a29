import { describe, expect, it } from 'vitest';
import { buildNetwork, initialParameters, readModel, SEED_ARCHITECTURE, writeModel, ModelFileError, sha256Hex } from '@seed/runtime/engine';
import { withHeader } from '@seed/scripts/reliability/fuzz_weights';

const network = buildNetwork(SEED_ARCHITECTURE);
const tensors = initialParameters(network, 7);

async function validFile(): Promise<Uint8Array> {
  return writeModel(network, tensors, { version: 'v3', parent: 'v2', created: '2026-11-28T00:00:00.000Z', metrics: { testAccuracy: 0.98 } });
}

describe('safetensors weights file', () => {
  it('round-trips bit-identical tensors and keeps the metadata', async () => {
    const model = await readModel(await validFile());
    expect(model.metadata).toMatchObject({ format: 'seed-cnn/1', version: 'v3', parent: 'v2', created: '2026-11-28T00:00:00.000Z', metrics: { testAccuracy: 0.98 } });
    expect(model.metadata.architecture).toEqual(SEED_ARCHITECTURE);
    for (const [name, tensor] of tensors) {
      expect(Buffer.from(model.tensors.get(name)!.buffer).equals(Buffer.from(tensor.buffer)), name).toBe(true);
    }
  });

  it('reads a Node Buffer that is a view into a larger pool, and a file at an odd offset in its buffer', async () => {
    const file = await validFile();
    const pooled = Buffer.concat([Buffer.alloc(13, 0xee), Buffer.from(file), Buffer.alloc(7, 0xee)]).subarray(13, 13 + file.length);
    const shifted = new Uint8Array(file.length + 3).subarray(3);
    shifted.set(file);
    for (const bytes of [pooled, shifted]) {
      const read = await readModel(bytes);
      for (const [name, t] of tensors) expect(read.tensors.get(name)).toEqual(t);
    }
  });

  it('lays tensors out as safetensors does: names, shapes, F32, offsets, 8-byte aligned data, checksum of the data', async () => {
    const file = await validFile();
    const length = Number(new DataView(file.buffer).getBigUint64(0, true));
    expect((8 + length) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + length)));
    expect(header['conv.weight']).toEqual({ dtype: 'F32', shape: [32, 1, 3, 3], data_offsets: [0, 1152] });
    expect(header['fc1.weight'].shape).toEqual([64, 5408]);
    expect(header['fc2.bias'].shape).toEqual([10]);
    expect(header['rot.weight'].shape).toEqual([4, 64]);
    for (const value of Object.values(header.__metadata__)) expect(typeof value).toBe('string');
    expect(header.__metadata__.sha256).toBe(await sha256Hex(file.subarray(8 + length)));
    expect(new Float32Array(file.slice(8 + length, 8 + length + 16).buffer)).toEqual(tensors.get('conv.weight')!.subarray(0, 4));
  });

  const refusals: [string, (file: Uint8Array) => Uint8Array, RegExp][] = [
    ['an empty file', () => new Uint8Array(0), /too short/],
    ['a bad magic (not safetensors)', (f) => { const g = f.slice(); g.set([0x50, 0x4b, 3, 4, 0xff, 0xff, 0xff, 0x7f]); return g; }, /header length/],
    ['a truncated file', (f) => f.subarray(0, f.length - 100), /data_offsets|bytes/],
    ['a flipped data bit', (f) => { const g = f.slice(); g[g.length - 5] ^= 0x10; return g; }, /checksum mismatch/],
    ['a header that is not JSON', (f) => { const g = f.slice(); g[9] = 0x7b; g[10] = 0x7b; return g; }, /not valid UTF-8 JSON/],
    ['an unknown format', (f) => withHeader(f, (h) => { h.__metadata__.format = 'other/2'; }), /format is "other\/2"/],
    ['a wrong shape', (f) => withHeader(f, (h) => { h['fc2.weight'].shape = [64, 10]; }), /fc2\.weight has shape \[64,10\]/],
    ['a wrong dtype', (f) => withHeader(f, (h) => { h['fc2.weight'].dtype = 'F16'; }), /dtype "F16"/],
    ['a missing tensor', (f) => withHeader(f, (h) => { delete h['rot.bias']; }), /missing tensor rot\.bias/],
    ['an extra tensor', (f) => withHeader(f, (h) => { h['extra.weight'] = h['rot.bias']; }), /unexpected tensor extra\.weight/],
    ['a non-string metadata value', (f) => withHeader(f, (h) => { h.__metadata__.version = 3; }), /must be a string/],
    ['no metadata', (f) => withHeader(f, (h) => { delete h.__metadata__; }), /no __metadata__/],
    ['an architecture that does not chain', (f) => withHeader(f, (h) => { const a = JSON.parse(h.__metadata__.architecture); a[5].inFeatures = 100; h.__metadata__.architecture = JSON.stringify(a); }), /layer 5: inFeatures 100/],
    ['metrics that are not JSON', (f) => withHeader(f, (h) => { h.__metadata__.metrics = '{'; }), /metrics is not valid JSON/],
  ];
  it.each(refusals)('refuses %s with one clear line', async (_, corrupt, message) => {
    const error = await readModel(corrupt(await validFile())).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ModelFileError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('refuses non-finite parameters', async () => {
    const bad = new Map(tensors);
    bad.set('fc2.bias', Float32Array.from({ length: 10 }, (_, i) => (i === 3 ? Number.NaN : 0)));
    await expect(readModel(await writeModel(network, bad, { version: 'v1' }))).rejects.toThrow(/fc2\.bias holds a value that is not finite/);
  });
});

describe('architecture', () => {
  it('derives the seed network: 5408 features, parameters in layer order', () => {
    expect(network.features).toBe(64);
    expect(network.trunk.map((t) => t.outShape)).toEqual([[32, 26, 26], [32, 26, 26], [32, 13, 13], [5408], [64], [64]]);
    expect(network.parameters.map((p) => `${p.name}:${p.shape.join('x')}`)).toEqual([
      'conv.weight:32x1x3x3', 'conv.bias:32', 'fc1.weight:64x5408', 'fc1.bias:64', 'fc2.weight:10x64', 'fc2.bias:10', 'rot.weight:4x64', 'rot.bias:4',
    ]);
  });

  it.each([
    ['no input layer', [{ kind: 'relu' }, { kind: 'dense', name: 'a', inFeatures: 1, outFeatures: 1, head: 'policy' }], /input/],
    ['an unknown kind', [SEED_ARCHITECTURE[0], { kind: 'softmax' }], /unknown kind "softmax"/],
    ['no policy head', SEED_ARCHITECTURE.slice(0, 7), /no policy head/],
    ['duplicate names', [...SEED_ARCHITECTURE.slice(0, 8), { ...SEED_ARCHITECTURE[8], name: 'fc2' }], /duplicate name "fc2"/],
    ['a rotation head that is not 4-way', [...SEED_ARCHITECTURE.slice(0, 8), { ...SEED_ARCHITECTURE[8], outFeatures: 3 }], /outFeatures must be 4/],
    ['dense on images', [SEED_ARCHITECTURE[0], { kind: 'dense', name: 'd', inFeatures: 784, outFeatures: 2 }], /flat input/],
  ])('refuses %s', (_, layers, message) => {
    expect(() => buildNetwork(layers)).toThrow(message);
  });
});
