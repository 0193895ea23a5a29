// One evolve generation against a Node entry started by the test: the pull, the join of missing rewards, the cursor,
// the promotion gate and rollback; plus the off-policy estimators on hand-checkable numbers.
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeServer, type NodeServer } from '@seed/edge/node';
import { buildNetwork, initialParameters, offPolicyEstimate, pairedDifference, SEED_ARCHITECTURE, writeModel } from '@seed/runtime';
import { ApiClient } from '@seed/client';
import { evolveGeneration, type EvolveOptions } from '@seed/scripts/evolve/evolve';
import { simulateClients } from '@seed/scripts/evolve/simulate';
import { testGpus } from '../support/gpu';

describe('off-policy estimates', () => {
  it('IPS, SNIPS and the effective sample size on a hand-checkable log', () => {
    // Four events, target probabilities 1, 0, 1, 1 against propensities 0.5, 0.5, 0.25, 1.
    const e = offPolicyEstimate([1, 1, 0, 1], [0.5, 0.5, 0.25, 1], [1, 0, 1, 1]);
    expect(e.ips.value).toBeCloseTo((2 + 0 + 0 + 1) / 4, 12);
    expect(e.snips.value).toBeCloseTo(3 / 7, 12);
    expect(e.effectiveSampleSize).toBeCloseTo(49 / 21, 12);
    expect(e.loggedReward).toBeCloseTo(0.75, 12);
    expect(e.ips.lower).toBeLessThan(e.ips.value);
    expect(e.snips.upper).toBeGreaterThan(e.snips.value);
    // Clipped at 2: weights 2, 0, 2, 1.
    const clipped = offPolicyEstimate([1, 1, 0, 1], [0.5, 0.5, 0.25, 1], [1, 0, 1, 1], 2);
    expect(clipped.ips.value).toBeCloseTo(3 / 4, 12);
    expect(clipped.snips.value).toBeCloseTo(3 / 5, 12);
    expect(clipped.effectiveSampleSize).toBeCloseTo(25 / 9, 12);
  });

  it('the paired difference counts only events where the policies differ, and its interval shrinks with agreement', () => {
    // Candidate and active agree on events 0 and 3; on 1 the candidate takes the rewarded action, on 2 the active does.
    const d = pairedDifference([1, 1, 1, 0], [0.5, 0.5, 0.25, 1], [1, 1, 0, 1], [1, 0, 1, 1]);
    expect(d.value).toBeCloseTo((0 + 2 - 4 + 0) / 4, 12);
    expect(d.lower).toBeLessThan(d.value);
    // Two policies that agree everywhere differ by exactly 0, with no spread.
    const same = pairedDifference([1, 0, 1], [0.5, 0.5, 0.5], [1, 1, 0], [1, 1, 0]);
    expect([same.lower, same.value, same.upper]).toEqual([0, 0, 0]);
  });
});

describe.skipIf(testGpus.length === 0)('evolve against a Node entry', () => {
  const adminToken = 'evolve-test-admin';
  let server: NodeServer;
  let dir: string;
  let client: ApiClient;
  let options: EvolveOptions;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'seed-evolve-'));
    server = await startNodeServer({ port: 0, dataDir: join(dir, 'data'), env: { ADMIN_TOKEN: adminToken, REWARD_WAIT_SECONDS: '4', DEFAULT_REWARD: '0', EXPLORATION: 'softmax:1.0' } });
    client = new ApiClient(server.url, { adminToken });
    const network = buildNetwork(SEED_ARCHITECTURE);
    await client.upload('v1', await writeModel(network, initialParameters(network, 1), { version: 'v1' }));
    await client.promote('v1');
    options = { state: join(dir, 'state'), alpha: 0.2, epochs: 2, minEvents: 100, margin: 0, clip: 20, batch: 64, lr: 0.002, seed: 1, dryRun: false };
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pulls every event once, with the default reward where the client sent none, and saves the cursor', async () => {
    const simulated = await simulateClients(client, { events: 400, seed: 3, split: 'train', concurrency: 8, dropRate: 0.25 });
    expect(simulated.rewardsSent).toBeLessThan(400);
    await new Promise((r) => setTimeout(r, 4200)); // past REWARD_WAIT_SECONDS (4 s: under load a reward can take over a second)
    const record = await evolveGeneration(client, options);
    expect(record.eventsNew).toBe(400);
    expect(record.eventsTotal).toBe(400);
    expect(record.eventsHeldOut + record.eventsTrain).toBe(400);
    expect(record.eventsHeldOut).toBeGreaterThan(40);
    expect(['promoted', 'kept']).toContain(record.decision);
    expect(record.candidate!.snips.lower).toBeLessThanOrEqual(record.candidate!.snips.value);
    const stored = readFileSync(join(options.state, 'events.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(new Set(stored.map((e) => e.eventId)).size).toBe(400);
    expect(stored.filter((e) => e.rewardSource === 'default').length).toBe(400 - simulated.rewardsSent);
    expect(stored.filter((e) => e.rewardSource === 'default').every((e) => e.reward === 0)).toBe(true);
    expect(readFileSync(join(options.state, 'lineage.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('a run after a crash before the cursor was saved counts nothing twice', async () => {
    rmSync(join(options.state, 'cursor.json'));
    const record = await evolveGeneration(client, { ...options, minEvents: 10_000 });
    expect(record.eventsNew).toBe(0);
    expect(record.eventsTotal).toBe(400);
    expect(record.decision).toBe('skipped');
    expect(existsSync(join(options.state, 'cursor.json'))).toBe(true);
  });

  it('refuses a candidate that does not beat the active model by the margin, and leaves the registry as it was', async () => {
    const before = await client.models();
    const record = await evolveGeneration(client, { ...options, margin: 1 });
    expect(record.decision).toBe('kept');
    expect(record.reason).toMatch(/not above the margin 1/);
    expect(record.difference!.lower).toBeLessThanOrEqual(1);
    expect(await client.models()).toEqual(before);
  });

  it('rolls back to the previous version', async () => {
    const active = (await client.activeModel())!.version;
    const network = buildNetwork(SEED_ARCHITECTURE);
    await client.upload('v99', await writeModel(network, initialParameters(network, 2), { version: 'v99', parent: active }));
    await client.promote('v99');
    expect((await client.activeModel())!.version).toBe('v99');
    expect((await client.rollback()).version).toBe(active);
  });
});
