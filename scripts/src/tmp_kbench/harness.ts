// TEMPORARY micro-benchmark harness (delete before handing back).
import { getGpu, backendFromEnv, createStorage } from '@seed/runtime';
export const gpu = await getGpu(backendFromEnv());
export const device = gpu.device;
export interface Exp { name: string; code: string; constants?: Record<string, number>; buffers: (GPUBuffer)[]; ro: number; params?: Uint32Array; wg: [number, number, number] }
export function buf(n: number, fill?: (i: number) => number) {
  const a = new Float32Array(n); if (fill) for (let i = 0; i < n; i++) a[i] = fill(i); else for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return createStorage(gpu, 'b', a);
}
export let lastCpu = 0;
export async function time(e: Exp, reps = 15): Promise<number> {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code: e.code });
  const entries: GPUBindGroupLayoutEntry[] = e.buffers.map((_, i) => ({ binding: i, visibility: GPUShaderStage.COMPUTE, buffer: { type: i < e.ro ? 'read-only-storage' : 'storage' } as GPUBufferBindingLayout }));
  let params: GPUBuffer | undefined;
  if (e.params) { entries.push({ binding: e.buffers.length, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } }); params = device.createBuffer({ size: Math.max(16, Math.ceil(e.params.byteLength / 16) * 16), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }); device.queue.writeBuffer(params, 0, e.params); }
  const layout = device.createBindGroupLayout({ entries });
  const pipeline = device.createComputePipeline({ layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }), compute: { module, entryPoint: 'main', constants: e.constants ?? {} } });
  const bg = device.createBindGroup({ layout, entries: [...e.buffers.map((b, i) => ({ binding: i, resource: { buffer: b } })), ...(params ? [{ binding: e.buffers.length, resource: { buffer: params } }] : [])] });
  const err = await device.popErrorScope(); if (err) throw new Error(e.name + ': ' + err.message);
  const run = () => { const enc = device.createCommandEncoder(); const p = enc.beginComputePass(); p.setPipeline(pipeline); p.setBindGroup(0, bg); p.dispatchWorkgroups(...e.wg); p.end(); device.queue.submit([enc.finish()]); };
  run(); await device.queue.onSubmittedWorkDone();
  const ts: number[] = []; const cs: number[] = [];
  for (let r = 0; r < reps; r++) { const c = process.cpuUsage(); const t = performance.now(); run(); await device.queue.onSubmittedWorkDone(); ts.push(performance.now() - t); const d = process.cpuUsage(c); cs.push((d.user + d.system) / 1000); }
  ts.sort((a, b) => a - b); cs.sort((a, b) => a - b);
  lastCpu = cs[Math.floor(cs.length / 2)];
  return ts[0];
}
