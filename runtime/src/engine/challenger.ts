// Challenger traffic: while a candidate is pending, it serves a share of the traffic on the images where its greedy
// action differs from the active model's, so the events that decide between them are logged with probabilities near
// the share instead of the exploration floor. The action is drawn from the mixture, whose probability is logged.

/** Share of the disagreeing traffic a challenger serves unless the admin route names another. */
export const DEFAULT_CHALLENGER_SHARE = 0.5;

export interface ChallengerMixture {
  /** μ(·|x) = (1 − s)·active(·|x) + s·challenger(·|x) */
  distribution: Float64Array;
  /** s: the share applied to this image, 0 where the two greedy actions agree. */
  share: number;
}

/** The logging distribution of one image given each model's exploring distribution and whether their greedy actions differ. */
export function challengerMixture(active: Float64Array, challenger: Float64Array, disagree: boolean, share: number): ChallengerMixture {
  if (!(share > 0 && share < 1)) throw new Error(`a challenger's share must be in (0, 1), not ${share}`);
  const applied = disagree ? share : 0;
  return { distribution: active.map((p, a) => (1 - applied) * p + applied * challenger[a]), share: applied };
}
