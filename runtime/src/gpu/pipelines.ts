// Pipelines built once per (kernel, specialisation), bind groups built once per use, dispatches recorded many times.
import { packParams, wgslSource, type KernelDef, type Work } from '@seed/kernels';
import type { Gpu } from './device';

interface CachedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** A range of a buffer, in bytes. */
export interface BufferSlice { buffer: GPUBuffer; offset: number; size: number }

/** A buffer, or a range of one (offsets aligned to the device's minStorageBufferOffsetAlignment). */
export type BufferRange = GPUBuffer | BufferSlice;

/** A kernel ready to record: its pipeline, bind group and workgroup counts, fixed when prepared. */
export interface Dispatch {
  readonly name: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
  /** The uniform holding the params, for kernels whose params change between steps (Adam's step). */
  readonly params: GPUBuffer;
  /** Floating-point operations and least bytes moved by one run (see Work): for benchmarks. */
  readonly work: Work;
}

/** Runs `create` inside validation and internal error scopes and rethrows any error with the kernel's name. */
export async function checked<T>(device: GPUDevice, what: string, create: () => T): Promise<T> {
  device.pushErrorScope('validation');
  device.pushErrorScope('internal');
  let value: T;
  try {
    value = create();
  } finally {
    const internal = await device.popErrorScope();
    const validation = await device.popErrorScope();
    const error = internal ?? validation;
    if (error) throw new Error(`${what}: ${error.message.split('\n').filter(Boolean).slice(0, 6).join(' | ')}`);
  }
  return value;
}

export class PipelineCache {
  private readonly pipelines = new Map<string, Promise<CachedPipeline>>();
  private readonly modules = new Map<string, Promise<GPUShaderModule>>();

  constructor(readonly gpu: Gpu) {}

  get size(): number {
    return this.pipelines.size;
  }

  private module(file: string): Promise<GPUShaderModule> {
    let module = this.modules.get(file);
    if (!module) {
      const device = this.gpu.device;
      module = (async () => {
        const created = await checked(device, `WGSL ${file}.wgsl`, () =>
          device.createShaderModule({ label: file, code: wgslSource(file) }));
        const info = await created.getCompilationInfo();
        const errors = info.messages.filter((m) => m.type === 'error');
        if (errors.length) {
          throw new Error(`WGSL ${file}.wgsl: ${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join(' | ')}`);
        }
        return created;
      })();
      this.modules.set(file, module);
    }
    return module;
  }

  /** The pipeline for a kernel specialised by its override constants; created once. */
  pipeline<S>(kernel: KernelDef<S>, constants: Record<string, number>): Promise<CachedPipeline> {
    const key = `${kernel.name}|${kernel.file}|${Object.entries(constants).sort().map(([k, v]) => `${k}=${v}`).join(',')}`;
    let cached = this.pipelines.get(key);
    if (!cached) {
      const device = this.gpu.device;
      cached = (async () => {
        const module = await this.module(kernel.file);
        const entries: GPUBindGroupLayoutEntry[] = [
          ...kernel.inputs.map(() => ({ type: 'read-only-storage' as const })),
          ...kernel.outputs.map(() => ({ type: 'storage' as const })),
          { type: 'uniform' as const },
        ].map((buffer, binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer }));
        return checked(device, `pipeline ${key}`, () => {
          const layout = device.createBindGroupLayout({ label: `${kernel.name} bindings`, entries });
          const pipeline = device.createComputePipeline({
            label: key,
            layout: device.createPipelineLayout({ label: `${kernel.name} layout`, bindGroupLayouts: [layout] }),
            compute: { module, entryPoint: 'main', constants },
          });
          return { pipeline, layout };
        });
      })();
      cached.catch(() => this.pipelines.delete(key));
      this.pipelines.set(key, cached);
    }
    return cached;
  }

  /** Builds a dispatch for fixed shapes and buffers: done once, outside the training loop. */
  async prepare<S>(kernel: KernelDef<S>, shape: S, buffers: Record<string, BufferRange>, label = kernel.name): Promise<Dispatch> {
    const device = this.gpu.device;
    const { pipeline, layout } = await this.pipeline(kernel, kernel.constants?.(shape) ?? {});
    const names = [...kernel.inputs, ...kernel.outputs];
    for (const name of Object.keys(buffers)) {
      if (!names.includes(name)) throw new Error(`${kernel.name}: unknown binding "${name}" (has ${names.join(', ')})`);
    }
    const data = packParams(kernel.params(shape));
    const params = device.createBuffer({ label: `${label} params`, size: data.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(params, 0, data);
    const entries: GPUBindGroupEntry[] = names.map((name, binding) => {
      const range = buffers[name];
      if (!range) throw new Error(`${kernel.name}: binding "${name}" is missing`);
      return { binding, resource: 'buffer' in range ? range : { buffer: range } };
    });
    entries.push({ binding: names.length, resource: { buffer: params } });
    const bindGroup = await checked(device, `bind group ${label}`, () =>
      device.createBindGroup({ label, layout, entries }));
    return { name: label, pipeline, bindGroup, workgroups: kernel.workgroups(shape), params, work: kernel.work(shape) };
  }
}

/** Records dispatches into one compute pass. */
export function record(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
  }
}

/** Rewrites a prepared dispatch's params (e.g. Adam's step, a per-batch baseline); the pipeline stays the same. */
export function writeParams<S>(gpu: Gpu, dispatch: Dispatch, kernel: KernelDef<S>, shape: S): void {
  gpu.device.queue.writeBuffer(dispatch.params, 0, packParams(kernel.params(shape)));
}
