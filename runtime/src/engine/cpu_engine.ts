// Inference in plain TypeScript (no WebGPU, no Node): what the edge runs. Built from the model's layer list.
//
// The layer list is compiled once into stages: a convolution takes the ReLU and max pool after it (ReLU and max
// commute, so the ReLU is applied to the pooled values), a dense layer its ReLU. Each stage works one sample at a time
// in scratch memory the engine keeps, so batch 1 allocates only its outputs. Sums are float64 (JS numbers).
import type { Conv2dSpec, HeadName, MaxPool2dSpec, Network } from './architecture';
import type { ModelFile } from './safetensors';

/** Maps `batch` inputs, laid out one after another, to a fresh array of `batch` outputs. */
type Stage = (x: Float32Array, batch: number) => Float32Array;

export class CpuEngine {
  readonly network: Network;
  private readonly tensors: Map<string, Float32Array>;
  readonly inputSize: number;
  private readonly trunk: Stage[];
  private readonly heads = new Map<HeadName, Stage>();

  constructor(model: Pick<ModelFile, 'network' | 'tensors'>) {
    this.network = model.network;
    this.tensors = model.tensors;
    this.inputSize = model.network.input.reduce((a, b) => a * b, 1);
    this.trunk = this.compileTrunk();
    for (const [head, spec] of Object.entries(this.network.heads) as [HeadName, Network['heads']['policy']][]) {
      this.heads.set(head, denseStage(spec.inFeatures, spec.outFeatures, this.param(spec.name, 'weight'), this.param(spec.name, 'bias'), false));
    }
  }

  classes(head: HeadName = 'policy'): number {
    const spec = this.network.heads[head];
    if (!spec) throw new Error(`the model has no ${head} head`);
    return spec.outFeatures;
  }

