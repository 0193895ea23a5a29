// The promotion gate: from the comparison of a pending candidate with the active model, promote, reject or keep
// gathering events. Deciding again after each pull is what the bounds are built for: the betting confidence sequence
// holds at every count for a predictable reward model, and with the default one (which reads later events of an image
// too) the replays measured the error over 5 looks at most 2% (docs/gate.md).
import type { PairedEstimate } from './off_policy';

export interface GateRules {
  /** Required lead of V(candidate) − V(active): the lower bound must be above it to promote. */
  margin: number;
  /** A candidate still undecided after this many evaluation events is rejected. */
  maxEvents: number;
}

export interface GateDecision {
  decision: 'promote' | 'reject' | 'pending';
  reason: string;
}

const percent = (value: number) => `${(value * 100).toFixed(2)} points`;

export function gateDecision(estimate: PairedEstimate | null, rules: GateRules): GateDecision {
  if (!estimate) return { decision: 'pending', reason: 'no evaluation events logged with the candidate as challenger yet' };
  const level = `${Math.round((1 - estimate.alpha) * 100)}%`;
  const summary = `candidate − active ${percent(estimate.value)}, ${level} bounds [${percent(estimate.lower)}, ${percent(estimate.upper)}] on ${estimate.n} events (${estimate.disagreements} disagreeing)`;
  if (estimate.lower > rules.margin) return { decision: 'promote', reason: `${summary}: lower bound above the margin ${rules.margin}` };
  if (estimate.upper <= rules.margin) return { decision: 'reject', reason: `${summary}: upper bound not above the margin ${rules.margin}` };
  if (estimate.n >= rules.maxEvents) return { decision: 'reject', reason: `${summary}: undecided after ${rules.maxEvents} events` };
  return { decision: 'pending', reason: `${summary}: undecided, gathering more events` };
}
