// How a WGSL kernel is bound and dispatched, as plain data: the runtime turns it into a pipeline and bind group.
//
// Binding order is fixed for every kernel: read-only storage inputs from binding 0, then read_write
// outputs, then one uniform `Params` struct. A buffer is never bound as both an input and an output.

/** A uniform field written as f32; plain numbers are written as u32. */
export interface F32 { readonly f32: number }
export const f32 = (value: number): F32 => ({ f32: value });
export type Param = number | F32;

export interface KernelDef<Shape> {
  /** Pipeline label and cache key (with the constants): e.g. 'dense_forward'. */
  readonly name: string;
  /** The .wgsl file (stem) holding the source; several kernels may specialise one file. */
  readonly file: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** The `Params` uniform fields in declaration order. */
  params(shape: Shape): Param[];
  /** Number of workgroups in x, y, z. */
  workgroups(shape: Shape): [number, number, number];
  /** WGSL `override` constants: workgroup size, tile sizes, flags. Part of the pipeline cache key. */
  constants?(shape: Shape): Record<string, number>;
  /** What one dispatch does, for benchmarks (GFLOP/s, GB/s). */
  work(shape: Shape): Work;
}

/**
 * The work of one dispatch: `flops` counts the arithmetic of the math stated at the top of its WGSL file (a multiply-add
 * is 2, a comparison or an exp 1), `bytes` the least memory traffic: each input read once, each output written once.
 */
export interface Work {
  flops: number;
  bytes: number;
}

/** Packs params into a uniform buffer image: 4 bytes each, padded to a multiple of 16 bytes. */
export function packParams(values: readonly Param[]): ArrayBuffer {
  const bytes = Math.max(16, Math.ceil((values.length * 4) / 16) * 16);
  const buffer = new ArrayBuffer(bytes);
  const view = new DataView(buffer);
  values.forEach((value, i) => {
    if (typeof value === 'number') {
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`u32 param ${i} is ${value}`);
      view.setUint32(i * 4, value, true);
    } else {
      view.setFloat32(i * 4, value.f32, true);
    }
  });
  return buffer;
}

export const MAX_WORKGROUPS_PER_DIMENSION = 65535;

/**
 * Workgroups covering `count` invocations of a 1-D kernel of `workgroupSize`, folded into y when x would
 * pass the per-dimension limit. The kernel recovers its index as gid.x + gid.y * num_workgroups.x * WG.
 */
export function grid1d(count: number, workgroupSize: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(count / workgroupSize));
  if (groups <= MAX_WORKGROUPS_PER_DIMENSION) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_WORKGROUPS_PER_DIMENSION);
  return [Math.ceil(groups / y), y, 1];
}

/**
 * Workgroups for a kernel whose invocations loop over `count` items, invocation lid of workgroup w taking items
 * w·WG + lid, then every num_workgroups.x·WG further on: enough for every CPU thread, and few, since on llvmpipe (the
 * CPU driver) each workgroup is a task of its own. Never more than MAX_WORKGROUPS_PER_DIMENSION, so never folded.
 */
export function gridStride(count: number, workgroupSize: number, maxWorkgroups = 256): [number, number, number] {
  return [Math.max(1, Math.min(Math.ceil(count / workgroupSize), maxWorkgroups)), 1, 1];
}

/**
 * Workgroups of `workgroupSize` pixels that never straddle two planes (so whatever depends on the plane is the same
 * for the whole workgroup), folded like grid1d. The kernel recovers group = wid.x + wid.y * num_workgroups.x, then
 * plane = group / tiles and pixel = (group % tiles) * WG + lid, with tiles = ceil(pixelsPerPlane / WG).
 */
export function planeTiles(planes: number, pixelsPerPlane: number, workgroupSize: number): [number, number, number] {
  return grid1d(planes * Math.ceil(pixelsPerPlane / workgroupSize) * workgroupSize, workgroupSize);
}
