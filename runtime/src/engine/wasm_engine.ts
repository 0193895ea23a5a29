// Inference on the WebAssembly SIMD kernels of wasm/simd_engine.wat: what the edge serves with, on Workers and Node.
//
// The network's layer list is planned here once: weights are laid out for the kernels (channels last, padded to 4
// lanes), every buffer is placed in the module's memory, and `logits` runs the stages over tiles of images, so a
// dense layer's weight rows serve every image of a tile while they are in cache. The caller compiles the module
// (wrangler imports the .wasm as a module; Node reads the file): this file stays free of Node and of fetch.
import { checkBatch, type Conv2dSpec, type DenseSpec, headClasses, type HeadName, type MaxPool2dSpec, type Network } from './architecture';
import { assertNever, planStages, stageEnd } from './fusion';
import type { ModelFile } from './safetensors';

/** What the edge asks of an engine; CpuEngine (the reference) and WasmEngine both answer it. */
export interface InferenceEngine {
  readonly network: Network;
  readonly inputSize: number;
  classes(head?: HeadName): number;
  /** Logits of one head for `batch` inputs laid out one after another. */
  logits(pixels: Float32Array, batch: number, head?: HeadName): Float32Array;
}

interface SimdKernels {
  memory: WebAssembly.Memory;
  conv2d(x: number, batch: number, h: number, w: number, cin: number, weight: number, bias: number, o4: number, k: number, stride: number, pad: number, oh: number, ow: number, out: number, relu: number, pk: number, ps: number): void;
  maxpool2d(x: number, batch: number, h: number, w: number, c4: number, k: number, stride: number, oh: number, ow: number, out: number): void;
  relu(x: number, count: number): void;
  dense(x: number, batch: number, inCount: number, weight: number, bias: number, baseline: number, o4: number, out: number, relu: number, list: number, meta: number, block: number): void;
}

/** An activation as laid out in memory: h×w pixels of `stride` floats each, the first `channels` of them real. */
interface Layout {
  h: number;
  w: number;
  channels: number;
  stride: number;
}

/** Runs on a tile of `batch` images from the buffer at `input` into the one at `output` (or in place). */
interface Stage {
  inPlace: boolean;
  out: Layout;
  run(input: number, output: number, batch: number): void;
}

const pad4 = (n: number) => (n + 3) & ~3;
const floats = (layout: Layout) => layout.h * layout.w * layout.stride;
/** An activation after a max pool (no padding: windows that would cross the edge are dropped). */
const pooled = (from: Layout, { kernelSize: k, stride }: MaxPool2dSpec): Layout => ({ ...from, h: Math.floor((from.h - k) / stride) + 1, w: Math.floor((from.w - k) / stride) + 1 });
/** Per buffer, in floats: a tile holds as many images as fit, at most MAX_TILE. */
const TILE_FLOATS = 1 << 19;
const MAX_TILE = 32;
/** Weight rows a dense layer takes per pass over a tile: about 32 KiB, an L1 cache's worth. */
const DENSE_BLOCK_BYTES = 32 * 1024;
const SLACK_BYTES = 16;

export class WasmEngine implements InferenceEngine {
  readonly network: Network;
  readonly inputSize: number;
  /** Images per tile. */
  readonly tile: number;
  /** The trunk's stages as the kernels run them, fused layers joined by `+` (e.g. `conv2d+relu+maxpool2d`). */
  readonly stages: string[] = [];
  private readonly kernels: SimdKernels;
  private readonly tensors: Map<string, Float32Array>;
  private readonly input: Layout;
  private readonly trunk: Stage[] = [];
  private readonly heads = new Map<HeadName, Stage>();
  private readonly buffers: [number, number];
  private readonly list: number;
  private readonly meta: number;
  private next: number;

  constructor(module: WebAssembly.Module, model: Pick<ModelFile, 'network' | 'tensors'>) {
    this.network = model.network;
    this.tensors = model.tensors;
    this.kernels = new WebAssembly.Instance(module, {}).exports as unknown as SimdKernels;
    const [c, h, w] = this.network.input;
    this.inputSize = c * h * w;
    // Pooling and ReLU take whole lanes of 4 channels; a convolution or dense layer reads any pixel stride.
    const firstWork = this.network.trunk.find(({ layer }) => layer.kind !== 'relu')?.layer.kind;
    this.input = { h, w, channels: c, stride: firstWork === 'maxpool2d' ? pad4(c) : c };
    const largest = Math.max(floats(this.input), ...this.network.trunk.map(({ outShape }) => floats(this.layoutOf(outShape))), ...Object.values(this.network.heads).map((head) => pad4(head.outFeatures)));
    this.tile = Math.max(1, Math.min(MAX_TILE, Math.floor(TILE_FLOATS / largest)));
    this.next = 0;
    const bufferBytes = this.tile * largest * 4 + SLACK_BYTES;
    this.buffers = [this.allocate(bufferBytes), this.allocate(bufferBytes)];
    this.list = this.allocate(this.tile * largest * 8);
    this.meta = this.allocate(this.tile * 8);
    this.compileTrunk();
    const trunkOut = this.trunk.at(-1)?.out ?? this.input;
    for (const [head, spec] of Object.entries(this.network.heads) as [HeadName, Network['heads']['policy']][]) {
      this.heads.set(head, this.denseStage(spec.name, trunkOut, spec.outFeatures, false));
    }
  }

