// Inference in plain TypeScript (no WebGPU, no Node): what the edge runs. Built from the model's layer list.
//
// The layer list is compiled once into stages: a convolution takes the ReLU and max pool after it (ReLU and max
// commute, so the ReLU is applied to the pooled values), a dense layer its ReLU. Each stage works one sample at a time
// in scratch memory the engine keeps, so batch 1 allocates only its outputs. Sums are float64 (JS numbers).
import { checkBatch, headClasses, type Conv2dSpec, type DenseSpec, type HeadName, type MaxPool2dSpec, type Network } from './architecture';
import { assertNever, planStages } from './fusion';
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
    const features = this.zeroImage(this.trunk);
    for (const [head, spec] of Object.entries(this.network.heads) as [HeadName, Network['heads']['policy']][]) {
      this.heads.set(head, denseStage(spec.inFeatures, spec.outFeatures, this.param(spec.name, 'weight'), this.param(spec.name, 'bias'), false, features));
    }
  }

  classes(head: HeadName = 'policy'): number {
    return headClasses(this.network, head);
  }

  /** Logits of one head for `batch` inputs laid out one after another; f32 in, f64 sums. */
  logits(pixels: Float32Array, batch: number, head: HeadName = 'policy'): Float32Array {
    checkBatch(pixels, batch, this.inputSize);
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

  /** What `stages` make of an all-zero input: the baseline a dense stage subtracts from its input (see denseStage). */
  private zeroImage(stages: Stage[]): Float32Array {
    return stages.reduce<Float32Array>((x, stage) => stage(x, 1), new Float32Array(this.inputSize));
  }

  /** The trunk as stages (planStages: each convolution with its ReLU and max pool, each dense layer with its ReLU). */
  private compileTrunk(): Stage[] {
    const trunk = this.network.trunk;
    const stages: Stage[] = [];
    for (const stage of planStages(trunk, () => true)) {
      const { layer, inShape, outShape } = trunk[stage.at];
      switch (stage.kind) {
        case 'conv2d': {
          const pool = stage.pool === undefined ? undefined : (trunk[stage.pool].layer as MaxPool2dSpec);
          stages.push(conv2dStage(layer as Conv2dSpec, inShape, outShape, this.param((layer as Conv2dSpec).name, 'weight'), this.param((layer as Conv2dSpec).name, 'bias'), stage.relu, pool));
          break;
        }
        case 'dense': {
          const dense = layer as DenseSpec;
          stages.push(denseStage(dense.inFeatures, dense.outFeatures, this.param(dense.name, 'weight'), this.param(dense.name, 'bias'), stage.relu, this.zeroImage(stages)));
          break;
        }
        case 'relu':
          stages.push((x) => x.map((v) => (v > 0 ? v : 0)));
          break;
        case 'maxpool2d': {
          const [c, h, w] = inShape;
          const pooled = outShape[1] * outShape[2];
          stages.push((x, batch) => {
            const out = new Float32Array(batch * c * pooled);
            for (let plane = 0; plane < batch * c; plane++) maxPoolPlane(x, plane * h * w, h, w, layer as MaxPool2dSpec, out, plane * pooled);
            return out;
          });
          break;
        }
        case 'flatten':
          break; // NCHW is already flat in C,H,W order
        default:
          assertNever(stage, 'stage kind');
      }
    }
    return stages;
  }
}

/**
 * A convolution, then optionally ReLU and a max pool, one sample at a time into `convolved`, laid out [pixel, channel]
 * so that one pixel's channels are adjacent; the pool (or ReLU alone) then writes the sample's NCHW output.
 *
 * Digits are mostly background (zeros), so the work follows the non-zero inputs: only output pixels whose window holds
 * a non-zero input are computed (the others are the bias exactly), and each of those gathers just its non-zero taps,
 * then eight output channels at a time take their dot products with them. A dense input costs the same as a plain
 * gathering convolution.
 */
