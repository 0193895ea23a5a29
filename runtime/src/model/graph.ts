// The network on the GPU for one batch size: activation buffers, and the forward and backward dispatches of
// every layer, prepared once. Each layer's forward and backward sit side by side; backward walks in reverse.
import {
  conv2dBackwardInput, conv2dBackwardPartialsSize, conv2dBackwardSum, conv2dBackwardWeight, conv2dCanFusePool, conv2dForward,
  denseBackwardBias, denseBackwardInput, denseBackwardWeight, denseForward,
  maxPool2dBackward, maxPool2dForward, reluBackward, reluForward,
  type Conv2dShape, type DenseShape,
} from '@seed/kernels';
import type { ActivationShape, Conv2dSpec, DenseSpec, HeadName, MaxPool2dSpec, Network } from '../engine/architecture';
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
  /** Build backward dispatches (false for inference-only graphs). */
  train?: boolean;
}

const elements = (shape: ActivationShape) => shape.reduce((a, b) => a * b, 1);

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
  private readonly argmax = new Map<number, GPUBuffer>();

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
    const { network } = this;
    const batch = this.batch;
    const train = options.train ?? true;
    const accumulate = options.accumulate ?? false;

    // acts[i] is the output of trunk layer i, grads[i] the gradient flowing into it; index -1 is the input.
    let act = this.input;
    let grad: GPUBuffer | undefined;
    const trunk = network.trunk;
    const actsIn: GPUBuffer[] = [];
    const actsOut: GPUBuffer[] = [];
    // Max pools fused into the convolution before them (and its ReLU): the convolution's output is then never stored,
    // and ReLU's backward runs on the 4× smaller pooled tensors (max and ReLU commute). When training, only where no
    // input gradient is needed (the first layer) and the weight gradient can take the pool.
    const poolOf = new Map<number, number>(); // convolution index → its fused pool's index
    const fusedPools = new Set<number>();
    const convShape = (i: number, extra: Partial<Conv2dShape>): Conv2dShape => {
      const { layer, inShape: [c, h, w] } = trunk[i] as { layer: Conv2dSpec; inShape: number[] };
      const pool = poolOf.get(i);
      const poolLayer = pool === undefined ? undefined : (trunk[pool].layer as MaxPool2dSpec);
      return {
        batch, inChannels: c, outChannels: layer.outChannels, height: h, width: w, kernelSize: layer.kernelSize, stride: layer.stride, padding: layer.padding,
        pool: poolLayer && { kernelSize: poolLayer.kernelSize, stride: poolLayer.stride }, ...extra,
      };
    };

    for (let i = 0; i < trunk.length; i++) {
      const { layer, inShape, outShape } = trunk[i];
      const x = act;
      actsIn.push(x);
      const fuseRelu = (layer.kind === 'conv2d' || layer.kind === 'dense') && trunk[i + 1]?.layer.kind === 'relu';
      switch (layer.kind) {
        case 'conv2d': {
          const pool = fuseRelu ? i + 2 : i + 1;
          const poolLayer = trunk[pool]?.layer;
          if (poolLayer?.kind === 'maxpool2d' && (!train || (i === 0 && conv2dCanFusePool(convShape(i, {}), poolLayer)))) {
            poolOf.set(i, pool);
            fusedPools.add(pool);
          }
          const shape = convShape(i, { relu: fuseRelu });
          act = this.buffer(`${layer.name} out`, elements(trunk[poolOf.get(i) ?? i].outShape));
          this.forward.push(await cache.prepare(conv2dForward, shape, { input: x, weight: store.range('params', `${layer.name}.weight`), bias: store.range('params', `${layer.name}.bias`), output: act }, `${layer.name} forward`));
          break;
        }
        case 'dense': {
          const shape: DenseShape = { batch, inFeatures: layer.inFeatures, outFeatures: layer.outFeatures, relu: fuseRelu };
          act = this.buffer(`${layer.name} out`, layer.outFeatures);
          this.forward.push(await cache.prepare(denseForward, shape, { input: x, weight: store.range('params', `${layer.name}.weight`), bias: store.range('params', `${layer.name}.bias`), output: act }, `${layer.name} forward`));
          break;
        }
        case 'relu': {
          // Fused into the producing conv2d/dense: the relu output is the same buffer.
          const fused = trunk[i - 1]?.layer.kind === 'conv2d' || trunk[i - 1]?.layer.kind === 'dense';
          if (!fused) {
            const y = this.buffer(`relu ${i} out`, elements(outShape));
            this.forward.push(await cache.prepare(reluForward, { count: batch * elements(outShape) }, { x, y }, `relu ${i} forward`));
            act = y;
          }
          break;
        }
        case 'maxpool2d': {
          if (fusedPools.has(i)) break; // the convolution's output is already pooled
          const [c, h, w] = inShape;
          act = this.buffer(`pool ${i} out`, elements(outShape));
          const argmax = this.buffer(`pool ${i} argmax`, elements(outShape));
          this.argmax.set(i, argmax);
          this.forward.push(await cache.prepare(maxPool2dForward, { batch, channels: c, height: h, width: w, kernelSize: layer.kernelSize, stride: layer.stride }, { input: x, output: act, argmax }, `pool ${i} forward`));
          break;
        }
        case 'flatten':
          break; // NCHW is already flat in C,H,W order
      }
      actsOut.push(act);
    }
    const features = act;
    this.features = features;

    for (const head of options.heads) {
      const spec = network.heads[head];
      if (!spec) throw new Error(`the network has no ${head} head`);
      const logits = this.buffer(`${spec.name} logits`, spec.outFeatures);
      this.logits.set(head, logits);
      this.forward.push(await cache.prepare(denseForward, { batch, inFeatures: spec.inFeatures, outFeatures: spec.outFeatures }, { input: features, weight: store.range('params', `${spec.name}.weight`), bias: store.range('params', `${spec.name}.bias`), output: logits }, `${spec.name} forward`));
    }
    if (!train) return;

    // Backward: heads first (the second head adds into the features gradient), then the trunk in reverse.
    grad = this.buffer('features grad', network.features);
    const headGrad = grad;
    for (const [index, head] of options.heads.entries()) {
      const spec = network.heads[head] as DenseSpec;
      const gradLogits = this.buffer(`${spec.name} logits grad`, spec.outFeatures);
      this.gradLogits.set(head, gradLogits);
      await this.denseBackward(cache, store, spec, features, gradLogits, headGrad, accumulate, index > 0);
    }
    for (let i = trunk.length - 1; i >= 0; i--) {
      const { layer, inShape } = trunk[i];
      const dy: GPUBuffer = grad!;
      const needInputGrad = i > 0;
      switch (layer.kind) {
        case 'conv2d': {
          const shape = convShape(i, { accumulate });
          // Weight and bias gradients in slices of the batch, then added up.
          const partials = createStorage(this.gpu, `${layer.name} gradient slices`, conv2dBackwardPartialsSize(shape) * 4);
          this.buffers.push(partials);
          this.backward.push(await cache.prepare(conv2dBackwardWeight, shape, { input: actsIn[i], weight: store.range('params', `${layer.name}.weight`), gradOutput: dy, partials }, `${layer.name} backward weight`));
          this.backward.push(await cache.prepare(conv2dBackwardSum, shape, { partials, gradWeight: store.range('grads', `${layer.name}.weight`), gradBias: store.range('grads', `${layer.name}.bias`) }, `${layer.name} backward sum`));
          if (needInputGrad) {
            grad = this.buffer(`${layer.name} in grad`, elements(inShape));
            this.backward.push(await cache.prepare(conv2dBackwardInput, shape, { gradOutput: dy, weight: store.range('params', `${layer.name}.weight`), gradInput: grad }, `${layer.name} backward input`));
          }
          break;
        }
        case 'dense':
          grad = needInputGrad ? this.buffer(`${layer.name} in grad`, layer.inFeatures) : undefined;
          await this.denseBackward(cache, store, layer, actsIn[i], dy, grad, accumulate, false);
          break;
        case 'relu': {
          // Between a convolution and its fused pool, on the pooled tensors.
          const pool = poolOf.get(i - 1);
          const shape = pool === undefined ? inShape : trunk[pool].outShape;
          grad = this.buffer(`relu ${i} in grad`, elements(shape));
          this.backward.push(await cache.prepare(reluBackward, { count: batch * elements(shape) }, { y: actsOut[i], dy, dx: grad }, `relu ${i} backward`));
          break;
        }
        case 'maxpool2d': {
          if (fusedPools.has(i)) break; // the convolution's gradients take the pooled gradient
          const [c, h, w] = inShape;
          grad = this.buffer(`pool ${i} in grad`, elements(inShape));
          this.backward.push(await cache.prepare(maxPool2dBackward, { batch, channels: c, height: h, width: w, kernelSize: layer.kernelSize, stride: layer.stride }, { gradOutput: dy, argmax: this.argmax.get(i)!, gradInput: grad }, `pool ${i} backward`));
          break;
        }
        case 'flatten':
          break;
      }
    }
  }

  private async denseBackward(cache: PipelineCache, store: ParameterStore, spec: DenseSpec, x: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer | undefined, accumulate: boolean, accumulateInput: boolean): Promise<void> {
    const shape: DenseShape = { batch: this.batch, inFeatures: spec.inFeatures, outFeatures: spec.outFeatures, accumulate };
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
