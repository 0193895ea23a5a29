import { describe, expect, it } from 'vitest';
import { argmaxRows, clusterHead, clusteringAccuracy, hungarian, kMeans, linearProbe, normalizeRows, Random } from '@seed/runtime';

/** Every permutation of 0..n−1. */
function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

const total = (cost: number[][], assignment: number[]) => assignment.reduce((sum, column, row) => sum + cost[row][column], 0);

describe('hungarian', () => {
  it.each([1, 2, 3, 4, 5, 6])('finds the least-cost assignment of n×n matrices (n = %i), as enumerating every permutation does', (n) => {
    const random = new Random(n * 31);
    for (let trial = 0; trial < 40; trial++) {
      // Small integer costs make ties common: the total must still be the least.
      const cost = Array.from({ length: n }, () => Array.from({ length: n }, () => random.int(trial % 2 ? 4 : 100) - 10));
      const assignment = hungarian(cost);
      expect([...assignment].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      const best = Math.min(...permutations(n).map((p) => total(cost, p)));
      expect(total(cost, assignment)).toBe(best);
    }
  });
});

describe('clusteringAccuracy', () => {
  it('names clusters by the best one-to-one assignment, as brute force over every mapping does', () => {
    const random = new Random(4);
    for (let trial = 0; trial < 30; trial++) {
      const k = 2 + (trial % 4);
      const labels = Array.from({ length: 60 }, () => random.int(k));
      const clusters = labels.map((l) => (random.next() < 0.6 ? (l + 1) % k : random.int(k)));
      const best = Math.max(...permutations(k).map((p) => labels.filter((l, i) => p[clusters[i]] === l).length)) / labels.length;
      const { accuracy, mapping } = clusteringAccuracy(clusters, labels, k);
      expect(accuracy).toBeCloseTo(best, 12);
      expect(labels.filter((l, i) => mapping[clusters[i]] === l).length / labels.length).toBeCloseTo(accuracy, 12);
    }
  });

  it('a relabelled perfect clustering scores 1', () => {
    const labels = [0, 1, 2, 2, 1, 0, 3];
    expect(clusteringAccuracy(labels.map((l) => (l + 2) % 4), labels, 4).accuracy).toBe(1);
  });
});

/** `perClass` points around each of `k` well-separated centres in `dim` dimensions. */
function blobs(k: number, perClass: number, dim: number, spread: number, seed: number) {
  const random = new Random(seed);
  const centres = Array.from({ length: k }, () => Array.from({ length: dim }, () => random.uniform(-5, 5)));
  const labels: number[] = [];
  const x: number[] = [];
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < perClass; i++) {
      labels.push(c);
      for (let d = 0; d < dim; d++) x.push(centres[c][d] + spread * random.normal());
    }
  }
  return { x: Float64Array.from(x), labels: Uint32Array.from(labels) };
}

describe('kMeans and linearProbe', () => {
  it('k-means recovers well-separated blobs exactly', () => {
    const { x, labels } = blobs(5, 40, 3, 0.2, 7);
    expect(clusteringAccuracy(kMeans(x, labels.length, 3, 5, { seed: 2 }), labels, 5).accuracy).toBe(1);
  });

  it('the linear probe separates linearly separable classes and is near chance on noise', () => {
    const train = blobs(4, 100, 6, 0.5, 3);
    const test = blobs(4, 50, 6, 0.5, 3);
    expect(linearProbe(train, test, 6, 4)).toBeGreaterThan(0.98);
    const random = new Random(9);
    const noise = (n: number) => ({ x: random.floats(n * 6), labels: Uint32Array.from({ length: n }, () => random.int(4)) });
    expect(linearProbe(noise(400), noise(400), 6, 4)).toBeLessThan(0.4);
  });

  it('normalizeRows gives unit rows and leaves zero rows alone', () => {
    const out = normalizeRows([3, 4, 0, 0], 2, 2);
    expect(Array.from(out)).toEqual([0.6, 0.8, 0, 0]);
  });
});

describe('clusterHead', () => {
  it('gives a linear head whose argmax is each row\'s cluster, and the clusters are the blobs', () => {
    const { x, labels } = blobs(4, 50, 5, 0.3, 12);
    const rows = labels.length;
    const head = clusterHead(x, rows, 5, 4, { seed: 1 });
    const logits = new Float64Array(rows * 4);
    for (let r = 0; r < rows; r++) for (let k = 0; k < 4; k++) for (let d = 0; d < 5; d++) logits[r * 4 + k] += head.weight[k * 5 + d] * x[r * 5 + d];
    expect(Array.from(argmaxRows(logits, rows, 4))).toEqual(Array.from(head.clusters));
    expect(clusteringAccuracy(head.clusters, labels, 4).accuracy).toBe(1);
  });
});