function conv2dStage(spec: Conv2dSpec, [c, h, w]: number[], [o, oh, ow]: number[], weight: Float32Array, bias: Float32Array, relu: boolean, pool?: MaxPool2dSpec): Stage {
  const { kernelSize: k, stride, padding } = spec;
  const taps = c * k * k;
  const planeIn = h * w;
  const sampleIn = c * planeIn;
  const pixels = oh * ow;
  // The weights as [tap, channel]: the eight channels a tap feeds are adjacent.
  const byTap = new Float32Array(taps * o);
  for (let oc = 0; oc < o; oc++) for (let t = 0; t < taps; t++) byTap[t * o + oc] = weight[oc * taps + t];
  // Offsets of the taps from a window's top-left input, for windows inside the image.
  const offsets = new Int32Array(taps);
  for (let ic = 0, t = 0; ic < c; ic++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) offsets[t++] = ic * planeIn + ky * w + kx;
  // The output rows whose windows read input row i (likewise columns): y·stride + ky − padding = i for some tap ky.
  const readers = (size: number, outSize: number) =>
    Array.from({ length: size }, (_, i) => Int32Array.from({ length: outSize }, (_, y) => y).filter((y) => i >= y * stride - padding && i < y * stride - padding + k));
  const rowReaders = readers(h, oh);
  const columnReaders = readers(w, ow);
  const tapValues = new Float64Array(taps);
  const tapRows = new Int32Array(taps);
  const convolved = new Float64Array(pixels * o);
  const touched = new Uint8Array(pixels);
  const best = new Float64Array(o);
  // An untouched window's pooled value: its bias, through the ReLU.
  const background = Float64Array.from(bias, (b) => (relu && b < 0 ? 0 : b));
  const poolK = pool?.kernelSize ?? 1;
  const poolStride = pool?.stride ?? 1;
  const pooledH = Math.floor((oh - poolK) / poolStride) + 1;
  const pooledW = Math.floor((ow - poolK) / poolStride) + 1;
  const outPlane = pooledH * pooledW;

  /** Marks the output pixels whose window reads a non-zero input of the sample at x[inBase]. */
  const markTouched = (x: Float32Array, inBase: number) => {
    touched.fill(0);
    for (let ic = 0; ic < c; ic++) {
      for (let iy = 0; iy < h; iy++) {
        const rows = rowReaders[iy];
        for (let ix = 0; ix < w; ix++) {
          if (x[inBase + ic * planeIn + iy * w + ix] === 0) continue;
          const columns = columnReaders[ix];
          for (let r = 0; r < rows.length; r++) for (let q = 0; q < columns.length; q++) touched[rows[r] * ow + columns[q]] = 1;
        }
      }
    }
  };

  /** convolved[p, ·] for one touched output pixel p = (y, xo). */
  const convolvePixel = (x: Float32Array, inBase: number, y: number, xo: number) => {
    let count = 0;
    const iy = y * stride - padding;
    const ix = xo * stride - padding;
    if (iy >= 0 && ix >= 0 && iy + k <= h && ix + k <= w) {
      const corner = inBase + iy * w + ix;
      for (let t = 0; t < taps; t++) {
        const v = x[corner + offsets[t]];
        if (v === 0) continue;
        tapValues[count] = v;
        tapRows[count++] = t * o;
      }
    } else {
      for (let ic = 0, t = 0; ic < c; ic++) {
        for (let ky = 0; ky < k; ky++) {
          for (let kx = 0; kx < k; kx++, t++) {
            const yy = iy + ky;
            const xx = ix + kx;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            const v = x[inBase + ic * planeIn + yy * w + xx];
            if (v === 0) continue;
            tapValues[count] = v;
            tapRows[count++] = t * o;
          }
        }
      }
    }
    const at = (y * ow + xo) * o;
    let oc = 0;
    for (; oc + 8 <= o; oc += 8) {
      let s0 = bias[oc], s1 = bias[oc + 1], s2 = bias[oc + 2], s3 = bias[oc + 3];
      let s4 = bias[oc + 4], s5 = bias[oc + 5], s6 = bias[oc + 6], s7 = bias[oc + 7];
      for (let j = 0; j < count; j++) {
        const v = tapValues[j];
        const wt = tapRows[j] + oc;
        s0 += v * byTap[wt];
        s1 += v * byTap[wt + 1];
        s2 += v * byTap[wt + 2];
        s3 += v * byTap[wt + 3];
        s4 += v * byTap[wt + 4];
        s5 += v * byTap[wt + 5];
        s6 += v * byTap[wt + 6];
        s7 += v * byTap[wt + 7];
      }
      convolved[at + oc] = s0;
      convolved[at + oc + 1] = s1;
      convolved[at + oc + 2] = s2;
      convolved[at + oc + 3] = s3;
      convolved[at + oc + 4] = s4;
      convolved[at + oc + 5] = s5;
      convolved[at + oc + 6] = s6;
      convolved[at + oc + 7] = s7;
    }
    for (; oc < o; oc++) {
      let sum = bias[oc];
      for (let j = 0; j < count; j++) sum += tapValues[j] * byTap[tapRows[j] + oc];
      convolved[at + oc] = sum;
    }
  };

  return (x, batch) => {
    const out = new Float32Array(batch * o * outPlane);
    for (let n = 0; n < batch; n++) {
      const inBase = n * sampleIn;
      markTouched(x, inBase);
      for (let y = 0; y < oh; y++) for (let xo = 0; xo < ow; xo++) if (touched[y * ow + xo]) convolvePixel(x, inBase, y, xo);
      // Pool each window of every channel at once, ReLU folded in (max(0, window max)), into NCHW planes.
      const outBase = n * o * outPlane;
      for (let py = 0; py < pooledH; py++) {
        for (let px = 0; px < pooledW; px++) {
          const pixel = outBase + py * pooledW + px;
          let any = false;
          for (let wy = 0; wy < poolK; wy++) for (let wx = 0; wx < poolK; wx++) if (touched[(py * poolStride + wy) * ow + px * poolStride + wx]) any = true;
          if (!any) {
            for (let oc = 0; oc < o; oc++) out[pixel + oc * outPlane] = background[oc];
            continue;
          }
          best.fill(relu ? 0 : -Infinity);
          for (let wy = 0; wy < poolK; wy++) {
            for (let wx = 0; wx < poolK; wx++) {
              const q = (py * poolStride + wy) * ow + px * poolStride + wx;
              if (touched[q]) {
                const at = q * o;
                for (let oc = 0; oc < o; oc++) if (convolved[at + oc] > best[oc]) best[oc] = convolved[at + oc];
              } else {
                for (let oc = 0; oc < o; oc++) if (bias[oc] > best[oc]) best[oc] = bias[oc];
              }
            }
          }
          for (let oc = 0; oc < o; oc++) out[pixel + oc * outPlane] = best[oc];
        }
      }
    }
    return out;
  };
}

