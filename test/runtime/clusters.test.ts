import { describe, expect, it } from 'vitest';
import {
  argmaxRows, clusteringAccuracy, fitScanHead, nameClusters, nearestNeighbours, normalizeRows, Random, scanHeadLoss, scanPolicyHead,
  type ScanShape,
} from '@seed/runtime';
import { scanLossRef } from '@seed/kernels';
import { expectGradient, numericGradient } from '../support/gradcheck';

/** `perClass` noisy points around each of `classes` random directions in `dim` dimensions, with their class. */
function blobs(classes: number, perClass: number, dim: number, noise: number, seed: number, length = () => 1): { x: Float64Array; labels: Uint32Array; rows: number } {
  const random = new Random(seed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: dim }, () => random.next() * 2 - 1));
  const rows = classes * perClass;
  const x = new Float64Array(rows * dim);
  const labels = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) {
    // Interleaved classes, so no cluster is a contiguous block of rows.
    const c = r % classes;
    labels[r] = c;
    const scale = length();
    for (let d = 0; d < dim; d++) x[r * dim + d] = scale * (centres[c][d] + noise * (random.next() * 2 - 1));
  }
  return { x, labels, rows };
}

describe('nearestNeighbours', () => {
  it('gives each row its k most similar other rows, nearest first, as sorting every similarity does', () => {
    const random = new Random(3);
    const [rows, dim, k] = [37, 5, 6];
    const x = normalizeRows(random.floats(rows * dim, -1, 1), rows, dim);
    const found = nearestNeighbours(x, rows, dim, k);
    for (let i = 0; i < rows; i++) {
      const similarity = (j: number) => Array.from({ length: dim }, (_, d) => x[i * dim + d] * x[j * dim + d]).reduce((a, b) => a + b, 0);
      const expected = Array.from({ length: rows }, (_, j) => j).filter((j) => j !== i).sort((a, b) => similarity(b) - similarity(a)).slice(0, k);
      expect(Array.from(found.subarray(i * k, (i + 1) * k))).toEqual(expected);
    }
  });

  it('refuses k outside 1 … rows − 1', () => {
    expect(() => nearestNeighbours(new Float64Array(6), 3, 2, 3)).toThrow(/1 ≤ k < rows/);
    expect(() => nearestNeighbours(new Float64Array(6), 3, 2, 0)).toThrow(/1 ≤ k < rows/);
  });
});

describe('scanHeadLoss (the head fitted on frozen features)', () => {
  const shape: ScanShape = { classes: 3, dim: 4, temperature: 0.5, entropyWeight: 2 };
  const random = new Random(9);
  const x = random.floats(10 * shape.dim, -1, 1);
  const anchors = [0, 1, 2, 3, 4];
  const partners = [5, 6, 7, 8, 9];

  it('has the gradient finite differences give, in weights and biases', () => {
    const params = Float64Array.from(random.floats(shape.classes * (shape.dim + 1), -1, 1));
    const grad = new Float64Array(params.length);
    scanHeadLoss(params, x, anchors, partners, shape, grad);
    expectGradient('scan head gradient', grad, numericGradient((p) => scanHeadLoss(p, x, anchors, partners, shape), params));
  });

  it('is the mean of the kernel reference\'s per-row losses on the same logits', () => {
    const params = Float64Array.from(random.floats(shape.classes * (shape.dim + 1), -1, 1));
    const rows = [...anchors, ...partners];
    const logits = rows.flatMap((r) => Array.from({ length: shape.classes }, (_, c) => {
      let s = params[shape.classes * shape.dim + c];
      for (let d = 0; d < shape.dim; d++) s += params[c * shape.dim + d] * x[r * shape.dim + d];
      return s / shape.temperature;
    }));
    const reference = scanLossRef({ rows: rows.length, classes: shape.classes, entropyWeight: shape.entropyWeight, scale: 1 }, logits);
    expect(scanHeadLoss(params, x, anchors, partners, shape)).toBeCloseTo(reference.loss.reduce((a, b) => a + b, 0) / rows.length, 10);
  });
});

