// The network on the GPU for one batch size: activation buffers, and the forward and backward dispatches of
// every layer, prepared once. The trunk runs as the stages planStages fuses (shared with the CPU engine); each stage
// kind is one record below with its forward and backward side by side, and backward walks the stages in reverse.
import {
  conv2dBackwardInput, conv2dBackwardPartialsSize, conv2dBackwardSum, conv2dBackwardWeight, conv2dCanFusePool, conv2dForward,
  denseBackwardBias, denseBackwardInput, denseBackwardWeight, denseForward,
  maxPool2dBackward, maxPool2dForward, reluBackward, reluForward,
  type Conv2dShape, type DenseShape, type MaxPool2dShape,
} from '@seed/kernels';
import type { ActivationShape, Conv2dSpec, DenseSpec, HeadName, MaxPool2dSpec, Network } from '../engine/architecture';
import { planStages, stageEnd, type Stage, type StageKind } from '../engine/fusion';
import { createStorage } from '../gpu/buffers';
import type { Gpu } from '../gpu/device';
import type { Dispatch, PipelineCache } from '../gpu/pipelines';
import type { ParameterStore } from './parameters';

export interface GraphOptions {
  batch: number;
  /** Heads computed by forward; backward starts from the gradients of their logits. */
  heads: HeadName[];
  /** Add parameter gradients to what the buffer holds (a second graph in the same step), instead of overwriting. */
  accumulate?: boolean;
  /**
   * The same for the heads' parameters (default: as `accumulate`). A step whose second graph trains a head no earlier
   * graph wrote must overwrite that head's gradients, or they would add up over the steps.
   */
  accumulateHeads?: boolean;
  /** Build backward dispatches (false for inference-only graphs). */
  train?: boolean;
}

const elements = (shape: ActivationShape) => shape.reduce((a, b) => a * b, 1);

/** A stage's buffers after its forward pass: its input, its output, and what its backward needs besides. */
interface Activation {
  x: GPUBuffer;
  y: GPUBuffer;
  argmax?: GPUBuffer;
}

/** What a stage record works with: the graph's buffers and dispatch lists, shapes, and the parameter store. */
interface Builder {
  cache: PipelineCache;
  store: ParameterStore;
  batch: number;
  accumulate: boolean;
  trunk: Network['trunk'];
  buffer(label: string, perSample: number): GPUBuffer;
  /** A buffer of `bytes`, whatever the batch. */
  storage(label: string, bytes: number): GPUBuffer;
  forward: Dispatch[];
  backward: Dispatch[];
  denseBackward(spec: DenseSpec, x: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer | undefined, accumulateInput: boolean): Promise<void>;
}

interface StageRecord<S extends Stage> {
  /** Records the forward dispatches of the stage on input x. */
  forward(g: Builder, stage: S, x: GPUBuffer): Promise<Activation>;
  /** Records the backward dispatches from the gradient dy of the stage's output; returns the input's gradient if asked. */
  backward(g: Builder, stage: S, act: Activation, dy: GPUBuffer, needInputGrad: boolean): Promise<GPUBuffer | undefined>;
}

function convShape(g: Builder, stage: Extract<Stage, { kind: 'conv2d' }>, extra: Partial<Conv2dShape> = {}): Conv2dShape {
  const { layer, inShape: [c, h, w] } = g.trunk[stage.at] as { layer: Conv2dSpec; inShape: number[] };
  const pool = stage.pool === undefined ? undefined : (g.trunk[stage.pool].layer as MaxPool2dSpec);
  return {
    batch: g.batch, inChannels: c, outChannels: layer.outChannels, height: h, width: w, kernelSize: layer.kernelSize, stride: layer.stride, padding: layer.padding,
    pool: pool && { kernelSize: pool.kernelSize, stride: pool.stride }, ...extra,
  };
}

function poolShape(g: Builder, at: number): MaxPool2dShape {
  const { layer, inShape: [c, h, w] } = g.trunk[at] as { layer: MaxPool2dSpec; inShape: number[] };
  return { batch: g.batch, channels: c, height: h, width: w, kernelSize: layer.kernelSize, stride: layer.stride };
}

/**
 * Backward of the ReLU at trunk index `at`, on the stage's output y (after a fused pool: the pooled tensors, since
 * max and ReLU commute).
 */
async function reluBackwardOf(g: Builder, at: number, y: GPUBuffer, dy: GPUBuffer, perSample: number): Promise<GPUBuffer> {
  const dx = g.buffer(`relu ${at} in grad`, perSample);
  g.backward.push(await g.cache.prepare(reluBackward, { count: g.batch * perSample }, { y, dy, dx }, `relu ${at} backward`));
  return dx;
}

