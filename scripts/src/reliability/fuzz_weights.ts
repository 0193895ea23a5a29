// Mutated weights files for the safetensors reader: truncated, bit-flipped, lying header lengths, edited headers,
// garbage. The reader must refuse each with one ModelFileError line, or (when a mutation left the file valid, e.g. a
// changed metrics string) accept it with exactly the original tensors; never throw anything else, never hang.
import { buildNetwork, initialParameters, ModelFileError, Random, readModel, sha256Hex, writeModel, type LayerSpec } from '@seed/runtime/engine';

export interface MutatedFile {
  kind: string;
  bytes: Uint8Array;
}

export type ReaderOutcome = { ok: true; outcome: 'refused' | 'accepted unchanged' } | { ok: false; failure: string; detail: string };

const pick = <T>(random: Random, items: readonly T[]): T => items[random.int(items.length)];

export function headerOf(file: Uint8Array): { header: Record<string, any>; dataStart: number } {
  const length = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + length))), dataStart: 8 + length };
}

/** The file with its JSON header replaced by `json` (the data section kept). */
function withHeaderText(file: Uint8Array, json: string): Uint8Array {
  const { dataStart } = headerOf(file);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + file.length - dataStart);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(file.subarray(dataStart), 8 + headerBytes.length);
  return out;
}

/** The file with its JSON header edited in place by `edit` (the data section kept): for mislabelled files. */
export function withHeader(file: Uint8Array, edit: (header: Record<string, any>) => void): Uint8Array {
  const { header } = headerOf(file);
  edit(header);
  return withHeaderText(file, JSON.stringify(header));
}

const ODD_VALUES = [null, true, -1, 0, 1.5, 2 ** 53 + 2, 1e308, -1e308, '', 'x', '1', [], {}, [1, 2], [[1]], { a: 1 }, 'F32', [-4, 8], [2 ** 60, 2 ** 60 + 4]];

