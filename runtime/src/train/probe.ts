// How good are features without the reward loop: a linear classifier trained on frozen features (the linear probe),
// and clusters (k-means) scored against labels through the best one-to-one cluster → digit assignment (Hungarian).
// Labels are read here for reporting only; nothing trained from them flows back into a model.
import { Random } from '../engine/random';

/** Rows of `dim` values scaled to unit length (zero rows stay zero): clusters then follow cosine similarity. */
export function normalizeRows(x: ArrayLike<number>, rows: number, dim: number): Float64Array {
  const out = Float64Array.from(x);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let d = 0; d < dim; d++) sum += out[r * dim + d] ** 2;
    const norm = Math.sqrt(sum);
    if (norm > 0) for (let d = 0; d < dim; d++) out[r * dim + d] /= norm;
  }
  return out;
}

/**
 * A multinomial logistic regression on standardised features (mean and spread of the training rows), mini-batch
 * Adam with a little L2; returns the accuracy on the test rows.
 */
export function linearProbe(
  train: { x: ArrayLike<number>; labels: ArrayLike<number> }, test: { x: ArrayLike<number>; labels: ArrayLike<number> },
  dim: number, classes: number, options: { epochs?: number; lr?: number; l2?: number; seed?: number } = {},
): number {
  const n = train.labels.length;
  const mean = new Float64Array(dim);
  const sd = new Float64Array(dim);
  for (let r = 0; r < n; r++) for (let d = 0; d < dim; d++) mean[d] += train.x[r * dim + d] / n;
  for (let r = 0; r < n; r++) for (let d = 0; d < dim; d++) sd[d] += (train.x[r * dim + d] - mean[d]) ** 2 / n;
  for (let d = 0; d < dim; d++) sd[d] = Math.sqrt(sd[d]) || 1;
  const standard = (x: ArrayLike<number>, rows: number) => Float64Array.from({ length: rows * dim }, (_, k) => (x[k] - mean[k % dim]) / sd[k % dim]);
  const xs = standard(train.x, n);
  const params = classes * (dim + 1); // weights [classes, dim] then biases
  const w = new Float64Array(params);
  const m = new Float64Array(params);
  const v = new Float64Array(params);
  const grad = new Float64Array(params);
  const { epochs = 40, lr = 0.01, l2 = 1e-4, seed = 1 } = options;
  const random = new Random(seed);
  const logits = new Float64Array(classes);
  const batch = 128;
  let t = 0;
  const scores = (x: Float64Array, r: number) => {
    for (let k = 0; k < classes; k++) {
      let s = w[classes * dim + k];
      for (let d = 0; d < dim; d++) s += w[k * dim + d] * x[r * dim + d];
      logits[k] = s;
    }
  };
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = random.shuffle(Array.from({ length: n }, (_, i) => i)) as number[];
    for (let start = 0; start < n; start += batch) {
      grad.fill(0);
      const rows = order.slice(start, start + batch);
      for (const r of rows) {
        scores(xs, r);
        const top = Math.max(...logits);
        let total = 0;
        for (let k = 0; k < classes; k++) total += (logits[k] = Math.exp(logits[k] - top));
        for (let k = 0; k < classes; k++) {
          const g = (logits[k] / total - (k === train.labels[r] ? 1 : 0)) / rows.length;
          for (let d = 0; d < dim; d++) grad[k * dim + d] += g * xs[r * dim + d];
          grad[classes * dim + k] += g;
        }
      }
      t++;
      for (let p = 0; p < params; p++) {
        const g = grad[p] + (p < classes * dim ? l2 * w[p] : 0);
        m[p] = 0.9 * m[p] + 0.1 * g;
        v[p] = 0.999 * v[p] + 0.001 * g * g;
        w[p] -= (lr * (m[p] / (1 - 0.9 ** t))) / (Math.sqrt(v[p] / (1 - 0.999 ** t)) + 1e-8);
      }
    }
  }
  const xt = standard(test.x, test.labels.length);
  let correct = 0;
  for (let r = 0; r < test.labels.length; r++) {
    scores(xt, r);
    let best = 0;
    for (let k = 1; k < classes; k++) if (logits[k] > logits[best]) best = k;
    if (best === test.labels[r]) correct++;
  }
  return correct / test.labels.length;
}

