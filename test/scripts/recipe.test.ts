// The reward recipe's exploration schedule: parsed as the edge parses EXPLORATION, and looked up by interactions logged.
import { candidateMinSteps, explorationAt, explorationSchedule, REWARD_RECIPE } from '@seed/scripts/evolve/recipe';
import { describe, expect, it } from 'vitest';

describe('explorationSchedule', () => {
  it('reads one setting as holding throughout, and steps with @N in order', () => {
    expect(explorationSchedule('epsilon:0.1')).toEqual([{ from: 0, exploration: 'epsilon:0.1' }]);
    expect(explorationSchedule('softmax:1.0, softmax:0.5@100,greedy@2000')).toEqual([
      { from: 0, exploration: 'softmax:1.0' },
      { from: 100, exploration: 'softmax:0.5' },
      { from: 2000, exploration: 'greedy' },
    ]);
  });

  it('refuses what the edge would refuse, a first step with @N, a later one without, and steps out of order', () => {
    for (const [bad, message] of [
      ['softmax:0', /EXPLORATION must be/],
      ['softmax:1@10', /without @N/],
      ['softmax:1,epsilon:0.1', /followed by @N/],
      ['softmax:1,epsilon:0.1@x', /followed by @N/],
      ['softmax:1,epsilon:0.1@10@20', /followed by @N/],
      ['softmax:1,epsilon:0.1@500,greedy@500', /must increase/],
    ] as const) {
      expect(() => explorationSchedule(bad), bad).toThrow(message);
    }
  });
});

describe('explorationAt', () => {
  const schedule = explorationSchedule('softmax:1.0,softmax:0.25:0.02@4000,greedy@10000');

  it('gives each step from its @N on, the first before any', () => {
    expect([0, 3999, 4000, 9999, 10000, 1e9].map((n) => explorationAt(schedule, n))).toEqual([
      'softmax:1.0', 'softmax:1.0', 'softmax:0.25:0.02', 'softmax:0.25:0.02', 'greedy', 'greedy',
    ]);
  });

  it('the recipe names the clusters at softmax 1 for the main job\'s first generation, then exploits, more from generation 4', () => {
    const recipe = explorationSchedule(REWARD_RECIPE.exploration);
    expect([0, 4000, 11999, 12000].map((n) => explorationAt(recipe, n))).toEqual(['softmax:1.0', 'softmax:0.2:0.01', 'softmax:0.2:0.01', 'softmax:0.1:0.01']);
  });
});

describe('the main job\'s flags', () => {
  it('default to the reward recipe, and take the steps and the self-supervised images a candidate trains with', async () => {
    const { mainJobSettings } = await import('@seed/scripts/evolve/start');
    expect(mainJobSettings({})).toMatchObject({ minSteps: REWARD_RECIPE.generationMinSteps, alpha: REWARD_RECIPE.alpha });
    // Unset, the trainer keeps its own share of each batch (half for contrastive, a quarter for rotation).
    expect(mainJobSettings({}).selfImages).toBeUndefined();
    expect(mainJobSettings({ 'min-steps': '1500', 'self-images': '8' })).toMatchObject({ minSteps: 1500, selfImages: 8 });
    for (const bad of ['0', '2.5', 'x']) expect(() => mainJobSettings({ 'self-images': bad }), bad).toThrow(/--self-images/);
    expect(mainJobSettings({}).selfEvery).toBe(REWARD_RECIPE.generationSelfEvery);
    expect(mainJobSettings({}).supersede).toBe(REWARD_RECIPE.supersede);
    expect(mainJobSettings({ 'no-supersede': true }).supersede).toBe(false);
    expect(mainJobSettings({ 'min-steps': '1500', 'self-every': '4' })).toMatchObject({ minSteps: 1500, selfEvery: 4 });
    for (const bad of ['0', '1.5', 'x']) expect(() => mainJobSettings({ 'self-every': bad }), bad).toThrow(/--self-every/);
    expect(mainJobSettings({}).firstMinSteps).toBe(REWARD_RECIPE.firstGenerationStepsFactor * REWARD_RECIPE.generationMinSteps);
    // A quick run's --min-steps shortens the first candidate too, unless --first-min-steps says otherwise.
    expect(mainJobSettings({ 'min-steps': '20' }).firstMinSteps).toBe(REWARD_RECIPE.firstGenerationStepsFactor * 20);
    expect(mainJobSettings({ 'min-steps': '20', 'first-min-steps': '1500' }).firstMinSteps).toBe(1500);
    expect(() => mainJobSettings({ 'first-min-steps': 'x' })).toThrow(/--first-min-steps/);
    expect(mainJobSettings({}).neighbourRounds).toBe(2);
    expect(mainJobSettings({ 'neighbour-rounds': '0' }).neighbourRounds).toBe(0);
    for (const bad of ['-1', '11', 'x']) expect(() => mainJobSettings({ 'neighbour-rounds': bad }), bad).toThrow(/--neighbour-rounds/);
  });
});

describe('neighbourRoundsOf', () => {
  it('trains the neighbour rounds after contrastive pretraining without labels only', async () => {
    const { DEFAULT_NEIGHBOUR_ROUNDS, neighbourRoundsOf } = await import('@seed/scripts/train/pretrained');
    const unlabelled = { pretrainEpochs: 8, labels: 0, seed: 1 };
    expect(neighbourRoundsOf({ ...unlabelled, pretrainObjective: 'contrastive' })).toBe(DEFAULT_NEIGHBOUR_ROUNDS);
    expect(neighbourRoundsOf({ ...unlabelled, pretrainObjective: 'clusters', neighbourRounds: 3 })).toBe(3);
    expect(neighbourRoundsOf({ ...unlabelled, pretrainObjective: 'rotation', neighbourRounds: 3 })).toBe(0);
    expect(neighbourRoundsOf({ ...unlabelled, pretrainObjective: 'contrastive', labels: 100 })).toBe(0);
    expect(neighbourRoundsOf({ ...unlabelled, pretrainObjective: 'contrastive', pretrainEpochs: 0 })).toBe(0);
  });

  it('is a flag of the reward and label experiments, refused out of range before any work', async () => {
    for (const module of ['@seed/scripts/experiments/rewards', '@seed/scripts/experiments/labels']) {
      const { main } = (await import(module)) as { main: (argv: string[]) => Promise<void> };
      for (const bad of ['-1', '11', 'x']) await expect(main([`--neighbour-rounds=${bad}`]), `${module} ${bad}`).rejects.toThrow(/--neighbour-rounds must be an integer in \[0, 10\]/);
    }
  });
});

describe('candidateMinSteps', () => {
  it('gives the first steps to a candidate whose starting model learned from no events, the usual ones otherwise', () => {
    // A pretrained model's metrics (as `pnpm start` caches it), and a candidate's (as evolve writes them).
    const pretrained = { testAccuracy: 0.2035, labels: 0, pretrainEpochs: 8, pretrainObjective: 'clusters' };
    expect(candidateMinSteps(pretrained, 1500, 3000)).toBe(3000);
    expect(candidateMinSteps({}, 1500, 3000)).toBe(3000);
    expect(candidateMinSteps({ testAccuracy: 0.95, eventsTrain: 3140 }, 1500, 3000)).toBe(1500);
    // Only a positive count says it learned from events.
    for (const eventsTrain of [0, '3140', null]) expect(candidateMinSteps({ eventsTrain }, 1500, 3000), String(eventsTrain)).toBe(3000);
    expect(REWARD_RECIPE.firstGenerationStepsFactor).toBeGreaterThan(1);
  });
});
