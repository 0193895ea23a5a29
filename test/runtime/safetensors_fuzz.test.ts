// The safetensors reader against mutated files (`pnpm fuzz --files N` runs more): each is refused with one clear
// ModelFileError line, or, where the mutation left a valid file (an edited metrics string), read with the same tensors.
import { buildNetwork, initialParameters, ModelFileError, readModel, writeModel } from '@seed/runtime/engine';
import { describe, expect, it } from 'vitest';
import { checkReader, fuzzReader, mutatedModelFiles, READER_FUZZ_ARCHITECTURE } from '@seed/scripts/reliability/fuzz_weights';

describe('safetensors reader fuzz', () => {
  it('refuses 600 mutated files with one clear line each, never crashing, never accepting changed tensors', async () => {
    const report = await fuzzReader(600, 3);
    const lines = Object.entries(report.byKind).map(([kind, t]) => `${kind}: ${t.tried} tried, ${t.refused} refused, ${t.acceptedUnchanged} still valid`);
    console.log(`safetensors reader: ${report.files} mutated files, slowest ${report.slowestMs.toFixed(0)} ms\n  ${lines.join('\n  ')}`);
    expect(report.examples).toEqual([]);
    expect(report.failures).toBe(0);
    expect(Object.keys(report.byKind).length).toBeGreaterThanOrEqual(15);
    const tallies = Object.values(report.byKind);
    const refused = tallies.reduce((sum, t) => sum + t.refused, 0);
    expect(refused).toBeGreaterThan(0.95 * report.files);
    // Truncations, flipped data bits and lying lengths can never leave a valid file.
    for (const kind of ['truncated', 'a header length that lies', 'a value not finite, checksum updated', 'random bytes']) {
      expect(report.byKind[kind].refused, kind).toBe(report.byKind[kind].tried);
    }
  });

  it('tells a refusal, a crash and a changed model apart', async () => {
    const network = buildNetwork(READER_FUZZ_ARCHITECTURE);
    const tensors = initialParameters(network, 1);
    const file = await writeModel(network, tensors, { version: 'v1' });
    expect(await checkReader(file, tensors)).toEqual({ ok: true, outcome: 'accepted unchanged' });
    expect(await checkReader(file.subarray(0, 100), tensors)).toEqual({ ok: true, outcome: 'refused' });
    // Other weights with a correct checksum are a valid file, but not the one mutated: a failure of the check.
    const other = await writeModel(network, initialParameters(network, 2), { version: 'v1' });
    expect(await checkReader(other, tensors)).toMatchObject({ ok: false, failure: 'accepted with changed tensors' });
    const mutations = await mutatedModelFiles(file, 50, 9);
    expect(new Set(mutations.map((m) => m.kind)).size).toBeGreaterThan(5);
    await expect(readModel(mutations.find((m) => m.kind === 'truncated')!.bytes)).rejects.toBeInstanceOf(ModelFileError);
  });
});