  classes(head: HeadName = 'policy'): number {
    return headClasses(this.network, head);
  }

  logits(pixels: Float32Array, batch: number, head: HeadName = 'policy'): Float32Array {
    checkBatch(pixels, batch, this.inputSize);
    const stage = this.heads.get(head);
    if (!stage) throw new Error(`the model has no ${head} head`);
    const classes = stage.out.channels;
    const out = new Float32Array(batch * classes);
    for (let first = 0; first < batch; first += this.tile) {
      const count = Math.min(this.tile, batch - first);
      this.writeInput(pixels, first, count);
      const features = this.runStages(this.trunk, count);
      const result = this.buffers[features === this.buffers[0] ? 1 : 0];
      stage.run(features, result, count);
      const memory = new Float32Array(this.kernels.memory.buffer);
      for (let n = 0; n < count; n++) {
        const at = result / 4 + n * stage.out.stride;
        out.set(memory.subarray(at, at + classes), (first + n) * classes);
      }
    }
    return out;
  }

  /** The layout of a trunk activation shape: images keep their channels last, padded to 4 lanes. */
  private layoutOf(shape: number[]): Layout {
    if (shape.length === 3) return { h: shape[1], w: shape[2], channels: shape[0], stride: pad4(shape[0]) };
    return { h: 1, w: 1, channels: shape[0], stride: pad4(shape[0]) };
  }

  /** Reserves `bytes` in the module's memory (16-byte aligned), growing it as needed; returns the address. */
  private allocate(bytes: number): number {
    const at = this.next;
    this.next = (at + bytes + 15) & ~15;
    const have = this.kernels.memory.buffer.byteLength;
    if (this.next > have) this.kernels.memory.grow(Math.ceil((this.next - have) / 65536));
    return at;
  }

  private place(values: Float32Array): number {
    const at = this.allocate(values.byteLength);
    new Float32Array(this.kernels.memory.buffer, at, values.length).set(values);
    return at;
  }

  private param(layer: string, kind: 'weight' | 'bias'): Float32Array {
    const tensor = this.tensors.get(`${layer}.${kind}`);
    if (!tensor) throw new Error(`missing tensor ${layer}.${kind}`);
    return tensor;
  }

  /** Copies images [first, first + count) into the first buffer, channels last at the input's pixel stride. */
  private writeInput(pixels: Float32Array, first: number, count: number): void {
    const memory = new Float32Array(this.kernels.memory.buffer);
    const base = this.buffers[0] / 4;
    const { h, w, channels, stride } = this.input;
    if (channels === 1 && stride === 1) {
      memory.set(pixels.subarray(first * this.inputSize, (first + count) * this.inputSize), base);
      return;
    }
    const plane = h * w;
    const image = plane * stride;
    for (let n = 0; n < count; n++) {
      const from = (first + n) * this.inputSize;
      for (let p = 0; p < plane; p++) {
        for (let ch = 0; ch < stride; ch++) memory[base + n * image + p * stride + ch] = ch < channels ? pixels[from + ch * plane + p] : 0;
      }
    }
  }

  /** Runs stages on a tile in the first buffer; returns the buffer that holds the result. */
  private runStages(stages: Stage[], batch: number): number {
    let [current, other] = this.buffers;
    for (const stage of stages) {
      stage.run(current, other, batch);
      if (!stage.inPlace) [current, other] = [other, current];
    }
    return current;
  }

  /** What the trunk compiled so far gives for an all-zero image. */
  private zeroImageOutput(layout: Layout): Float32Array {
    new Float32Array(this.kernels.memory.buffer, this.buffers[0], floats(this.input)).fill(0);
    const at = this.runStages(this.trunk, 1);
    return new Float32Array(this.kernels.memory.buffer, at, floats(layout)).slice();
  }

