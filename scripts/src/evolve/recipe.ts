// How a model learns from logged rewards, one recipe for pnpm start, pnpm evolve and pnpm experiment:rewards: the
// figures behind each value are in docs/evolution.md ("Figures").
export const REWARD_RECIPE = {
  /**
   * What the clients' edge explores with: sampling the model's own softmax tries every digit while the policy is
   * unsure (the cluster-initialised head starts soft) and exploits once it is sure.
   */
  exploration: 'softmax:1.0',
  /** Weight of the self-supervised term beside the policy gradient. */
  alpha: 0.2,
  lr: 0.002,
  /**
   * The trunk learns at this fraction of lr. At 0.1 the rewards could only name what pretraining found, and the policy
   * stopped at the linear probe's accuracy; at 1 the rewards also sharpen the features (90.65% → 94.30% after 3,200
   * interactions from the cluster head, docs/evolution.md).
   */
  trunkLrScale: 1,
  epochs: 3,
  /** Steps of an offline round (pnpm experiment:rewards), and of a generation's candidate (pnpm start, pnpm evolve). */
  minSteps: 300,
  generationMinSteps: 750,
  /** Inverse-propensity weights clipped at 20. */
  clip: 20,
  /** λ of the complementary term: a given reward of 0 says "not this digit". */
  complementary: 1,
} as const;
