// Clusters without labels on top of self-supervised features, in the manner of SCAN (Van Gansbeke et al. 2020):
// every image's nearest neighbours in feature space (cosine) mostly show the same digit, so a classifier whose
// prediction agrees between each image and its neighbours, while using every class about equally, finds the digits.
// The head is fitted on frozen features here (small: [classes, dim] weights) and becomes the policy head, so that
// rewards (or a few labels, nameClusters) only have to name its clusters. Nothing here reads a label.
import { scanLossRef } from '@seed/kernels';
import { argmaxRows } from '../engine/cpu_engine';
import { Random } from '../engine/random';
import { clusteringAccuracy, DEFAULT_SHARPNESS, meanRowLength, normalizeRows } from './probe';

/**
 * The `k` nearest rows of every row by dot product (cosine on unit rows), itself excluded: [rows, k] indices, each
 * row's neighbours from nearest to farthest.
 */
export function nearestNeighbours(x: ArrayLike<number>, rows: number, dim: number, k: number): Int32Array {
  if (k < 1 || k >= rows) throw new Error(`nearestNeighbours needs 1 ≤ k < rows, got k ${k} for ${rows} rows`);
  const v = Float64Array.from(x);
  const result = new Int32Array(rows * k);
  // Four rows at a time share each read of row j (register blocking: about 2.5× faster than one at a time).
  const BLOCK = 4;
  const similarity = new Float64Array(BLOCK * rows);
  const top = new Int32Array(k);
  const topSimilarity = new Float64Array(k);
  for (let i0 = 0; i0 < rows; i0 += BLOCK) {
    const count = Math.min(BLOCK, rows - i0);
    const [a0, a1, a2, a3] = [i0 * dim, Math.min(i0 + 1, rows - 1) * dim, Math.min(i0 + 2, rows - 1) * dim, Math.min(i0 + 3, rows - 1) * dim];
    for (let j = 0; j < rows; j++) {
      const bj = j * dim;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let d = 0; d < dim; d++) {
        const xj = v[bj + d];
        s0 += v[a0 + d] * xj;
        s1 += v[a1 + d] * xj;
        s2 += v[a2 + d] * xj;
        s3 += v[a3 + d] * xj;
      }
      similarity[j] = s0;
      similarity[rows + j] = s1;
      similarity[2 * rows + j] = s2;
      similarity[3 * rows + j] = s3;
    }
    for (let b = 0; b < count; b++) {
      const i = i0 + b;
      // Insertion into a sorted list of the k best so far (k is small).
      let held = 0;
      for (let j = 0; j < rows; j++) {
        if (j === i) continue;
        const s = similarity[b * rows + j];
        if (held === k && s <= topSimilarity[k - 1]) continue;
        let at = held < k ? held++ : k - 1;
        while (at > 0 && topSimilarity[at - 1] < s) {
          top[at] = top[at - 1];
          topSimilarity[at] = topSimilarity[at - 1];
          at--;
        }
        top[at] = j;
        topSimilarity[at] = s;
      }
      result.set(top, i * k);
    }
  }
  return result;
}

export interface ScanShape {
  classes: number;
  dim: number;
  /** Logits are (W·x + b) / temperature. */
  temperature: number;
  /** λ of the entropy term: how strongly every class must be used. */
  entropyWeight: number;
}

/** The logits (W·x_r + b) / temperature of the given rows, [rows.length, classes]. */
function headLogits(params: Float64Array, x: ArrayLike<number>, rows: ArrayLike<number>, shape: ScanShape): Float64Array {
  const { classes: C, dim, temperature } = shape;
  const logits = new Float64Array(rows.length * C);
  for (let r = 0; r < rows.length; r++) {
    const base = rows[r] * dim;
    for (let c = 0; c < C; c++) {
      let s = params[C * dim + c];
      for (let d = 0; d < dim; d++) s += params[c * dim + d] * x[base + d];
      logits[r * C + c] = s / temperature;
    }
  }
  return logits;
}

/**
 * SCAN's loss over pairs (anchor i, neighbour j) for a head on frozen features, and its gradient in the head's
 * parameters (weights [classes, dim] then biases [classes]) added into `grad` when given. The loss of the logits is
 * the clustering kernel's own reference (scanLossRef, see scan_loss.wgsl):
 *
 *   L = −(1/B)·Σ_pairs log(p_i · p_j) + λ·Σ_c m_c log m_c,   m = the mean of the 2B rows' probabilities
 *
 * The first term makes neighbours agree confidently; the second (minus the entropy of the mean assignment) keeps every
 * class in use, without which all rows would fall into one cluster.
 */
