// Finite differences in float64, to check each backward reference against its forward reference.
import { expect } from 'vitest';

/** Central differences of a scalar function at x (x is restored afterwards). */
export function numericGradient(f: (x: Float64Array) => number, x: Float64Array, eps = 1e-6): Float64Array {
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const saved = x[i];
    x[i] = saved + eps;
    const up = f(x);
    x[i] = saved - eps;
    const down = f(x);
    x[i] = saved;
    grad[i] = (up - down) / (2 * eps);
  }
  return grad;
}

/** Σ weights·values: turns a tensor-valued forward into the scalar whose gradient is the backward given `weights` as gradOutput. */
export function dot(values: ArrayLike<number>, weights: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * weights[i];
  return sum;
}

/** Analytic and numeric gradients agree to 1e-6 + 1e-5·|numeric| (float64, smooth points). */
export function expectGradient(what: string, analytic: ArrayLike<number>, numeric: ArrayLike<number>, atol = 1e-6, rtol = 1e-5): void {
  expect(analytic.length, `${what}: length`).toBe(numeric.length);
  for (let i = 0; i < numeric.length; i++) {
    const diff = Math.abs(analytic[i] - numeric[i]);
    if (!(diff <= atol + rtol * Math.abs(numeric[i]))) {
      throw new Error(`${what}: gradient ${i} is ${analytic[i]}, finite differences give ${numeric[i]}`);
    }
  }
}

/** Float64 copy, for references and finite differences. */
export const f64 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a);
