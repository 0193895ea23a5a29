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

/** What a generation trains once the gate has judged the pending candidate, if there was one. */
export interface NextCandidate {
  /** Whether this generation trains a new candidate. */
  train: boolean;
  /**
   * The weights it starts from: the active model's, or the pending candidate's. Trained while a candidate is pending,
   * it takes that candidate's place as the challenger (the pending one is superseded, never promoted).
   */
  from: 'active' | 'pending';
}

export interface SupersedeRules {
  /** Replace a candidate still pending by one trained on the events since (false: wait for its decision). */
  supersede: boolean;
  /** Events pulled since the last generation: without any, a successor would learn nothing its predecessor had not. */
  newEvents: number;
}

/**
 * The candidate a generation trains, given the gate's decision on the pending one (null: none was pending). After a
 * promotion or a rejection, or with nothing pending, a new candidate starts from the active model. A candidate still
 * pending is judged only on events logged after it was frozen, so while it gathers them the events since go unused and
 * the next generations serve what it was trained on. With `supersede`, a generation with new events trains a successor
 * instead and makes it the challenger: from the pending candidate when the evidence so far leans its way (estimate ≥ 0),
 * so the successor's lead over the active model grows, else from the active model. The successor is judged afresh on
 * the events logged after its own freeze, so each challenger's bounds hold as before; what is given up is the pending
 * candidate's evidence (about one generation's held-out events). No evidence yet (estimate null) supersedes nothing.
 */
export function nextCandidate(decision: GateDecision['decision'] | null, estimate: PairedEstimate | null, rules: SupersedeRules): NextCandidate {
  if (decision !== 'pending') return { train: true, from: 'active' };
  if (!rules.supersede || rules.newEvents <= 0 || !estimate) return { train: false, from: 'active' };
  return { train: true, from: estimate.value >= 0 ? 'pending' : 'active' };
}
