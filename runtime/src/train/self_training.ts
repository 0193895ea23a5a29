// Self-training from a few labels: the model names the unlabelled images it is surest of, class by class, and trains
// on them beside the labelled ones; each round names them again with the model the last round made, and takes a
// larger share. The decisions (which images, which share) are here; trainer.ts runs the rounds.

/** An unlabelled image and the class the model gives it. */
export interface PseudoLabel {
  index: number;
  label: number;
}

/**
 * Per class, the `fraction` of the images the model gives that class (its argmax) with the highest probability for it,
 * so a class the model is less sure of is not crowded out by one it is sure of. `skip` leaves rows out (the labelled
 * images). Ties keep the lower index first; the result is ordered by class, then by falling probability.
 */
export function confidentPicks(probabilities: ArrayLike<number>, rows: number, classes: number, fraction: number, skip: ReadonlySet<number> = new Set()): PseudoLabel[] {
  if (probabilities.length !== rows * classes) throw new Error(`expected ${rows}×${classes} probabilities, got ${probabilities.length}`);
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`fraction must be in [0, 1], got ${fraction}`);
  const byClass: { index: number; p: number }[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < rows; i++) {
    if (skip.has(i)) continue;
    let best = 0;
    for (let k = 1; k < classes; k++) if (probabilities[i * classes + k] > probabilities[i * classes + best]) best = k;
    byClass[best].push({ index: i, p: probabilities[i * classes + best] });
  }
  return byClass.flatMap((members, label) => {
    members.sort((a, b) => b.p - a.p || a.index - b.index);
    return members.slice(0, Math.round(members.length * fraction)).map(({ index }) => ({ index, label }));
  });
}

/** The share of each class a round takes: from `first` in the first round to `last` in the last, evenly. */
export function roundFractions(rounds: number, first = 0.5, last = 0.9): number[] {
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds must be a positive integer, got ${rounds}`);
  if (rounds === 1) return [last];
  return Array.from({ length: rounds }, (_, r) => first + ((last - first) * r) / (rounds - 1));
}

/**
 * The probabilities reweighted per class so that, summed over the rows, each class holds `prior[k]` of them (uniform
 * by default): q_ik ∝ p_ik·w_k, with the weights w found by Sinkhorn's iterations (Asano et al. 2020, SwAV). A class
 * the model swallows a look-alike into (every 4 called 9, say) holds more than its share, so its weight falls and the
 * rows it barely won go back to the class next in line. No label is read: only the prior.
 */
export function balancedProbabilities(probabilities: ArrayLike<number>, rows: number, classes: number, options: { prior?: readonly number[]; iterations?: number } = {}): Float32Array {
  if (probabilities.length !== rows * classes) throw new Error(`expected ${rows}×${classes} probabilities, got ${probabilities.length}`);
  const prior = options.prior ?? Array.from({ length: classes }, () => 1 / classes);
  if (prior.length !== classes || prior.some((p) => !(p > 0))) throw new Error(`prior must have ${classes} positive shares`);
  const priorSum = prior.reduce((a, b) => a + b, 0);
  const weights = new Float64Array(classes).fill(1);
  const q = new Float32Array(rows * classes);
  const mass = new Float64Array(classes);
  const normalise = () => {
    mass.fill(0);
    for (let i = 0; i < rows; i++) {
      let sum = 0;
      for (let k = 0; k < classes; k++) sum += probabilities[i * classes + k] * weights[k];
      for (let k = 0; k < classes; k++) {
        const v = sum > 0 ? (probabilities[i * classes + k] * weights[k]) / sum : 1 / classes;
        q[i * classes + k] = v;
        mass[k] += v;
      }
    }
  };
  for (let t = 0; t < (options.iterations ?? 50); t++) {
    normalise();
    for (let k = 0; k < classes; k++) weights[k] *= mass[k] > 0 ? (rows * prior[k]) / priorSum / mass[k] : 1;
  }
  normalise();
  return q;
}
