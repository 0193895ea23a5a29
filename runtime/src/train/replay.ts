// Replays of a logged evaluation with a known truth: each image's action is drawn again from the distribution it was
// logged with and its reward read from the label, so the true V(candidate) − V(active) on those images is exact.
import { Random } from '../engine/random';
import { sampleIndex } from '../engine/sampling';
import { comparePolicies, type ComparisonEvent, type ComparisonOptions, type PairedEstimate } from './off_policy';

/** One evaluation image: its label, the distribution actions are drawn from, and what the two policies make of it. */
export interface ReplayImage {
  cluster: number;
  label: number;
  logging: ArrayLike<number>;
  candidateProbabilities: ArrayLike<number>;
  activeProbabilities: ArrayLike<number>;
  candidateAction: number;
  activeAction: number;
  /** The reference's probabilities for the image's digit, if the gate reads one (ComparisonEvent.referenceProbabilities). */
  referenceProbabilities?: ArrayLike<number>;
}

/** 1 / min(μ(c|x), μ(b|x)): the largest weight an event of this image can carry. */
export const maxWeightOf = (logging: ArrayLike<number>, candidateAction: number, activeAction: number): number =>
  1 / Math.min(logging[candidateAction], logging[activeAction]);

/** The true difference on these images: the candidate's accuracy minus the active model's. */
export function trueDifference(images: readonly ReplayImage[]): number {
  let total = 0;
  for (const image of images) total += (image.candidateAction === image.label ? 1 : 0) - (image.activeAction === image.label ? 1 : 0);
  return total / images.length;
}

/** One replay: each image's action redrawn from its logging distribution, reward 1 for the label, a share of rewards lost (left out, as unknown). */
export function replayEvents(images: readonly ReplayImage[], random: Random, dropRate = 0): ComparisonEvent[] {
  const events: ComparisonEvent[] = [];
  for (const image of images) {
    const action = sampleIndex(image.logging, random.next());
    if (random.next() < dropRate) continue;
    events.push({
      cluster: image.cluster,
      action,
      propensity: image.logging[action],
      reward: action === image.label ? 1 : 0,
      candidateAction: image.candidateAction,
      activeAction: image.activeAction,
      maxWeight: maxWeightOf(image.logging, image.candidateAction, image.activeAction),
      candidateProbabilities: image.candidateProbabilities,
      activeProbabilities: image.activeProbabilities,
      ...(image.referenceProbabilities && { referenceProbabilities: image.referenceProbabilities }),
    });
  }
  return events;
}

export interface ReplayStudy {
  /** The true V(candidate) − V(active) on the evaluation's images. */
  truth: number;
  replays: number;
  /** Share of replays whose lower bound is at or below the truth (at every look, with `looks` above 1). */
  coverage: number;
  /** Share of replays whose lower bound is above the margin: the candidate would be promoted. */
  promotionRate: number;
  /**
   * Share of replays whose lower bound is above truth − `detectable`: how often a candidate exactly `detectable` better
   * than the active model, with errors like this pair's, would be promoted (the gate's power at that difference).
   */
  detectableRate: number;
  /** Mean over replays of the estimate, of its per-event variance given the images, and of the clustered one. */
  meanEstimate: number;
  meanConditionalVariance: number;
  meanVariance: number;
  /** The largest bound on a correction over the replays (`PairedEstimate.correctionBound`). */
  correctionBound: number;
  /** Mean over replays of `PairedEstimate.downsideBound`, the power formula's B. */
  downsideBound: number;
}

/**
 * Replays one evaluation `replays` times (seeded) and measures the gate's lower bound against the known truth. With
 * `looks` above 1 the evaluation arrives in that many equal pulls and the gate judges after each, as it does a pending
 * candidate: a replay covers only if the lower bound is at or below the truth on the images so far at every look (the
 * other figures are the last look's).
 */
export function replayStudy(
  images: readonly ReplayImage[],
  options: { replays: number; seed: number; dropRate: number; margin?: number; detectable?: number; looks?: number; comparison?: ComparisonOptions },
  random = new Random(options.seed),
): ReplayStudy {
  const truth = trueDifference(images);
  const looks = Math.max(1, Math.min(options.looks ?? 1, images.length));
  const ends = Array.from({ length: looks }, (_, k) => Math.round(((k + 1) * images.length) / looks));
  const truths = ends.map((end) => trueDifference(images.slice(0, end)));
  let covered = 0;
  let promoted = 0;
  let detected = 0;
  let estimates = 0;
  let variances = 0;
  let conditionalVariances = 0;
  let correctionBound = 0;
  let downsideBounds = 0;
  for (let replay = 0; replay < options.replays; replay++) {
    const events: ComparisonEvent[] = [];
    let coveredEveryLook = true;
    let estimate: PairedEstimate | null = null;
    for (const [k, end] of ends.entries()) {
      events.push(...replayEvents(images.slice(k === 0 ? 0 : ends[k - 1], end), random, options.dropRate));
      estimate = comparePolicies(events, options.comparison);
      if (estimate.lower > truths[k]) coveredEveryLook = false;
    }
    if (!estimate) throw new Error('a replay study needs at least one image');
    if (coveredEveryLook) covered++;
    if (estimate.lower > (options.margin ?? 0)) promoted++;
    if (estimate.lower > truth - (options.detectable ?? 0.005)) detected++;
    estimates += estimate.value;
    variances += estimate.variance;
    conditionalVariances += estimate.conditionalVariance;
    correctionBound = Math.max(correctionBound, estimate.correctionBound);
    downsideBounds += estimate.downsideBound;
  }
  return {
    truth, replays: options.replays, coverage: covered / options.replays, promotionRate: promoted / options.replays, detectableRate: detected / options.replays,
    meanEstimate: estimates / options.replays,
    meanConditionalVariance: conditionalVariances / options.replays, meanVariance: variances / options.replays, correctionBound,
    downsideBound: downsideBounds / options.replays,
  };
}