  /**
   * The trunk as the shared plan's stages (fusion.ts). The kernels fuse a ReLU into a convolution or a dense layer, and
   * a max pool into the convolution before it when its windows do not overlap (stride ≥ size: overlapping ones would
   * sum the convolution's shared outputs twice); any other pool stays its own stage.
   */
  private compileTrunk(): void {
    const trunk = this.network.trunk;
    const poolAt = (at: number) => trunk[at].layer as MaxPool2dSpec;
    let layout = this.input;
    for (const planned of planStages(trunk, (_, pool) => poolAt(pool).stride >= poolAt(pool).kernelSize)) {
      const { layer } = trunk[planned.at];
      let stage: Stage | undefined;
      switch (planned.kind) {
        case 'conv2d': {
          const conv = layer as Conv2dSpec;
          const pool = planned.pool === undefined ? undefined : poolAt(planned.pool);
          stage = this.conv2dStage(conv.name, layout, conv.outChannels, conv.kernelSize, conv.stride, conv.padding, planned.relu, pool);
          break;
        }
        case 'dense': {
          const dense = layer as DenseSpec;
          stage = this.denseStage(dense.name, layout, dense.outFeatures, planned.relu);
          break;
        }
        case 'relu': {
          const count = floats(layout);
          stage = { inPlace: true, out: layout, run: (x, _, batch) => this.kernels.relu(x, batch * count) };
          break;
        }
        case 'maxpool2d': {
          const { kernelSize: k, stride } = layer as MaxPool2dSpec;
          const from = layout;
          const out = pooled(from, layer as MaxPool2dSpec);
          stage = { inPlace: false, out, run: (x, y, batch) => this.kernels.maxpool2d(x, batch, from.h, from.w, from.stride, k, stride, out.h, out.w, y) };
          break;
        }
        case 'flatten':
          break; // a dense layer reads the pixels in place, its weights permuted to match (see denseStage)
        default:
          assertNever(planned, 'stage kind');
      }
      if (stage) {
        this.stages.push(trunk.slice(planned.at, stageEnd(planned) + 1).map(({ layer }) => layer.kind).join('+'));
        this.trunk.push(stage);
        layout = stage.out;
      }
    }
  }

  /**
   * weight[ky, kx, ic, oc] from PyTorch's [oc, ic, ky, kx], input channels at the input's stride, outputs padded to 4;
   * with `pool`, the kernel writes the pooled activation only.
   */
  private conv2dStage(name: string, from: Layout, outChannels: number, k: number, stride: number, padding: number, relu: boolean, pool?: MaxPool2dSpec): Stage {
    const weight = this.param(name, 'weight');
    const o4 = pad4(outChannels);
    const laidOut = new Float32Array(k * k * from.stride * o4);
    for (let oc = 0; oc < outChannels; oc++) {
      for (let ic = 0; ic < from.channels; ic++) {
        for (let t = 0; t < k * k; t++) laidOut[(t * from.stride + ic) * o4 + oc] = weight[(oc * from.channels + ic) * k * k + t];
      }
    }
    const bias = new Float32Array(o4);
    bias.set(this.param(name, 'bias'));
    const weightAt = this.place(laidOut);
    const biasAt = this.place(bias);
    const convolved: Layout = { h: Math.floor((from.h + 2 * padding - k) / stride) + 1, w: Math.floor((from.w + 2 * padding - k) / stride) + 1, channels: outChannels, stride: o4 };
    const out = pool ? pooled(convolved, pool) : convolved;
    const [pk, ps] = pool ? [pool.kernelSize, pool.stride] : [1, 1];
    return {
      inPlace: false,
      out,
      run: (x, y, batch) => this.kernels.conv2d(x, batch, from.h, from.w, from.stride, weightAt, biasAt, o4, k, stride, padding, out.h, out.w, y, relu ? 1 : 0, pk, ps),
    };
  }

  /**
   * weight[i, o] for input i in memory order (pixel, channel), from PyTorch's [o, channel·h·w + pixel]: a flattened
   * image is read channels last without moving it. The bias takes weight·baseline (the input of an all-zero image),
   * so the kernel multiplies only the inputs that differ from it (see simd_engine.wat).
   */
  private denseStage(name: string, from: Layout, outFeatures: number, relu: boolean): Stage {
    const weight = this.param(name, 'weight');
    const plane = from.h * from.w;
    const inFeatures = from.channels * plane;
    const inCount = plane * from.stride;
    const o4 = pad4(outFeatures);
    const laidOut = new Float32Array(inCount * o4);
    for (let p = 0; p < plane; p++) {
      for (let ch = 0; ch < from.channels; ch++) {
        const row = (p * from.stride + ch) * o4;
        for (let o = 0; o < outFeatures; o++) laidOut[row + o] = weight[o * inFeatures + ch * plane + p];
      }
    }
    const baseline = this.zeroImageOutput(from);
    const bias = new Float32Array(o4);
    const bias32 = this.param(name, 'bias');
    for (let o = 0; o < outFeatures; o++) {
      let sum = bias32[o];
      for (let i = 0; i < inCount; i++) sum += laidOut[i * o4 + o] * baseline[i];
      bias[o] = sum;
    }
    const weightAt = this.place(laidOut);
    const biasAt = this.place(bias);
    const baselineAt = this.place(baseline);
    const block = Math.max(1, Math.floor(DENSE_BLOCK_BYTES / (o4 * 4)));
    const out: Layout = { h: 1, w: 1, channels: outFeatures, stride: o4 };
    return {
      inPlace: false,
      out,
      run: (x, y, batch) => this.kernels.dense(x, batch, inCount, weightAt, biasAt, baselineAt, o4, y, relu ? 1 : 0, this.list, this.meta, block),
    };
  }
}
