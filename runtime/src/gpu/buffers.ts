// Storage buffers: creation with data, and explicit (rare) read-back.
import type { KernelDef } from '@seed/kernels';
import type { Gpu } from './device';
import { record, type BufferRange, type PipelineCache } from './pipelines';

export type TypedArray = Float32Array | Uint32Array | Int32Array;

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** A storage buffer of `bytes` (rounded up to 16), zero-filled, or holding `data`. */
export function createStorage(gpu: Gpu, label: string, init: number | TypedArray): GPUBuffer {
  const bytes = typeof init === 'number' ? init : init.byteLength;
  const buffer = gpu.device.createBuffer({ label, size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: STORAGE() });
  if (typeof init !== 'number') gpu.device.queue.writeBuffer(buffer, 0, init.buffer, init.byteOffset, init.byteLength);
  return buffer;
}

/** Copies `bytes` from a buffer (or range) back to the CPU. Waits for the queue: use sparingly. */
export async function readBytes(gpu: Gpu, source: BufferRange, bytes?: number): Promise<ArrayBuffer> {
  const { buffer, offset } = 'buffer' in source ? source : { buffer: source, offset: 0 };
  const size = bytes ?? source.size;
  const aligned = Math.ceil(size / 4) * 4;
  const staging = gpu.device.createBuffer({ label: `read ${buffer.label}`, size: aligned, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = gpu.device.createCommandEncoder({ label: `read ${buffer.label}` });
  encoder.copyBufferToBuffer(buffer, offset, staging, 0, aligned);
  gpu.device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange().slice(0, size);
  staging.unmap();
    staging.destroy();
  return copy;
}

export async function readFloats(gpu: Gpu, source: BufferRange, count: number): Promise<Float32Array> {
  return new Float32Array(await readBytes(gpu, source, count * 4));
}

/**
 * Runs one kernel on CPU arrays and returns its outputs: for tests and one-off work, not for loops.
 * `outputs` gives each output's length (zero-filled) or its initial contents (for accumulating kernels).
 */
export async function runKernel<S>(
  cache: PipelineCache,
  kernel: KernelDef<S>,
  shape: S,
  inputs: Record<string, TypedArray>,
  outputs: Record<string, number | TypedArray>,
): Promise<Record<string, Float32Array | Uint32Array>> {
  const gpu = cache.gpu;
  const buffers: Record<string, GPUBuffer> = {};
  for (const [name, data] of Object.entries(inputs)) buffers[name] = createStorage(gpu, `${kernel.name}.${name}`, data);
  const kinds: Record<string, 'f32' | 'u32'> = {};
  for (const [name, init] of Object.entries(outputs)) {
    kinds[name] = init instanceof Uint32Array ? 'u32' : 'f32';
    buffers[name] = createStorage(gpu, `${kernel.name}.${name}`, typeof init === 'number' ? init * 4 : init);
  }
  const dispatch = await cache.prepare(kernel, shape, buffers);
  const encoder = gpu.device.createCommandEncoder({ label: kernel.name });
  const pass = encoder.beginComputePass({ label: kernel.name });
  record(pass, [dispatch]);
  pass.end();
  gpu.device.queue.submit([encoder.finish()]);
  const result: Record<string, Float32Array | Uint32Array> = {};
  for (const [name, init] of Object.entries(outputs)) {
    const length = typeof init === 'number' ? init : init.length;
    const bytes = await readBytes(gpu, buffers[name], length * 4);
    result[name] = kinds[name] === 'u32' ? new Uint32Array(bytes) : new Float32Array(bytes);
  }
    for (const buffer of Object.values(buffers)) buffer.destroy();
    dispatch.params.destroy();
  return result;
}