export function scanHeadLoss(params: Float64Array, x: ArrayLike<number>, anchors: ArrayLike<number>, neighbours: ArrayLike<number>, shape: ScanShape, grad?: Float64Array): number {
  const { classes: C, dim, temperature, entropyWeight } = shape;
  // Rows i and i + B are a pair, as the kernel's reference reads them.
  const rows = Int32Array.from({ length: 2 * anchors.length }, (_, r) => (r < anchors.length ? anchors[r] : neighbours[r - anchors.length]));
  const { loss, gradLogits } = scanLossRef({ rows: rows.length, classes: C, entropyWeight, scale: 1 }, headLogits(params, x, rows, shape));
  if (grad) {
    // z = (W·x + b)/T.
    for (let r = 0; r < rows.length; r++) {
      const base = rows[r] * dim;
      for (let c = 0; c < C; c++) {
        const dz = gradLogits[r * C + c] / temperature;
        grad[C * dim + c] += dz;
        for (let d = 0; d < dim; d++) grad[c * dim + d] += dz * x[base + d];
      }
    }
  }
  let total = 0;
  for (const l of loss) total += l;
  return total / rows.length;
}

export interface ScanOptions {
  classes?: number;
  temperature?: number;
  entropyWeight?: number;
  /** Heads fitted from different random starts; the one with the lowest loss is kept (see fitScanHead). */
  heads?: number;
  steps?: number;
  batch?: number;
  lr?: number;
  seed?: number;
}

export interface ScanHead {
  /** [classes, dim] weights of logits W·x / temperature on the rows given (unit rows); no bias, see fitScanHead. */
  weight: Float32Array;
  temperature: number;
  /** Each row's cluster: the head's argmax. */
  clusters: Uint32Array;
  /** The head's loss over every (row, neighbour) pair. */
  loss: number;
}

/** The measured defaults (docs/evolution.md, "Clusters"): λ 2, temperature 0.1, 8 heads of 1,500 Adam steps of 256 pairs. */
export const SCAN_DEFAULTS: Readonly<Required<ScanOptions>> = { classes: 10, temperature: 0.1, entropyWeight: 2, heads: 8, steps: 1500, batch: 256, lr: 0.01, seed: 1 };

/** One head from a random start: Adam on random (row, neighbour) pairs; the bias stays 0. */
function fitOneHead(x: ArrayLike<number>, rows: number, neighbours: Int32Array, shape: ScanShape, options: Required<ScanOptions>, random: Random): ScanHead {
  const { classes, dim, temperature } = shape;
  const { steps, batch, lr } = options;
  const k = neighbours.length / rows;
  const weights = classes * dim;
  const params = new Float64Array(weights + classes);
  for (let i = 0; i < weights; i++) params[i] = (random.next() - 0.5) * 0.2;
  const m = new Float64Array(weights);
  const v = new Float64Array(weights);
  const grad = new Float64Array(params.length);
  const anchors = new Int32Array(batch);
  const partners = new Int32Array(batch);
  for (let t = 1; t <= steps; t++) {
    for (let b = 0; b < batch; b++) {
      anchors[b] = random.int(rows);
      partners[b] = neighbours[anchors[b] * k + random.int(k)];
    }
    grad.fill(0);
    scanHeadLoss(params, x, anchors, partners, shape, grad);
    for (let i = 0; i < weights; i++) {
      m[i] = 0.9 * m[i] + 0.1 * grad[i];
      v[i] = 0.999 * v[i] + 0.001 * grad[i] * grad[i];
      params[i] -= (lr * (m[i] / (1 - 0.9 ** t))) / (Math.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8);
    }
  }
  const loss = scanHeadLoss(params, x, Int32Array.from({ length: rows * k }, (_, i) => Math.floor(i / k)), neighbours, shape);
  const clusters = argmaxRows(headLogits(params, x, Int32Array.from({ length: rows }, (_, r) => r), shape), rows, classes);
  return { weight: Float32Array.from(params.subarray(0, weights)), temperature, clusters, loss };
}

