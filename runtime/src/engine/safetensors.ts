// Weights files: safetensors (u64 LE header length, JSON header, raw little-endian f32 data) with seed metadata.
import { buildNetwork, type LayerSpec, type Network } from './architecture';

export const MODEL_FORMAT = 'seed-cnn/1';
const MAX_HEADER_BYTES = 1 << 20;

export interface ModelMetadata {
  format: typeof MODEL_FORMAT;
  version: string;
  /** Version this model was trained from, or '' for a model trained from scratch. */
  parent: string;
  /** ISO-8601 time of creation. */
  created: string;
  /** Hex sha256 of the tensor data section. */
  sha256: string;
  metrics: Record<string, unknown>;
  architecture: LayerSpec[];
}

export interface ModelFile {
  metadata: ModelMetadata;
  network: Network;
  /** Every parameter as a tensor in network.parameters order. */
  tensors: Map<string, Float32Array>;
}

export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

const fail = (message: string): never => {
  throw new ModelFileError(`weights file: ${message}`);
};

export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export interface ModelInfo {
  version: string;
  parent?: string;
  created?: string;
  metrics?: Record<string, unknown>;
}

/** Serialises parameters in network order; metadata sha256 is computed here. */
export async function writeModel(network: Network, tensors: Map<string, Float32Array>, info: ModelInfo): Promise<Uint8Array> {
  if (!info.version) fail('version must not be empty');
  const total = network.parameters.reduce((n, p) => n + p.size, 0);
  const data = new Float32Array(total);
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const p of network.parameters) {
    const tensor = tensors.get(p.name);
    if (!tensor || tensor.length !== p.size) fail(`tensor ${p.name} must have ${p.size} values, has ${tensor?.length ?? 'none'}`);
    data.set(tensor as Float32Array, offset);
    header[p.name] = { dtype: 'F32', shape: p.shape, data_offsets: [offset * 4, (offset + p.size) * 4] };
    offset += p.size;
  }
  const dataBytes = new Uint8Array(data.buffer);
  const metadata: Record<string, string> = {
    format: MODEL_FORMAT,
    architecture: JSON.stringify(network.layers),
    version: info.version,
    parent: info.parent ?? '',
    created: info.created ?? new Date().toISOString(),
    sha256: await sha256Hex(dataBytes),
    metrics: JSON.stringify(info.metrics ?? {}),
  };
  header.__metadata__ = metadata;
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference implementation does.
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const file = new Uint8Array(8 + headerBytes.length + dataBytes.length);
  new DataView(file.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  file.set(headerBytes, 8);
  file.set(dataBytes, 8 + headerBytes.length);
  return file;
}

/** Parses and verifies a weights file: header, format, architecture, every tensor's dtype and shape, the checksum. */
export async function readModel(bytes: Uint8Array): Promise<ModelFile> {
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for a safetensors file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength < 2n || headerLength > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    fail(`header length ${headerLength} does not fit a ${bytes.length}-byte file (not a safetensors file?)`);
  }
  const headerEnd = 8 + Number(headerLength);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, headerEnd)));
  } catch {
    return fail('header is not valid UTF-8 JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header must be a JSON object');
  const raw = header.__metadata__ as Record<string, unknown> | undefined;
  if (typeof raw !== 'object' || raw === null) fail('no __metadata__');
  for (const [key, value] of Object.entries(raw as object)) {
    if (typeof value !== 'string') fail(`__metadata__.${key} must be a string`);
  }
  const meta = raw as Record<string, string>;
  if (meta.format !== MODEL_FORMAT) fail(`format is ${JSON.stringify(meta.format)}, expected "${MODEL_FORMAT}"`);
  for (const key of ['architecture', 'version', 'parent', 'created', 'sha256', 'metrics']) {
    if (meta[key] === undefined) fail(`__metadata__ has no ${key}`);
  }
  if (!meta.version) fail('__metadata__.version is empty');
  if (!/^[0-9a-f]{64}$/.test(meta.sha256)) fail('__metadata__.sha256 is not a hex sha256');
  const parseJson = (key: string): unknown => {
    try {
      return JSON.parse(meta[key]);
    } catch {
      return fail(`__metadata__.${key} is not valid JSON`);
    }
  };
  let network: Network;
  try {
    network = buildNetwork(parseJson('architecture'));
  } catch (error) {
    return fail((error as Error).message);
  }
  const metrics = parseJson('metrics');
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) fail('__metadata__.metrics must be a JSON object');

  const data = bytes.subarray(headerEnd);
  const expected = new Set(network.parameters.map((p) => p.name));
  for (const name of Object.keys(header)) {
    if (name !== '__metadata__' && !expected.has(name)) fail(`unexpected tensor ${name} (the architecture has ${[...expected].join(', ')})`);
  }
  const tensors = new Map<string, Float32Array>();
  const ranges: [number, number][] = [];
  for (const p of network.parameters) {
    const entry = header[p.name] as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | undefined;
    if (!entry) fail(`missing tensor ${p.name}`);
    const { dtype, shape, data_offsets: offsets } = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (dtype !== 'F32') fail(`${p.name} has dtype ${JSON.stringify(dtype)}, expected F32`);
    if (!Array.isArray(shape) || shape.length !== p.shape.length || shape.some((d, i) => d !== p.shape[i])) {
      fail(`${p.name} has shape ${JSON.stringify(shape)}, the architecture needs [${p.shape.join(',')}]`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) fail(`${p.name} has bad data_offsets`);
    const [begin, end] = offsets as [number, number];
    if (end - begin !== p.size * 4 || end > data.length) fail(`${p.name} data_offsets [${begin},${end}] do not hold ${p.size} f32 values in ${data.length} bytes`);
    ranges.push([begin, end]);
    // Copy (new Uint8Array of a view copies; a Node Buffer's slice() would not): the data section need not be
    // 4-byte aligned in the file's buffer, which may also be a view into a larger one.
    tensors.set(p.name, new Float32Array(new Uint8Array(data.subarray(begin, end)).buffer));
  }
  ranges.sort((a, b) => a[0] - b[0]);
  let covered = 0;
  for (const [begin, end] of ranges) {
    if (begin !== covered) fail('tensor data overlaps or leaves gaps');
    covered = end;
  }
  if (covered !== data.length) fail(`${data.length - covered} bytes after the last tensor`);
  const checksum = await sha256Hex(data);
  if (checksum !== meta.sha256) fail(`checksum mismatch: data hashes to ${checksum.slice(0, 12)}…, metadata says ${meta.sha256.slice(0, 12)}…`);
  for (const [name, tensor] of tensors) {
    if (!tensor.every(Number.isFinite)) fail(`${name} holds a value that is not finite`);
  }
  return {
    metadata: {
      format: MODEL_FORMAT,
      version: meta.version,
      parent: meta.parent,
      created: meta.created,
      sha256: meta.sha256,
      metrics: metrics as Record<string, unknown>,
      architecture: network.layers,
    },
    network,
    tensors,
  };
}