/** Max pool of one h×w plane at x[inBase] into out[outBase]. */
function maxPoolPlane(x: Float32Array, inBase: number, h: number, w: number, spec: MaxPool2dSpec, out: Float32Array, outBase: number): void {
  const { kernelSize: k, stride } = spec;
  const oh = Math.floor((h - k) / stride) + 1;
  const ow = Math.floor((w - k) / stride) + 1;
  for (let y = 0; y < oh; y++) {
    for (let xo = 0; xo < ow; xo++) {
      let best = -Infinity;
      for (let ky = 0; ky < k; ky++) {
        const row = inBase + (y * stride + ky) * w + xo * stride;
        for (let kx = 0; kx < k; kx++) if (x[row + kx] > best) best = x[row + kx];
      }
      out[outBase + y * ow + xo] = best;
    }
  }
}

/**
 * out[n,o] = bias[o] + Σ_i x[n,i]·weight[o,i], then ReLU if asked, computed as (bias + W·baseline) + W·(x − baseline)
 * with `baseline` the layer's input for an all-zero image: on a digit most features (every one whose window saw only
 * background) equal it exactly, so the sample's differing inputs are listed first and only they are multiplied. Then
 * eight output features at a time take their dot products over that list: each value read serves eight weight rows
 * (four ran 1.7× slower, sixteen spilled registers).
 */
function denseStage(inFeatures: number, outFeatures: number, weight: Float32Array, bias32: Float32Array, relu: boolean, baseline: Float32Array): Stage {
  const I = inFeatures;
  const O = outFeatures;
  const bias = new Float64Array(O);
  for (let o = 0; o < O; o++) {
    let sum = bias32[o];
    for (let i = 0; i < I; i++) sum += weight[o * I + i] * baseline[i];
    bias[o] = sum;
  }
  const values = new Float64Array(I);
  const indices = new Int32Array(I);
  return (x, batch) => {
    const out = new Float32Array(batch * O);
    for (let n = 0; n < batch; n++) {
      const xBase = n * I;
      let count = 0;
      for (let i = 0; i < I; i++) {
        const v = x[xBase + i];
        if (v !== baseline[i]) {
          values[count] = v - baseline[i];
          indices[count++] = i;
        }
      }
      const outBase = n * O;
      let o = 0;
      for (; o + 8 <= O; o += 8) {
        const w0 = o * I;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        const w1 = w0 + I, w2 = w1 + I, w3 = w2 + I, w4 = w3 + I, w5 = w4 + I, w6 = w5 + I, w7 = w6 + I;
        for (let j = 0; j < count; j++) {
          const v = values[j];
          const i = indices[j];
          s0 += v * weight[w0 + i];
          s1 += v * weight[w1 + i];
          s2 += v * weight[w2 + i];
          s3 += v * weight[w3 + i];
          s4 += v * weight[w4 + i];
          s5 += v * weight[w5 + i];
          s6 += v * weight[w6 + i];
          s7 += v * weight[w7 + i];
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
        for (let j = 0, wBase = o * I; j < count; j++) sum += values[j] * weight[wBase + indices[j]];
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
