// Compares a GPU result with its reference as |gpu - ref| <= atol + rtol*|ref| and keeps the largest error per kernel.
import { afterAll, expect } from 'vitest';

export const ATOL = 1e-5;
export const RTOL = 1e-4;

const worst = new Map<string, { abs: number; rel: number; checks: number }>();

/** Largest absolute error and largest error relative to the tolerance (<= 1 passes). */
export function maxError(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = ATOL, rtol = RTOL) {
  let abs = 0;
  let ratio = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    const r = diff / (atol + rtol * Math.abs(expected[i]));
    if (!(diff <= abs)) abs = Number.isNaN(diff) ? Infinity : Math.max(abs, diff);
    if (!(r <= ratio)) { ratio = Number.isNaN(r) ? Infinity : r; at = i; }
  }
  return { abs, ratio, at };
}

export function expectClose(kernel: string, actual: ArrayLike<number>, expected: ArrayLike<number>, atol = ATOL, rtol = RTOL): void {
  expect(actual.length, `${kernel}: length`).toBe(expected.length);
  const { abs, ratio, at } = maxError(actual, expected, atol, rtol);
  const seen = worst.get(kernel) ?? { abs: 0, rel: 0, checks: 0 };
  worst.set(kernel, { abs: Math.max(seen.abs, abs), rel: Math.max(seen.rel, ratio), checks: seen.checks + 1 });
  if (ratio > 1) {
    throw new Error(`${kernel}: max |gpu - ref| = ${abs.toExponential(2)} at ${at} (gpu ${actual[at]}, ref ${expected[at]}), over ${atol} + ${rtol}*|ref|`);
  }
}

afterAll(() => {
  if (worst.size === 0) return;
  const lines = [...worst].map(([k, w]) =>
    `  ${k.padEnd(40)} max abs err ${w.abs.toExponential(2)}  (${(w.rel * 100).toFixed(1)}% of tolerance, ${w.checks} checks)`);
  console.log(`largest errors:\n${lines.join('\n')}`);
});