/** k-means (k-means++ starts, Lloyd's iterations), the best of `restarts` by within-cluster squared distance. */
export function kMeans(x: ArrayLike<number>, rows: number, dim: number, k: number, options: { restarts?: number; iterations?: number; seed?: number } = {}): Uint32Array {
  const { restarts = 4, iterations = 60, seed = 1 } = options;
  const random = new Random(seed);
  const distance = (r: number, centres: Float64Array, c: number) => {
    let sum = 0;
    for (let d = 0; d < dim; d++) sum += (x[r * dim + d] - centres[c * dim + d]) ** 2;
    return sum;
  };
  let best = { inertia: Infinity, assignment: new Uint32Array(rows) };
  for (let attempt = 0; attempt < restarts; attempt++) {
    const centres = new Float64Array(k * dim);
    const nearest = new Float64Array(rows).fill(Infinity);
    for (let c = 0; c < k; c++) {
      // k-means++: the next centre is a row drawn with probability proportional to its squared distance.
      let pick = random.int(rows);
      if (c > 0) {
        const total = nearest.reduce((a, b) => a + b, 0);
        let u = random.next() * total;
        for (pick = 0; pick < rows - 1 && (u -= nearest[pick]) > 0; pick++);
      }
      for (let d = 0; d < dim; d++) centres[c * dim + d] = x[pick * dim + d];
      for (let r = 0; r < rows; r++) nearest[r] = Math.min(nearest[r], distance(r, centres, c));
    }
    const assignment = new Uint32Array(rows);
    let inertia = Infinity;
    for (let iteration = 0; iteration < iterations; iteration++) {
      let changed = false;
      inertia = 0;
      for (let r = 0; r < rows; r++) {
        let closest = 0;
        let closestDistance = Infinity;
        for (let c = 0; c < k; c++) {
          const dist = distance(r, centres, c);
          if (dist < closestDistance) { closestDistance = dist; closest = c; }
        }
        if (assignment[r] !== closest) changed = true;
        assignment[r] = closest;
        inertia += closestDistance;
      }
      if (!changed && iteration > 0) break;
      const counts = new Float64Array(k);
      centres.fill(0);
      for (let r = 0; r < rows; r++) {
        counts[assignment[r]]++;
        for (let d = 0; d < dim; d++) centres[assignment[r] * dim + d] += x[r * dim + d];
      }
      for (let c = 0; c < k; c++) {
        // An empty cluster restarts at a random row.
        const from = counts[c] > 0 ? -1 : random.int(rows);
        for (let d = 0; d < dim; d++) centres[c * dim + d] = from < 0 ? centres[c * dim + d] / counts[c] : x[from * dim + d];
      }
    }
    if (inertia < best.inertia) best = { inertia, assignment };
  }
  return best.assignment;
}

/**
 * The assignment of rows to columns of a square cost matrix with the least total cost (Hungarian algorithm with
 * potentials, O(n³)): result[row] = column.
 */
export function hungarian(cost: readonly (readonly number[])[]): number[] {
  const n = cost.length;
  const u = new Float64Array(n + 1);
  const v = new Float64Array(n + 1);
  const match = new Int32Array(n + 1); // match[column] = row, 1-based, 0 for none
  const way = new Int32Array(n + 1);
  for (let row = 1; row <= n; row++) {
    match[0] = row;
    let column0 = 0;
    const least = new Float64Array(n + 1).fill(Infinity);
    const used = new Uint8Array(n + 1);
    do {
      used[column0] = 1;
      const row0 = match[column0];
      let delta = Infinity;
      let column1 = 0;
      for (let column = 1; column <= n; column++) {
        if (used[column]) continue;
        const reduced = cost[row0 - 1][column - 1] - u[row0] - v[column];
        if (reduced < least[column]) { least[column] = reduced; way[column] = column0; }
        if (least[column] < delta) { delta = least[column]; column1 = column; }
      }
      for (let column = 0; column <= n; column++) {
        if (used[column]) { u[match[column]] += delta; v[column] -= delta; } else least[column] -= delta;
      }
      column0 = column1;
    } while (match[column0] !== 0);
    do {
      const column1 = way[column0];
      match[column0] = match[column1];
      column0 = column1;
    } while (column0 !== 0);
  }
  const result = new Array<number>(n).fill(-1);
  for (let column = 1; column <= n; column++) if (match[column] > 0) result[match[column] - 1] = column - 1;
  return result;
}

/**
 * Clustering accuracy: each of `k` clusters mapped to one of `k` classes by the assignment that gets the most rows
 * right (Hungarian on the confusion counts), then the fraction right. Returns the accuracy and cluster → class.
 */
export function clusteringAccuracy(clusters: ArrayLike<number>, labels: ArrayLike<number>, k: number): { accuracy: number; mapping: number[] } {
  const counts = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < labels.length; i++) counts[clusters[i]][labels[i]]++;
  const mapping = hungarian(counts.map((row) => row.map((c) => -c)));
  const right = mapping.reduce((sum, label, cluster) => sum + counts[cluster][label], 0);
  return { accuracy: right / labels.length, mapping };
}

/** The mean Euclidean length of `rows` rows of `dim` values (1 when it is 0, so it can divide). */
export function meanRowLength(x: ArrayLike<number>, rows: number, dim: number): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let d = 0; d < dim; d++) sum += x[r * dim + d] ** 2;
    total += Math.sqrt(sum) / rows;
  }
  return total || 1;
}

/** How far apart a cluster head's logits are, about ±sharpness: soft enough that softmax exploration tries other digits. */
export const DEFAULT_SHARPNESS = 3;

/**
 * A policy head whose argmax is the nearest of `k` cluster centres by cosine (spherical k-means on the features,
 * no labels): weight row c = β·ĉ_c with β = sharpness / mean |f|, bias 0. The rewards then only have to name the
 * clusters. Returns the head's tensors ([k, dim] and [k]) and each row's cluster.
 */
export function clusterHead(features: ArrayLike<number>, rows: number, dim: number, k: number, options: { sharpness?: number; seed?: number } = {}): { weight: Float32Array; bias: Float32Array; clusters: Uint32Array } {
  const unit = normalizeRows(features, rows, dim);
  const clusters = kMeans(unit, rows, dim, k, { seed: options.seed });
  const centres = new Float64Array(k * dim);
  for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) centres[clusters[r] * dim + d] += unit[r * dim + d];
  const beta = (options.sharpness ?? DEFAULT_SHARPNESS) / meanRowLength(features, rows, dim);
  const weight = Float32Array.from(normalizeRows(centres, k, dim), (v) => v * beta);
  return { weight, bias: new Float32Array(k), clusters };
}