const STAGES: { [K in StageKind]: StageRecord<Extract<Stage, { kind: K }>> } = {
  conv2d: {
    async forward(g, stage, x) {
      const layer = g.trunk[stage.at].layer as Conv2dSpec;
      const y = g.buffer(`${layer.name} out`, elements(g.trunk[stageEnd(stage)].outShape));
      const buffers = { input: x, weight: g.store.range('params', `${layer.name}.weight`), bias: g.store.range('params', `${layer.name}.bias`), output: y };
      g.forward.push(await g.cache.prepare(conv2dForward, convShape(g, stage, { relu: stage.relu }), buffers, `${layer.name} forward`));
      return { x, y };
    },
    async backward(g, stage, { x, y }, dy, needInputGrad) {
      const layer = g.trunk[stage.at].layer as Conv2dSpec;
      const gradOut = stage.relu ? await reluBackwardOf(g, stage.at + 1, y, dy, elements(g.trunk[stageEnd(stage)].outShape)) : dy;
      const shape = convShape(g, stage, { accumulate: g.accumulate });
      // Weight and bias gradients in slices of the batch, then added up.
      const partials = g.storage(`${layer.name} gradient slices`, conv2dBackwardPartialsSize(shape) * 4);
      g.backward.push(await g.cache.prepare(conv2dBackwardWeight, shape, { input: x, weight: g.store.range('params', `${layer.name}.weight`), gradOutput: gradOut, partials }, `${layer.name} backward weight`));
      g.backward.push(await g.cache.prepare(conv2dBackwardSum, shape, { partials, gradWeight: g.store.range('grads', `${layer.name}.weight`), gradBias: g.store.range('grads', `${layer.name}.bias`) }, `${layer.name} backward sum`));
      if (!needInputGrad) return undefined;
      const dx = g.buffer(`${layer.name} in grad`, elements(g.trunk[stage.at].inShape));
      g.backward.push(await g.cache.prepare(conv2dBackwardInput, shape, { gradOutput: gradOut, weight: g.store.range('params', `${layer.name}.weight`), gradInput: dx }, `${layer.name} backward input`));
      return dx;
    },
  },
  dense: {
    async forward(g, stage, x) {
      const layer = g.trunk[stage.at].layer as DenseSpec;
      const y = g.buffer(`${layer.name} out`, layer.outFeatures);
      const shape: DenseShape = { batch: g.batch, inFeatures: layer.inFeatures, outFeatures: layer.outFeatures, relu: stage.relu };
      g.forward.push(await g.cache.prepare(denseForward, shape, { input: x, weight: g.store.range('params', `${layer.name}.weight`), bias: g.store.range('params', `${layer.name}.bias`), output: y }, `${layer.name} forward`));
      return { x, y };
    },
    async backward(g, stage, { x, y }, dy, needInputGrad) {
      const layer = g.trunk[stage.at].layer as DenseSpec;
      const gradOut = stage.relu ? await reluBackwardOf(g, stage.at + 1, y, dy, layer.outFeatures) : dy;
      const dx = needInputGrad ? g.buffer(`${layer.name} in grad`, layer.inFeatures) : undefined;
      await g.denseBackward(layer, x, gradOut, dx, false);
      return dx;
    },
  },
  relu: {
    async forward(g, stage, x) {
      const perSample = elements(g.trunk[stage.at].outShape);
      const y = g.buffer(`relu ${stage.at} out`, perSample);
      g.forward.push(await g.cache.prepare(reluForward, { count: g.batch * perSample }, { x, y }, `relu ${stage.at} forward`));
      return { x, y };
    },
    backward: (g, stage, { y }, dy) => reluBackwardOf(g, stage.at, y, dy, elements(g.trunk[stage.at].outShape)),
  },
  maxpool2d: {
    async forward(g, stage, x) {
      const perSample = elements(g.trunk[stage.at].outShape);
      const y = g.buffer(`pool ${stage.at} out`, perSample);
      const argmax = g.buffer(`pool ${stage.at} argmax`, perSample);
      g.forward.push(await g.cache.prepare(maxPool2dForward, poolShape(g, stage.at), { input: x, output: y, argmax }, `pool ${stage.at} forward`));
      return { x, y, argmax };
    },
    async backward(g, stage, { argmax }, dy) {
      const dx = g.buffer(`pool ${stage.at} in grad`, elements(g.trunk[stage.at].inShape));
      g.backward.push(await g.cache.prepare(maxPool2dBackward, poolShape(g, stage.at), { gradOutput: dy, argmax: argmax!, gradInput: dx }, `pool ${stage.at} backward`));
      return dx;
    },
  },
  // NCHW is already flat in C,H,W order: flatten is the same buffer both ways.
  flatten: {
    forward: async (_g, _stage, x) => ({ x, y: x }),
    backward: async (_g, _stage, _act, dy) => dy,
  },
};

/** The record of a stage's kind, typed for that stage. */
const recordOf = <S extends Stage>(stage: S): StageRecord<S> => STAGES[stage.kind] as unknown as StageRecord<S>;

