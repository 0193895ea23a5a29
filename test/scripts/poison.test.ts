// pnpm experiment:poison's summaries: what a run's lineage says about promotions, flags and honest keys, and the paired
// differences against the clean run of the same seed.
import { describe, expect, it } from 'vitest';
import type { GenerationRecord } from '@seed/scripts/evolve/evolve';
import type { GenerationRow } from '@seed/scripts/evolve/start';
import { pairedDifference, poisonReward, summariseRun } from '@seed/scripts/experiments/poison';

const record = (decision: GenerationRecord['decision'], testAccuracy: GenerationRecord['testAccuracy'], keys: GenerationRecord['keys']): GenerationRecord => ({
  time: '', parent: 'v1', version: 'v1', decision, reason: '', eventsTotal: 0, eventsNew: 0, eventsTrain: 0, eventsHeldOut: 0, keys, testAccuracy,
  seconds: { pull: 0, train: 0, evaluate: 0, publish: 0 },
});
const key = (keyId: string, flagged: boolean, z: number, consensusZ: number) => ({ keyId, events: 100, meanReward: 0.5, flagged, z, consensusZ });

describe('summariseRun', () => {
  it('counts promotions that made the model worse on the test digits, the generations the extra key was flagged in, and honest flags', () => {
    const rows: GenerationRow[] = [
      { generation: 0, version: 'v1', events: 0, onlineReward: 0, testAccuracy: 0.05 },
      { generation: 1, version: 'v1', events: 100, onlineReward: 0.1, testAccuracy: 0.05, record: record('frozen', undefined, [key('honest', false, 1, -3.5), key('bad', true, 0.2, 40)]) },
      { generation: 2, version: 'v2', events: 200, onlineReward: 0.5, testAccuracy: 0.8, record: record('promoted', { candidate: 0.8, active: 0.05 }, [key('honest', false, 2, 1), key('bad', false, 1, 2)]) },
      { generation: 3, version: 'v3', events: 300, onlineReward: 0.8, testAccuracy: 0.79, record: record('promoted', { candidate: 0.79, active: 0.8 }, [key('honest', true, 5, 1), key('bad', true, 30, 60)]) },
      { generation: 4, version: 'v3', events: 400, onlineReward: 0.8, testAccuracy: 0.79, record: record('kept', { candidate: 0.7, active: 0.79 }, []) },
    ];
    const summary = summariseRun(3, 'on', rows, 'bad');
    expect(summary).toMatchObject({ seed: 3, run: 'on', finalAccuracy: 0.79, promoted: 2, promotedWorse: 1, flaggedIn: [1, 3], honestFlagged: 1, largestHonestZ: 5 });
    expect(summary.worstPromotionDrop).toBeCloseTo(0.01, 12);
    expect(summary.accuracyByGeneration).toEqual([0.05, 0.05, 0.8, 0.79, 0.79]);
    expect(summary.extraKeyZ).toEqual([{ generation: 1, consensusZ: 40, modelZ: 0.2 }, { generation: 2, consensusZ: 2, modelZ: 1 }, { generation: 3, consensusZ: 60, modelZ: 30 }]);
    // Without an extra key, every key is honest.
    expect(summariseRun(3, 'clean', rows, null)).toMatchObject({ flaggedIn: [], honestFlagged: 3, largestHonestZ: 60 });
  });
});

it('pairedDifference: each seed against its own clean run, in points, with the mean and sample sd', () => {
  const summaries = [
    { seed: 1, run: 'clean' as const, finalAccuracy: 0.9 },
    { seed: 1, run: 'on' as const, finalAccuracy: 0.91 },
    { seed: 2, run: 'clean' as const, finalAccuracy: 0.8 },
    { seed: 2, run: 'on' as const, finalAccuracy: 0.79 },
    { seed: 3, run: 'on' as const, finalAccuracy: 0.5 },
  ];
  const difference = pairedDifference(summaries, 'on');
  expect(difference.perSeed.map((d) => d.seed)).toEqual([1, 2]);
  expect(difference.perSeed[0].points).toBeCloseTo(1, 9);
  expect(difference.perSeed[1].points).toBeCloseTo(-1, 9);
  expect(difference.mean).toBeCloseTo(0, 9);
  expect(difference.sd).toBeCloseTo(Math.SQRT2, 9);
  expect(pairedDifference(summaries, 'off')).toEqual({ perSeed: [], mean: 0, sd: 0 });
});

it('the poisoner rewards every wrong action and punishes every right one', () => {
  expect(poisonReward(3, 3)).toBe(0);
  expect(poisonReward(4, 3)).toBe(1);
});