/** One structured edit of the header: a field of a tensor entry or of the metadata given an odd value. */
function editHeader(random: Random, file: Uint8Array): { kind: string; bytes: Uint8Array } {
  const { header } = headerOf(file);
  const tensors = Object.keys(header).filter((key) => key !== '__metadata__');
  const metadata = header.__metadata__ as Record<string, string>;
  switch (random.int(8)) {
    case 0: {
      const name = pick(random, tensors);
      const field = pick(random, ['dtype', 'shape', 'data_offsets']);
      header[name][field] = pick(random, [...ODD_VALUES, 'F16', 'F64', 'I32', 'f32', 'BF16']);
      return { kind: `header: ${field} of a tensor`, bytes: withHeaderText(file, JSON.stringify(header)) };
    }
    case 1: {
      const [a, b] = [pick(random, tensors), pick(random, tensors)];
      [header[a].data_offsets, header[b].data_offsets] = [header[b].data_offsets, header[a].data_offsets];
      const shift = pick(random, [0, 4, -4, 8]);
      header[a].data_offsets = header[a].data_offsets.map((o: number) => o + shift);
      return { kind: 'header: overlapping, swapped or shifted data_offsets', bytes: withHeaderText(file, JSON.stringify(header)) };
    }
    case 2: {
      const key = pick(random, ['format', 'architecture', 'version', 'parent', 'created', 'sha256', 'metrics']);
      if (random.next() < 0.3) delete metadata[key];
      else metadata[key] = pick(random, [...ODD_VALUES, metadata.sha256.toUpperCase(), metadata.sha256.slice(1), 'seed-cnn/2', '{', '[]', '"x"']) as string;
      return { kind: 'header: a metadata field missing or odd', bytes: withHeaderText(file, JSON.stringify(header)) };
    }
    case 3: {
      const layers = JSON.parse(metadata.architecture) as Record<string, unknown>[];
      const layer = pick(random, layers);
      const field = pick(random, [...Object.keys(layer), 'kind', 'head', 'name']);
      layer[field] = pick(random, [...ODD_VALUES, 'conv2d', 'dense', 'softmax', 'policy', 'rotation', 1 << 20, 2 ** 31, 0, 3, 4, 64, 5408]);
      if (random.next() < 0.2) layers.splice(random.int(layers.length), 1);
      metadata.architecture = JSON.stringify(layers);
      return { kind: 'header: an architecture layer edited or dropped', bytes: withHeaderText(file, JSON.stringify(header)) };
    }
    case 4: {
      const name = pick(random, ['extra.weight', '__proto__', 'constructor', 'conv.weight ', '', 'toString']);
      header[name] = pick(random, [header[pick(random, tensors)], ...ODD_VALUES]);
      // JSON.stringify drops a __proto__ property set this way: write it as text.
      const json = JSON.stringify(header).replace(/^\{/, name === '__proto__' ? '{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' : '{');
      return { kind: 'header: an extra or odd key', bytes: withHeaderText(file, json) };
    }
    case 5: {
      delete header[random.next() < 0.8 ? pick(random, tensors) : '__metadata__'];
      return { kind: 'header: a tensor or the metadata missing', bytes: withHeaderText(file, JSON.stringify(header)) };
    }
    case 6: {
      const depth = 10 + random.int(200_000);
      const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      const json = random.next() < 0.5 ? JSON.stringify(header).replace(/^\{/, `{"deep":${deep},`) : deep;
      return { kind: 'header: deeply nested JSON', bytes: withHeaderText(file, json) };
    }
    default: {
      const json = pick(random, ['null', '[]', '"x"', '123', '{}', '{"__metadata__":null}', '{"__metadata__":[]}', '{"__metadata__":"x"}']);
      return { kind: 'header: JSON that is not a header', bytes: withHeaderText(file, json) };
    }
  }
}

/** `count` mutations of a valid file, the same for the same seed. */
export async function mutatedModelFiles(file: Uint8Array, count: number, seed: number): Promise<MutatedFile[]> {
  const random = new Random(seed);
  const { dataStart } = headerOf(file);
  const files: MutatedFile[] = [];
  while (files.length < count) {
    switch (random.int(9)) {
      case 0:
        files.push({ kind: 'truncated', bytes: file.subarray(0, random.int(file.length)) });
        break;
      case 1: {
        const bytes = file.slice();
        for (let i = 1 + random.int(8); i > 0; i--) bytes[random.int(bytes.length)] ^= 1 << random.int(8);
        files.push({ kind: 'bits flipped anywhere', bytes });
        break;
      }
      case 2: {
        const bytes = file.slice();
        bytes[8 + random.int(dataStart - 8)] ^= 1 << random.int(8);
        files.push({ kind: 'a bit flipped in the header', bytes });
        break;
      }
      case 3: {
        const bytes = file.slice();
        const length = pick(random, [0n, 1n, 2n, 0xffff_ffff_ffff_ffffn, 2n ** 53n + 1n, BigInt(file.length), BigInt(file.length - 8), BigInt(dataStart - 9), BigInt(dataStart - 7), BigInt(random.int(file.length))]);
        new DataView(bytes.buffer).setBigUint64(0, length, true);
        files.push({ kind: 'a header length that lies', bytes });
        break;
      }
      case 4: {
        const at = random.int(file.length);
        const extra = Uint8Array.from({ length: 1 + random.int(16) }, () => random.int(256));
        const inserted = random.next() < 0.5;
        const bytes = new Uint8Array(file.length + (inserted ? extra.length : -Math.min(extra.length, file.length - at)));
        bytes.set(file.subarray(0, at));
        if (inserted) bytes.set(extra, at);
        bytes.set(file.subarray(inserted ? at : at + extra.length), inserted ? at + extra.length : at);
        files.push({ kind: 'bytes inserted or deleted', bytes });
        break;
      }
      case 5: {
        const bytes = file.slice();
        const view = new DataView(bytes.buffer, dataStart);
        view.setFloat32(4 * random.int((bytes.length - dataStart) / 4), pick(random, [Number.NaN, Infinity, -Infinity]), true);
        // A correct checksum over the bad value: only the finiteness check can refuse it.
        const { header } = headerOf(bytes);
        header.__metadata__.sha256 = await sha256Hex(bytes.subarray(dataStart));
        files.push({ kind: 'a value not finite, checksum updated', bytes: withHeaderText(bytes, JSON.stringify(header)) });
        break;
      }
      case 6: {
        const length = random.int(4096);
        files.push({ kind: 'random bytes', bytes: Uint8Array.from({ length }, () => random.int(256)) });
        break;
      }
      default:
        files.push(editHeader(random, file));
    }
  }
  return files;
}

/** Reads one mutated file: refused with one line, or accepted with exactly the original tensors. */
export async function checkReader(bytes: Uint8Array, original: Map<string, Float32Array>): Promise<ReaderOutcome> {
  let model;
  try {
    model = await readModel(bytes);
  } catch (error) {
    if (!(error instanceof ModelFileError)) return { ok: false, failure: 'crash (not a ModelFileError)', detail: String((error as Error)?.stack ?? error).slice(0, 300) };
    if (error.message.includes('\n') || error.message.length > 500) return { ok: false, failure: 'not one clear line', detail: error.message.slice(0, 300) };
    return { ok: true, outcome: 'refused' };
  }
  for (const [name, tensor] of original) {
    const read = model.tensors.get(name);
    if (!read || read.length !== tensor.length || !read.every((value, i) => Object.is(value, tensor[i]))) {
      return { ok: false, failure: 'accepted with changed tensors', detail: name };
    }
  }
  if (model.tensors.size !== original.size) return { ok: false, failure: 'accepted with changed tensors', detail: 'tensor count' };
  return { ok: true, outcome: 'accepted unchanged' };
}

export interface ReaderFuzzReport {
  files: number;
  byKind: Record<string, { tried: number; refused: number; acceptedUnchanged: number; failures: number }>;
  slowestMs: number;
  examples: string[];
  failures: number;
}

/** Every layer kind and both heads, small enough that a thousand mutated files read in seconds. */
export const READER_FUZZ_ARCHITECTURE: LayerSpec[] = [
  { kind: 'input', shape: [1, 28, 28] },
  { kind: 'conv2d', name: 'conv', inChannels: 1, outChannels: 2, kernelSize: 3, stride: 1, padding: 0 },
  { kind: 'relu' },
  { kind: 'maxpool2d', kernelSize: 2, stride: 2 },
  { kind: 'flatten' },
  { kind: 'dense', name: 'fc1', inFeatures: 338, outFeatures: 8 },
  { kind: 'relu' },
  { kind: 'dense', name: 'fc2', inFeatures: 8, outFeatures: 10, head: 'policy' },
  { kind: 'dense', name: 'rot', inFeatures: 8, outFeatures: 4, head: 'rotation' },
];

/** Mutated weights files through the safetensors reader. */
export async function fuzzReader(count: number, seed: number): Promise<ReaderFuzzReport> {
  const network = buildNetwork(READER_FUZZ_ARCHITECTURE);
  const original = initialParameters(network, seed);
  const file = await writeModel(network, original, { version: 'reader-fuzz', created: '2026-04-01T00:00:00.000Z', metrics: { seed } });
  const byKind: ReaderFuzzReport['byKind'] = {};
  const examples: string[] = [];
  let slowestMs = 0;
  let failures = 0;
  for (const { kind, bytes } of await mutatedModelFiles(file, count, seed)) {
    const started = performance.now();
    const outcome = await checkReader(bytes, original);
    slowestMs = Math.max(slowestMs, performance.now() - started);
    const tally = (byKind[kind] ??= { tried: 0, refused: 0, acceptedUnchanged: 0, failures: 0 });
    tally.tried++;
    if (!outcome.ok) {
      tally.failures++;
      failures++;
      if (examples.length < 10) examples.push(`${kind}: ${outcome.failure}: ${outcome.detail}`);
    } else if (outcome.outcome === 'refused') tally.refused++;
    else tally.acceptedUnchanged++;
  }
  // The unmutated file still reads: the mutations, not the reader, made the difference.
  await readModel(file);
  return { files: count, byKind, slowestMs, examples, failures };
}