/**
 * Fits `heads` SCAN heads from different random starts on `x` (unit rows; `neighbours` from nearestNeighbours) and
 * keeps the one with the lowest loss over every (row, neighbour) pair. Heads fall into different local optima (two
 * digits merged, another split in two); on the contrastive features of three seeds the lowest loss picked a head at
 * 88–93% each time, while the head agreeing most with the others (their medoid) picked 81–86%: the wrong optima
 * are common and resemble each other. The bias is held at 0, so the argmax of W·x/|x| is that of W·x: the head
 * carries over to unnormalised features unchanged (see scanPolicyHead).
 */
export function fitScanHead(x: ArrayLike<number>, rows: number, dim: number, neighbours: Int32Array, options: ScanOptions = {}): ScanHead & { heads: ScanHead[] } {
  const settings = { ...SCAN_DEFAULTS, ...options };
  if (neighbours.length % rows !== 0 || neighbours.length === 0) throw new Error(`neighbours must hold k indices per row for ${rows} rows`);
  const shape: ScanShape = { classes: settings.classes, dim, temperature: settings.temperature, entropyWeight: settings.entropyWeight };
  const random = new Random(settings.seed);
  const heads = Array.from({ length: settings.heads }, () => fitOneHead(x, rows, neighbours, shape, settings, random));
  const best = heads.reduce((a, b) => (b.loss < a.loss ? b : a));
  return { ...best, heads };
}

/**
 * A policy head whose argmax is the SCAN clusters of `features` (the trunk's outputs of unlabelled images, not
 * normalised): neighbours by cosine, heads fitted on the unit rows, bias 0, so its argmax is exactly the kept SCAN
 * head's. Its scale is clusterHead's: the weights times sharpness / (mean row length of W · mean length of the
 * features), so logits span about ±sharpness as k-means centres do. The SCAN head itself is far sharper (temperature
 * 0.1), and a head that sure tries almost no other digit for a cluster under softmax exploration, so the rewards
 * could not name it. Returns the head's tensors ([k, dim] and [k]), the fit and the neighbours it was fitted on.
 */
export function scanPolicyHead(features: ArrayLike<number>, rows: number, dim: number, options: ScanOptions & { neighbours?: number; sharpness?: number } = {}): { weight: Float32Array; bias: Float32Array; fit: ScanHead & { heads: ScanHead[] }; neighbours: Int32Array } {
  const unit = normalizeRows(features, rows, dim);
  const neighbours = nearestNeighbours(unit, rows, dim, options.neighbours ?? SCAN_NEIGHBOURS);
  const fit = fitScanHead(unit, rows, dim, neighbours, options);
  const classes = fit.weight.length / dim;
  const scale = (options.sharpness ?? DEFAULT_SHARPNESS) / (meanRowLength(fit.weight, classes, dim) * meanRowLength(features, rows, dim));
  return { weight: Float32Array.from(fit.weight, (w) => w * scale), bias: new Float32Array(classes), fit, neighbours };
}

/** Neighbours per image unless told otherwise (SCAN's 20). */
export const SCAN_NEIGHBOURS = 20;

/**
 * A head of cluster rows renamed by a few labelled images: `clusters` are the head's argmax on them, `labels` their
 * digits; each cluster becomes the digit the Hungarian assignment on those counts gives it (row `mapping[c]` of the
 * new head is row c of the old). Returns new tensors; the rest are shared with `tensors`.
 */
export function nameClusters(tensors: ReadonlyMap<string, Float32Array>, head: string, clusters: ArrayLike<number>, labels: ArrayLike<number>, classes: number): Map<string, Float32Array> {
  const weight = tensors.get(`${head}.weight`);
  const bias = tensors.get(`${head}.bias`);
  if (!weight || !bias || bias.length !== classes) throw new Error(`nameClusters: no ${classes}-class head "${head}" in the tensors`);
  const dim = weight.length / classes;
  const { mapping } = clusteringAccuracy(clusters, labels, classes);
  const renamed = new Float32Array(weight.length);
  const renamedBias = new Float32Array(classes);
  mapping.forEach((digit, cluster) => {
    renamed.set(weight.subarray(cluster * dim, (cluster + 1) * dim), digit * dim);
    renamedBias[digit] = bias[cluster];
  });
  return new Map([...tensors, [`${head}.weight`, renamed], [`${head}.bias`, renamedBias]]);
}
