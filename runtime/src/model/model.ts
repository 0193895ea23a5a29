// A network's parameters on the GPU, with inference graphs built on demand and kept for reuse.
import type { HeadName, Network } from '../engine/architecture';
import { argmaxRows } from '../engine/cpu_engine';
import { record } from '../gpu/pipelines';
import { readFloats } from '../gpu/buffers';
import type { PipelineCache } from '../gpu/pipelines';
import { Graph } from './graph';
import { ParameterStore } from './parameters';

export class Model {
  readonly store: ParameterStore;
  private readonly inference = new Map<string, Promise<Graph>>();

  constructor(readonly cache: PipelineCache, readonly network: Network, tensors: Map<string, Float32Array>) {
    this.store = new ParameterStore(cache.gpu, network);
    this.store.upload(tensors);
  }

  get gpu() {
    return this.cache.gpu;
  }

  /** An inference-only graph for a batch size and head, built once. */
  private inferenceGraph(batch: number, head: HeadName): Promise<Graph> {
    const key = `${batch}/${head}`;
    let graph = this.inference.get(key);
    if (!graph) {
      graph = Graph.build(this.cache, this.store, { batch, heads: [head], train: false });
      this.inference.set(key, graph);
    }
    return graph;
  }

  /** Logits of `count` inputs, [count, classes], computed in chunks of `chunk` (the last chunk padded). */
  async logits(inputs: Float32Array, count: number, head: HeadName = 'policy', chunk = 256): Promise<Float32Array> {
    const classes = this.network.heads[head]?.outFeatures;
    if (!classes) throw new Error(`the network has no ${head} head`);
    return this.run(inputs, count, head, classes, chunk, (graph) => graph.logits.get(head)!);
  }

  /** The trunk's output (what every head reads) of `count` inputs, [count, features]: for linear probes and clustering. */
  features(inputs: Float32Array, count: number, chunk = 256): Promise<Float32Array> {
    return this.run(inputs, count, 'policy', this.network.features, chunk, (graph) => graph.features);
  }

  private async run(inputs: Float32Array, count: number, head: HeadName, classes: number, chunk: number, output: (graph: Graph) => GPUBuffer): Promise<Float32Array> {
    const inputSize = this.network.input.reduce((a, b) => a * b, 1);
    if (inputs.length !== count * inputSize) throw new Error(`expected ${count}×${inputSize} input values, got ${inputs.length}`);
    const batch = Math.min(chunk, count);
    const graph = await this.inferenceGraph(batch, head);
    const out = new Float32Array(count * classes);
    const padded = new Float32Array(batch * inputSize);
    for (let start = 0; start < count; start += batch) {
      const n = Math.min(batch, count - start);
      const slice = inputs.subarray(start * inputSize, (start + n) * inputSize);
      if (n < batch) padded.fill(0).set(slice);
      this.gpu.device.queue.writeBuffer(graph.input, 0, n < batch ? padded : slice);
      const encoder = this.gpu.device.createCommandEncoder({ label: 'inference' });
      const pass = encoder.beginComputePass({ label: 'inference' });
      record(pass, graph.forward);
      pass.end();
      this.gpu.device.queue.submit([encoder.finish()]);
      out.set((await readFloats(this.gpu, output(graph), batch * classes)).subarray(0, n * classes), start * classes);
    }
    return out;
  }

  /** Fraction of inputs whose policy argmax equals the label. */
  async accuracy(inputs: Float32Array, labels: ArrayLike<number>, count = labels.length): Promise<number> {
    const logits = await this.logits(inputs, count);
    const predicted = argmaxRows(logits, count, logits.length / count);
    return predicted.reduce((correct, p, i) => correct + (p === labels[i] ? 1 : 0), 0) / count;
  }

  tensors(): Promise<Map<string, Float32Array>> {
    return this.store.download('params');
  }

  async destroy(): Promise<void> {
    for (const graph of this.inference.values()) (await graph).destroy();
    this.store.destroy();
  }
}
