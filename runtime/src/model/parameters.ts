// All parameters of a model in one storage buffer with per-tensor offsets; gradients and Adam state likewise.
import type { Network } from '../engine/architecture';
import type { Gpu } from '../gpu/device';
import { createStorage, readFloats } from '../gpu/buffers';
import type { BufferSlice } from '../gpu/pipelines';

/** Tensor offsets are aligned to 256 bytes, the largest minStorageBufferOffsetAlignment WebGPU allows. */
const ALIGN_FLOATS = 64;

export interface TensorSlot {
  name: string;
  /** Offset and length in floats. */
  offset: number;
  size: number;
}

export class ParameterStore {
  readonly slots = new Map<string, TensorSlot>();
  /** Floats in each buffer, padding included; Adam runs over all of them (padding stays zero). */
  readonly count: number;
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  /** Adam's m and v interleaved: [m0, v0, m1, v1, ...]. */
  readonly state: GPUBuffer;

  constructor(readonly gpu: Gpu, readonly network: Network) {
    let offset = 0;
    for (const p of network.parameters) {
      this.slots.set(p.name, { name: p.name, offset, size: p.size });
      offset += Math.ceil(p.size / ALIGN_FLOATS) * ALIGN_FLOATS;
    }
    this.count = offset;
    this.params = createStorage(gpu, 'parameters', offset * 4);
    this.grads = createStorage(gpu, 'gradients', offset * 4);
    this.state = createStorage(gpu, 'adam state', offset * 8);
  }

  private slot(name: string): TensorSlot {
    const slot = this.slots.get(name);
    if (!slot) throw new Error(`no parameter ${name}`);
    return slot;
  }

  /**
   * The range of one tensor in the parameter or gradient buffer, for binding. Its size is rounded up to 16 bytes
   * (inside the slot's zero padding) because kernels read inputs as vec4.
   */
  range(buffer: 'params' | 'grads', name: string): BufferSlice {
    const { offset, size } = this.slot(name);
    return { buffer: this[buffer], offset: offset * 4, size: Math.ceil(size / 4) * 16 };
  }

  upload(tensors: Map<string, Float32Array>): void {
    const packed = new Float32Array(this.count);
    for (const slot of this.slots.values()) {
      const tensor = tensors.get(slot.name);
      if (!tensor || tensor.length !== slot.size) throw new Error(`tensor ${slot.name} must have ${slot.size} values`);
      packed.set(tensor, slot.offset);
    }
    this.gpu.device.queue.writeBuffer(this.params, 0, packed);
  }

  /** Zeroes Adam's moments: a fresh optimizer over the current parameters. */
  resetOptimizer(): void {
    this.gpu.device.queue.writeBuffer(this.state, 0, new Float32Array(this.count * 2));
  }

  async download(buffer: 'params' | 'grads' = 'params'): Promise<Map<string, Float32Array>> {
    const packed = await readFloats(this.gpu, this[buffer], this.count);
    const tensors = new Map<string, Float32Array>();
    for (const slot of this.slots.values()) tensors.set(slot.name, packed.slice(slot.offset, slot.offset + slot.size));
    return tensors;
  }

  destroy(): void {
    this.params.destroy();
    this.grads.destroy();
    this.state.destroy();
  }
}