export class Graph {
  /** [batch, C, H, W] input images. */
  readonly input: GPUBuffer;
  /** [batch, features] output of the trunk, which every head reads. */
  features!: GPUBuffer;
  readonly logits = new Map<HeadName, GPUBuffer>();
  /** Written by a loss kernel before backward. */
  readonly gradLogits = new Map<HeadName, GPUBuffer>();
  readonly forward: Dispatch[] = [];
  readonly backward: Dispatch[] = [];
  private readonly buffers: GPUBuffer[] = [];

  private constructor(private readonly gpu: Gpu, readonly network: Network, readonly batch: number) {
    this.input = this.buffer('input', elements(network.input));
  }

  static async build(cache: PipelineCache, store: ParameterStore, options: GraphOptions): Promise<Graph> {
    const graph = new Graph(cache.gpu, store.network, options.batch);
    await graph.assemble(cache, store, options);
    return graph;
  }

  private buffer(label: string, perSample: number): GPUBuffer {
    const buffer = createStorage(this.gpu, `${label} [${this.batch}×${perSample}]`, this.batch * perSample * 4);
    this.buffers.push(buffer);
    return buffer;
  }

  private async assemble(cache: PipelineCache, store: ParameterStore, options: GraphOptions): Promise<void> {
    const { network, batch } = this;
    const train = options.train ?? true;
    const g: Builder = {
      cache, store, batch, accumulate: options.accumulate ?? false, trunk: network.trunk,
      buffer: (label, perSample) => this.buffer(label, perSample),
      storage: (label, bytes) => {
        const created = createStorage(this.gpu, label, bytes);
        this.buffers.push(created);
        return created;
      },
      forward: this.forward, backward: this.backward,
      denseBackward: (spec, x, dy, dx, accumulateInput) => this.denseBackward(g, spec, x, dy, dx, accumulateInput),
    };
    // Max pools fused into the convolution before them: its output is then never stored, and ReLU's backward runs on
    // the 4× smaller pooled tensors. When training, only where no input gradient is needed (the first layer) and the
    // weight gradient can take the pool.
    const stages = planStages(network.trunk, (conv, pool) => !train || (conv === 0 && conv2dCanFusePool(convShape(g, { kind: 'conv2d', at: conv, relu: false }), network.trunk[pool].layer as MaxPool2dSpec)));
    const acts: Activation[] = [];
    let x = this.input;
    for (const stage of stages) {
      const act = await recordOf(stage).forward(g, stage, x);
      acts.push(act);
      x = act.y;
    }
    const features = x;
    this.features = features;

    for (const head of options.heads) {
      const spec = network.heads[head];
      if (!spec) throw new Error(`the network has no ${head} head`);
      const logits = this.buffer(`${spec.name} logits`, spec.outFeatures);
      this.logits.set(head, logits);
      this.forward.push(await cache.prepare(denseForward, { batch, inFeatures: spec.inFeatures, outFeatures: spec.outFeatures }, { input: features, weight: store.range('params', `${spec.name}.weight`), bias: store.range('params', `${spec.name}.bias`), output: logits }, `${spec.name} forward`));
    }
    if (!train) return;

    // Backward: heads first (the second head adds into the features gradient), then the stages in reverse.
    const heads: Builder = { ...g, accumulate: options.accumulateHeads ?? g.accumulate };
    let grad = this.buffer('features grad', network.features);
    for (const [index, head] of options.heads.entries()) {
      const spec = network.heads[head];
      const gradLogits = this.buffer(`${spec.name} logits grad`, spec.outFeatures);
      this.gradLogits.set(head, gradLogits);
      await this.denseBackward(heads, spec, features, gradLogits, grad, index > 0);
    }
    for (let s = stages.length - 1; s >= 0; s--) {
      const stage = stages[s];
      const dx = await recordOf(stage).backward(g, stage, acts[s], grad, stage.at > 0);
      if (dx) grad = dx;
    }
  }

  private async denseBackward(g: Builder, spec: DenseSpec, x: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer | undefined, accumulateInput: boolean): Promise<void> {
    const shape: DenseShape = { batch: this.batch, inFeatures: spec.inFeatures, outFeatures: spec.outFeatures, accumulate: g.accumulate };
    const { cache, store } = g;
    this.backward.push(await cache.prepare(denseBackwardWeight, shape, { gradOutput: dy, input: x, gradWeight: store.range('grads', `${spec.name}.weight`) }, `${spec.name} backward weight`));
    this.backward.push(await cache.prepare(denseBackwardBias, shape, { gradOutput: dy, gradBias: store.range('grads', `${spec.name}.bias`) }, `${spec.name} backward bias`));
    if (dx) {
      this.backward.push(await cache.prepare(denseBackwardInput, { ...shape, accumulate: accumulateInput }, { gradOutput: dy, weight: store.range('params', `${spec.name}.weight`), gradInput: dx }, `${spec.name} backward input`));
    }
  }

  destroy(): void {
    for (const buffer of this.buffers) buffer.destroy();
    for (const d of [...this.forward, ...this.backward]) d.params.destroy();
  }
}
