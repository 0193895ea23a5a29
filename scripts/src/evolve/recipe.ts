// How a model learns from logged rewards, one recipe for pnpm start, pnpm evolve and pnpm experiment:rewards: the
// figures behind each value are in docs/evolution.md ("Figures").
export const REWARD_RECIPE = {
  /** What the edge explores with: ε-greedy keeps most answers right while every digit still gets tried. */
  exploration: 'epsilon:0.1',
  /** Weight of the self-supervised term beside the policy gradient. */
  alpha: 0.2,
  lr: 0.002,
  /** The trunk learns at this fraction of lr: the rewards mostly have to name what pretraining found. */
  trunkLrScale: 0.1,
  epochs: 3,
  minSteps: 300,
  /** Inverse-propensity weights clipped at 20. */
  clip: 20,
  /** λ of the complementary term: a given reward of 0 says "not this digit". */
  complementary: 1,
} as const;
