// Which logged events feed the complementary term: a given reward of 0 (or below) says "not this digit"; a default
// reward (nobody answered in time) and a reward of 1 say nothing of the kind.
import { expect, it } from 'vitest';
import { eventsSet, isComplementary, type LoggedEvent } from '@seed/runtime';

const event = (reward: number, rewardSource?: LoggedEvent['rewardSource']): LoggedEvent => ({ eventId: `e${reward}${rewardSource}`, pixels: new Float32Array(784), action: 3, propensity: 0.5, reward, rewardSource });

it('marks given zero and negative rewards, not default rewards or positive ones', () => {
  const events = [event(0), event(0, 'client'), event(0, 'default'), event(1), event(-1, 'client'), event(0.5)];
  expect(events.map(isComplementary)).toEqual([true, true, false, false, true, false]);
  expect(Array.from(eventsSet(events).batch([0, 1, 2, 3, 4, 5]).negatives!)).toEqual([1, 1, 0, 0, 1, 0]);
});
