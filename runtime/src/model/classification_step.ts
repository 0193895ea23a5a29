// One supervised training step: upload a batch, forward, softmax cross-entropy, backward, Adam, in one submit.
import { softmaxCrossEntropy, type CrossEntropyShape } from '@seed/kernels';
import type { HeadName } from '../engine/architecture';
import { createStorage, readFloats } from '../gpu/buffers';
import { record, type Dispatch } from '../gpu/pipelines';
import { Adam, type AdamOptions } from './adam';
import { Graph } from './graph';
import type { Model } from './model';

/** Per-step mean losses stay on the GPU until read: a ring of this many steps. */
const LOSS_LOG_STEPS = 1024;

export class ClassificationStep {
  private readonly labels: GPUBuffer;
  private readonly loss: GPUBuffer;
  private readonly lossLog: GPUBuffer;
  private logged = 0;

  private constructor(
    private readonly model: Model,
    readonly graph: Graph,
    private readonly lossDispatch: Dispatch,
    readonly adam: Adam,
    buffers: { labels: GPUBuffer; loss: GPUBuffer; weights: GPUBuffer },
  ) {
    this.labels = buffers.labels;
    this.loss = buffers.loss;
    this.lossLog = createStorage(model.gpu, 'loss log', LOSS_LOG_STEPS * graph.batch * 4);
  }

  static async create(model: Model, options: { batch: number; head?: HeadName } & AdamOptions): Promise<ClassificationStep> {
    const head = options.head ?? 'policy';
    const { batch } = options;
    const graph = await Graph.build(model.cache, model.store, { batch, heads: [head] });
    const classes = model.network.heads[head]!.outFeatures;
    const labels = createStorage(model.gpu, 'labels', batch * 4);
    const weights = createStorage(model.gpu, 'sample weights', new Float32Array(batch).fill(1));
    const loss = createStorage(model.gpu, 'loss', batch * 4);
    const shape: CrossEntropyShape = { batch, classes, scale: 1 / batch };
    const lossDispatch = await model.cache.prepare(softmaxCrossEntropy, shape, {
      logits: graph.logits.get(head)!, labels, weights, loss, gradLogits: graph.gradLogits.get(head)!,
    }, `${head} cross-entropy`);
    const adam = await Adam.create(model.cache, model.store, options);
    return new ClassificationStep(model, graph, lossDispatch, adam, { labels, loss, weights });
  }

  /** Records and submits one step on `images` [batch, C, H, W] with integer `labels` [batch]. */
  run(images: Float32Array, labels: Uint32Array, lr?: number): void {
    const { device } = this.model.gpu;
    device.queue.writeBuffer(this.graph.input, 0, images);
    device.queue.writeBuffer(this.labels, 0, labels);
    const adam = this.adam.prepareStep(lr);
    const encoder = device.createCommandEncoder({ label: 'classification step' });
    const pass = encoder.beginComputePass({ label: 'classification step' });
    record(pass, [...this.graph.forward, this.lossDispatch, ...this.graph.backward, adam]);
    pass.end();
    const slot = this.logged++ % LOSS_LOG_STEPS;
    encoder.copyBufferToBuffer(this.loss, 0, this.lossLog, slot * this.graph.batch * 4, this.graph.batch * 4);
    device.queue.submit([encoder.finish()]);
  }

  /** Mean loss of each step since the last call (at most the last 1024): one read-back. */
  async drainLosses(): Promise<number[]> {
    const steps = Math.min(this.logged, LOSS_LOG_STEPS);
    const batch = this.graph.batch;
    const first = this.logged - steps;
    const log = await readFloats(this.model.gpu, this.lossLog, LOSS_LOG_STEPS * batch);
    const means: number[] = [];
    for (let s = first; s < this.logged; s++) {
      const slot = s % LOSS_LOG_STEPS;
      let sum = 0;
      for (let i = 0; i < batch; i++) sum += log[slot * batch + i];
      means.push(sum / batch);
    }
    this.logged = 0;
    return means;
  }
}