describe('fitScanHead', () => {
  it('finds planted clusters from neighbours alone, and keeps the head with the lowest loss', () => {
    const { x, labels, rows } = blobs(5, 60, 8, 0.35, 21);
    const unit = normalizeRows(x, rows, 8);
    const neighbours = nearestNeighbours(unit, rows, 8, 10);
    const fit = fitScanHead(unit, rows, 8, neighbours, { classes: 5, heads: 3, steps: 300, batch: 64, seed: 2 });
    expect(clusteringAccuracy(fit.clusters, labels, 5).accuracy).toBeGreaterThan(0.97);
    expect(fit.heads).toHaveLength(3);
    expect(fit.loss).toBe(Math.min(...fit.heads.map((h) => h.loss)));
  });

  it('is the same given the same seed, and refuses neighbours of the wrong length', () => {
    const { x, rows } = blobs(3, 20, 4, 0.3, 5);
    const unit = normalizeRows(x, rows, 4);
    const neighbours = nearestNeighbours(unit, rows, 4, 5);
    const options = { classes: 3, heads: 2, steps: 50, batch: 16, seed: 7 };
    expect(Array.from(fitScanHead(unit, rows, 4, neighbours, options).weight)).toEqual(Array.from(fitScanHead(unit, rows, 4, neighbours, options).weight));
    expect(() => fitScanHead(unit, rows, 4, neighbours.subarray(1), options)).toThrow(/k indices per row/);
  });
});

describe('scanPolicyHead', () => {
  it('carries the clusters over to features of any length: its argmax on raw rows is the fitted clusters', () => {
    const random = new Random(8);
    const { x, labels, rows } = blobs(4, 40, 6, 0.3, 13, () => 0.5 + 3 * random.next());
    const head = scanPolicyHead(x, rows, 6, { classes: 4, heads: 2, steps: 300, batch: 64, neighbours: 8 });
    const logits = new Float64Array(rows * 4);
    for (let r = 0; r < rows; r++) for (let c = 0; c < 4; c++) {
      let s = head.bias[c];
      for (let d = 0; d < 6; d++) s += head.weight[c * 6 + d] * x[r * 6 + d];
      logits[r * 4 + c] = s;
    }
    expect(Array.from(argmaxRows(logits, rows, 4))).toEqual(Array.from(head.fit.clusters));
    expect(clusteringAccuracy(head.fit.clusters, labels, 4).accuracy).toBeGreaterThan(0.95);
    // As soft as a k-means head: mean row length × mean feature length = the sharpness (3).
    const meanLength = (v: ArrayLike<number>, count: number) => Array.from({ length: count }, (_, r) => Math.hypot(...Array.from({ length: 6 }, (_, d) => v[r * 6 + d]))).reduce((a, b) => a + b, 0) / count;
    expect(meanLength(head.weight, 4) * meanLength(x, rows)).toBeCloseTo(3, 4);
  });
});

describe('nameClusters', () => {
  it('moves each cluster\'s row to the digit the labelled images name it, and leaves other tensors alone', () => {
    const tensors = new Map([
      ['fc.weight', Float32Array.from([0, 0, 1, 1, 2, 2])], // rows of clusters 0, 1, 2 (dim 2)
      ['fc.bias', Float32Array.from([10, 11, 12])],
      ['conv.weight', Float32Array.from([5])],
    ]);
    // Cluster 0 is mostly digit 2, cluster 1 digit 0, cluster 2 digit 1.
    const clusters = [0, 0, 0, 1, 1, 2, 2, 2];
    const labels = [2, 2, 1, 0, 0, 1, 1, 2];
    const named = nameClusters(tensors, 'fc', clusters, labels, 3);
    expect(Array.from(named.get('fc.weight')!)).toEqual([1, 1, 2, 2, 0, 0]);
    expect(Array.from(named.get('fc.bias')!)).toEqual([11, 12, 10]);
    expect(named.get('conv.weight')).toBe(tensors.get('conv.weight'));
    expect(Array.from(tensors.get('fc.bias')!)).toEqual([10, 11, 12]);
    expect(() => nameClusters(tensors, 'nope', clusters, labels, 3)).toThrow(/no 3-class head "nope"/);
  });
});