  /** Logits of one head for `batch` inputs laid out one after another; f32 in, f64 sums. */
  logits(pixels: Float32Array, batch: number, head: HeadName = 'policy'): Float32Array {
    if (pixels.length !== batch * this.inputSize) throw new Error(`expected ${batch}×${this.inputSize} values, got ${pixels.length}`);
    const stage = this.heads.get(head);
    if (!stage) throw new Error(`the model has no ${head} head`);
    let x = pixels;
    for (const step of this.trunk) x = step(x, batch);
    return stage(x, batch);
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

  /** The trunk as stages, each convolution or dense layer with the ReLU (and for a convolution the max pool) after it. */
  private compileTrunk(): Stage[] {
    const trunk = this.network.trunk;
    const stages: Stage[] = [];
    for (let i = 0; i < trunk.length; i++) {
      const { layer, inShape, outShape } = trunk[i];
      const relu = trunk[i + 1]?.layer.kind === 'relu';
      switch (layer.kind) {
        case 'conv2d': {
          const poolAt = relu ? i + 2 : i + 1;
          const pool = trunk[poolAt]?.layer.kind === 'maxpool2d' ? (trunk[poolAt].layer as MaxPool2dSpec) : undefined;
          stages.push(conv2dStage(layer, inShape, outShape, this.param(layer.name, 'weight'), this.param(layer.name, 'bias'), relu, pool));
          if (pool) i = poolAt;
          else if (relu) i++;
          break;
        }
        case 'dense':
          stages.push(denseStage(layer.inFeatures, layer.outFeatures, this.param(layer.name, 'weight'), this.param(layer.name, 'bias'), relu));
          if (relu) i++;
          break;
        case 'relu':
          stages.push((x) => x.map((v) => (v > 0 ? v : 0)));
          break;
        case 'maxpool2d': {
          const [c, h, w] = inShape;
          const pooled = outShape[1] * outShape[2];
          stages.push((x, batch) => {
            const out = new Float32Array(batch * c * pooled);
            for (let plane = 0; plane < batch * c; plane++) maxPoolPlane(x, plane * h * w, h, w, layer, false, out, plane * pooled);
            return out;
          });
          break;
        }
        case 'flatten':
          break; // NCHW is already flat in C,H,W order
      }
    }
    return stages;
  }
}

/**
 * A convolution, then optionally ReLU and a max pool. Per sample and output pixel, the input under the kernel (all
 * channels) is gathered once into `patch`, then every output channel takes its dot product with it: the input is read
 * once for all channels, the weights of one channel are contiguous.
 */
function conv2dStage(spec: Conv2dSpec, [c, h, w]: number[], [o, oh, ow]: number[], weight: Float32Array, bias: Float32Array, relu: boolean, pool?: MaxPool2dSpec): Stage {
  const { kernelSize: k, stride, padding } = spec;
  const taps = c * k * k;
  const planeIn = h * w;
  const planeOut = oh * ow;
  // Offsets of the taps from the window's top-left input, for windows that lie inside the image.
  const offsets = new Int32Array(taps);
  for (let ic = 0, t = 0; ic < c; ic++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) offsets[t++] = ic * planeIn + ky * w + kx;
  const patch = new Float64Array(taps);
  const convolved = new Float32Array(o * planeOut);
  const pooledH = pool ? Math.floor((oh - pool.kernelSize) / pool.stride) + 1 : oh;
  const pooledW = pool ? Math.floor((ow - pool.kernelSize) / pool.stride) + 1 : ow;
  const outPlane = pooledH * pooledW;

  return (x, batch) => {
    const out = new Float32Array(batch * o * outPlane);
    for (let n = 0; n < batch; n++) {
      const inBase = n * c * planeIn;
      for (let y = 0; y < oh; y++) {
        const iy = y * stride - padding;
        for (let xo = 0; xo < ow; xo++) {
          const ix = xo * stride - padding;
          if (iy >= 0 && ix >= 0 && iy + k <= h && ix + k <= w) {
            const corner = inBase + iy * w + ix;
            for (let t = 0; t < taps; t++) patch[t] = x[corner + offsets[t]];
          } else {
            for (let ic = 0, t = 0; ic < c; ic++) {
              for (let ky = 0; ky < k; ky++) {
                const yy = iy + ky;
                for (let kx = 0; kx < k; kx++, t++) {
                  const xx = ix + kx;
                  patch[t] = yy >= 0 && yy < h && xx >= 0 && xx < w ? x[inBase + ic * planeIn + yy * w + xx] : 0;
                }
              }
            }
          }
          const pixel = y * ow + xo;
          // Eight output channels at a time: each patch value read serves eight weight rows.
          let oc = 0;
          for (; oc + 8 <= o; oc += 8) {
            const w0 = oc * taps;
            let s0 = bias[oc], s1 = bias[oc + 1], s2 = bias[oc + 2], s3 = bias[oc + 3];
            let s4 = bias[oc + 4], s5 = bias[oc + 5], s6 = bias[oc + 6], s7 = bias[oc + 7];
            for (let t = 0; t < taps; t++) {
              const v = patch[t];
              const at = w0 + t;
              s0 += v * weight[at];
              s1 += v * weight[at + taps];
              s2 += v * weight[at + 2 * taps];
              s3 += v * weight[at + 3 * taps];
              s4 += v * weight[at + 4 * taps];
              s5 += v * weight[at + 5 * taps];
              s6 += v * weight[at + 6 * taps];
              s7 += v * weight[at + 7 * taps];
            }
            const at = oc * planeOut + pixel;
            convolved[at] = s0;
            convolved[at + planeOut] = s1;
            convolved[at + 2 * planeOut] = s2;
            convolved[at + 3 * planeOut] = s3;
            convolved[at + 4 * planeOut] = s4;
            convolved[at + 5 * planeOut] = s5;
            convolved[at + 6 * planeOut] = s6;
            convolved[at + 7 * planeOut] = s7;
          }
          for (; oc < o; oc++) {
            let sum = bias[oc];
            for (let t = 0, wBase = oc * taps; t < taps; t++) sum += patch[t] * weight[wBase + t];
            convolved[oc * planeOut + pixel] = sum;
          }
        }
      }
      const outBase = n * o * outPlane;
      for (let oc = 0; oc < o; oc++) {
        if (pool) maxPoolPlane(convolved, oc * planeOut, oh, ow, pool, relu, out, outBase + oc * outPlane);
        else for (let p = 0; p < planeOut; p++) out[outBase + oc * planeOut + p] = relu && convolved[oc * planeOut + p] < 0 ? 0 : convolved[oc * planeOut + p];
      }
    }
    return out;
  };
}

/** Max pool of one h×w plane at x[inBase] into out[outBase]; with relu, max(0, ·) of each window's maximum. */
function maxPoolPlane(x: Float32Array, inBase: number, h: number, w: number, spec: MaxPool2dSpec, relu: boolean, out: Float32Array, outBase: number): void {
  const { kernelSize: k, stride } = spec;
  const oh = Math.floor((h - k) / stride) + 1;
  const ow = Math.floor((w - k) / stride) + 1;
  for (let y = 0; y < oh; y++) {
    for (let xo = 0; xo < ow; xo++) {
      let best = relu ? 0 : -Infinity;
      for (let ky = 0; ky < k; ky++) {
        const row = inBase + (y * stride + ky) * w + xo * stride;
        for (let kx = 0; kx < k; kx++) if (x[row + kx] > best) best = x[row + kx];
      }
      out[outBase + y * ow + xo] = best;
    }
  }
}

/**
 * out[n,o] = bias[o] + Σ_i x[n,i]·weight[o,i], then ReLU if asked. Eight output features at a time (eight sums fit
 * the registers; four ran 1.7× slower, sixteen spilled): each input value read serves eight weight rows, which stream
 * through contiguously.
 */
function denseStage(inFeatures: number, outFeatures: number, weight: Float32Array, bias: Float32Array, relu: boolean): Stage {
  const I = inFeatures;
  const O = outFeatures;
  return (x, batch) => {
    const out = new Float32Array(batch * O);
    for (let n = 0; n < batch; n++) {
      const xBase = n * I;
      const outBase = n * O;
      let o = 0;
      for (; o + 8 <= O; o += 8) {
        const w0 = o * I;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        for (let i = 0; i < I; i++) {
          const v = x[xBase + i];
          const at = w0 + i;
          s0 += v * weight[at];
          s1 += v * weight[at + I];
          s2 += v * weight[at + 2 * I];
          s3 += v * weight[at + 3 * I];
          s4 += v * weight[at + 4 * I];
          s5 += v * weight[at + 5 * I];
          s6 += v * weight[at + 6 * I];
          s7 += v * weight[at + 7 * I];
        }
        out[outBase + o] = activate(s0 + bias[o], relu);
        out[outBase + o + 1] = activate(s1 + bias[o + 1], relu);
        out[outBase + o + 2] = activate(s2 + bias[o + 2], relu);
        out[outBase + o + 3] = activate(s3 + bias[o + 3], relu);
        out[outBase + o + 4] = activate(s4 + bias[o + 4], relu);
        out[outBase + o + 5] = activate(s5 + bias[o + 5], relu);
        out[outBase + o + 6] = activate(s6 + bias[o + 6], relu);
        out[outBase + o + 7] = activate(s7 + bias[o + 7], relu);
      }
      for (; o < O; o++) {
        let sum = 0;
        for (let i = 0, wBase = o * I; i < I; i++) sum += x[xBase + i] * weight[wBase + i];
        out[outBase + o] = activate(sum + bias[o], relu);
      }
    }
    return out;
  };
}

const activate = (v: number, relu: boolean) => (relu && v < 0 ? 0 : v);

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
