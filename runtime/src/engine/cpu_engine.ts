// Inference in plain TypeScript (no WebGPU, no Node): what the edge runs. Built from the model's layer list.
import type { HeadName, LayerSpec, Network } from './architecture';
import type { ModelFile } from './safetensors';

type TrunkLayer = Network['trunk'][number];

export class CpuEngine {
  readonly network: Network;
  private readonly tensors: Map<string, Float32Array>;
  readonly inputSize: number;

  constructor(model: Pick<ModelFile, 'network' | 'tensors'>) {
    this.network = model.network;
    this.tensors = model.tensors;
    this.inputSize = model.network.input.reduce((a, b) => a * b, 1);
  }

  classes(head: HeadName = 'policy'): number {
    const spec = this.network.heads[head];
    if (!spec) throw new Error(`the model has no ${head} head`);
    return spec.outFeatures;
  }

  /** Logits of one head for `batch` inputs laid out one after another; f32 in, f64 sums. */
  logits(pixels: Float32Array, batch: number, head: HeadName = 'policy'): Float32Array {
    if (pixels.length !== batch * this.inputSize) throw new Error(`expected ${batch}×${this.inputSize} values, got ${pixels.length}`);
    const spec = this.network.heads[head];
    if (!spec) throw new Error(`the model has no ${head} head`);
    let x = pixels;
    for (const step of this.network.trunk) x = this.apply(step, x, batch);
    return dense(x, batch, spec.inFeatures, spec.outFeatures, this.param(spec.name, 'weight'), this.param(spec.name, 'bias'));
  }

  /** Softmax of the policy logits: the greedy policy's action probabilities, [batch, classes]. */
  probabilities(pixels: Float32Array, batch: number): Float32Array {
    return softmaxRows(this.logits(pixels, batch), batch, this.classes());
  }

  private param(layer: string, kind: 'weight' | 'bias'): Float32Array {
    const tensor = this.tensors.get(`${layer}.${kind}`);
    if (!tensor) throw new Error(`missing tensor ${layer}.${kind}`);
    return tensor;
  }

  private apply({ layer, inShape, outShape }: TrunkLayer, x: Float32Array, batch: number): Float32Array {
    switch (layer.kind) {
      case 'conv2d':
        return conv2d(x, batch, layer, inShape, outShape, this.param(layer.name, 'weight'), this.param(layer.name, 'bias'));
      case 'relu':
        return x.map((v) => (v > 0 ? v : 0));
      case 'maxpool2d':
        return maxPool2d(x, batch, layer, inShape, outShape);
      case 'flatten':
        return x;
      case 'dense':
        return dense(x, batch, layer.inFeatures, layer.outFeatures, this.param(layer.name, 'weight'), this.param(layer.name, 'bias'));
    }
  }
}

function conv2d(x: Float32Array, batch: number, spec: Extract<LayerSpec, { kind: 'conv2d' }>, [c, h, w]: number[], [o, oh, ow]: number[], weight: Float32Array, bias: Float32Array): Float32Array {
  const { kernelSize: k, stride, padding } = spec;
  const out = new Float32Array(batch * o * oh * ow);
  for (let n = 0; n < batch; n++) {
    for (let oc = 0; oc < o; oc++) {
      const outBase = (n * o + oc) * oh * ow;
      for (let y = 0; y < oh; y++) {
        for (let xo = 0; xo < ow; xo++) {
          let sum = bias[oc];
          for (let ic = 0; ic < c; ic++) {
            const inBase = (n * c + ic) * h * w;
            const wBase = (oc * c + ic) * k * k;
            for (let ky = 0; ky < k; ky++) {
              const iy = y * stride + ky - padding;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < k; kx++) {
                const ix = xo * stride + kx - padding;
                if (ix < 0 || ix >= w) continue;
                sum += x[inBase + iy * w + ix] * weight[wBase + ky * k + kx];
              }
            }
          }
          out[outBase + y * ow + xo] = sum;
        }
      }
    }
  }
  return out;
}

function maxPool2d(x: Float32Array, batch: number, spec: Extract<LayerSpec, { kind: 'maxpool2d' }>, [c, h, w]: number[], [, oh, ow]: number[]): Float32Array {
  const { kernelSize: k, stride } = spec;
  const out = new Float32Array(batch * c * oh * ow);
  for (let plane = 0; plane < batch * c; plane++) {
    const inBase = plane * h * w;
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        let best = -Infinity;
        for (let ky = 0; ky < k; ky++) {
          const row = inBase + (y * stride + ky) * w + xo * stride;
          for (let kx = 0; kx < k; kx++) best = Math.max(best, x[row + kx]);
        }
        out[(plane * oh + y) * ow + xo] = best;
      }
    }
  }
  return out;
}

function dense(x: Float32Array, batch: number, inFeatures: number, outFeatures: number, weight: Float32Array, bias: Float32Array): Float32Array {
  const out = new Float32Array(batch * outFeatures);
  for (let n = 0; n < batch; n++) {
    const xBase = n * inFeatures;
    for (let o = 0; o < outFeatures; o++) {
      const wBase = o * inFeatures;
      let sum = bias[o];
      for (let i = 0; i < inFeatures; i++) sum += x[xBase + i] * weight[wBase + i];
      out[n * outFeatures + o] = sum;
    }
  }
  return out;
}

/** Row-wise softmax, stable (the row max is subtracted first). */
export function softmaxRows(logits: ArrayLike<number>, rows: number, classes: number): Float32Array {
  const out = new Float32Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let k = 0; k < classes; k++) max = Math.max(max, logits[r * classes + k]);
    let total = 0;
    for (let k = 0; k < classes; k++) total += Math.exp(logits[r * classes + k] - max);
    for (let k = 0; k < classes; k++) out[r * classes + k] = Math.exp(logits[r * classes + k] - max) / total;
  }
  return out;
}

/** Index of the largest value of each row (the first on ties): the greedy action per input. */
export function argmaxRows(values: ArrayLike<number>, rows: number, classes: number): Uint32Array {
  const out = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (values[r * classes + k] > values[r * classes + best]) best = k;
    out[r] = best;
  }
  return out;
}
