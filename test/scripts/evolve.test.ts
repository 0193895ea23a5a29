// Evolve generations against a Node entry started by the test: the pull, the join of missing rewards, the cursor, a
// candidate frozen as the challenger and judged on the events logged after it, the gate, a pending candidate
// superseded, and rollback.
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeServer, type NodeServer } from '@seed/edge/node';
import { buildNetwork, initialParameters, isHeldOut, loadMnist, Model, parseEvents, Random, readModel, SEED_ARCHITECTURE, trainModel, writeModel } from '@seed/runtime';
import { ApiClient } from '@seed/client';
import { evolveGeneration, type EvolveOptions } from '@seed/scripts/evolve/evolve';
import { simulateClients } from '@seed/scripts/evolve/simulate';
import { testGpus } from '../support/gpu';

describe.skipIf(testGpus.length === 0)('evolve against a Node entry', () => {
  const adminToken = 'evolve-test-admin';
  let server: NodeServer;
  let dir: string;
  let client: ApiClient;
  let options: EvolveOptions;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'seed-evolve-'));
    server = await startNodeServer({ port: 0, dataDir: join(dir, 'data'), env: { ADMIN_TOKEN: adminToken, API_KEYS: 'evolve-test-client', REWARD_WAIT_SECONDS: '4', DEFAULT_REWARD: '0', EXPLORATION: 'epsilon:0.1' } });
    client = new ApiClient(server.url, { adminToken, apiKey: 'evolve-test-client' });
    const network = buildNetwork(SEED_ARCHITECTURE);
    await client.upload('v1', await writeModel(network, initialParameters(network, 1), { version: 'v1' }));
    await client.promote('v1');
    // The public split (no salt), so the test can tell which events are held out.
    options = { state: join(dir, 'state'), alpha: 0.2, epochs: 2, minEvents: 100, margin: 0, batch: 64, lr: 0.002, seed: 1, dryRun: false };
  });
  /** The held-out salt evolve made in its state folder. */
  const stateSalt = () => readFileSync(join(options.state, 'held_out_salt'), 'utf8').trim();
  const storedEvents = async () => parseEvents(readFileSync(join(options.state, 'events.ndjson'), 'utf8'), 'events.ndjson');
  /** Uploads a model unpromoted and makes it the challenger and the pending candidate, as a generation's freeze does. */
  const freezeAsPending = async (version: string, parent: string, file: Uint8Array) => {
    await client.upload(version, file);
    await client.setChallenger(version);
    writeFileSync(join(options.state, 'pending.json'), JSON.stringify({ version, parent, frozenAt: new Date().toISOString() }));
  };
  /** One generation after `events` simulated interactions and the reward wait. */
  const generationAfter = async (events: number, seed: number) => {
    await simulateClients(client, { events, seed, split: 'train', concurrency: 8, dropRate: 0.02 });
    await new Promise((r) => setTimeout(r, 4200));
    return evolveGeneration(client, options);
  };
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pulls every event once, with the default reward where the client sent none, saves the cursor and freezes a challenger', async () => {
    const simulated = await simulateClients(client, { events: 400, seed: 3, split: 'train', concurrency: 8, dropRate: 0.25 });
    expect(simulated.rewardsSent).toBeLessThan(400);
    await new Promise((r) => setTimeout(r, 4200)); // past REWARD_WAIT_SECONDS (4 s: under load a reward can take over a second)
    const record = await evolveGeneration(client, options);
    expect(record.eventsNew).toBe(400);
    expect(record.eventsTotal).toBe(400);
    expect(record.eventsHeldOut).toBeGreaterThan(40);
    // Default rewards are unknown: neither trained on nor evaluated.
    expect(record.eventsTrain).toBe((await storedEvents()).filter((e) => e.rewardSource === 'client' && !isHeldOut(e.pixels, stateSalt())).length);
    expect(record).toMatchObject({ decision: 'frozen', version: 'v1', frozen: 'v2' });
    expect(await client.challenger()).toMatchObject({ version: 'v2', share: 0.5 });
    expect((await client.activeModel())!.version).toBe('v1');
    const stored = await storedEvents();
    expect(new Set(stored.map((e) => e.eventId)).size).toBe(400);
    expect(stored.filter((e) => e.rewardSource === 'default').length).toBe(400 - simulated.rewardsSent);
    expect(stored.every((e) => e.exploration === 'epsilon:0.1' && e.loggingProbabilities !== null)).toBe(true);
    expect(readFileSync(join(options.state, 'lineage.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('a run after a crash before the cursor was saved counts nothing twice; a pending candidate with no events stays pending', async () => {
    rmSync(join(options.state, 'cursor.json'));
    const record = await evolveGeneration(client, { ...options, minEvents: 10_000 });
    expect(record.eventsNew).toBe(0);
    expect(record.eventsTotal).toBe(400);
    expect(record).toMatchObject({ decision: 'pending', candidate: 'v2', evaluation: { events: 0, estimate: null } });
    expect(existsSync(join(options.state, 'cursor.json'))).toBe(true);
  });

  it('judges the challenger only on held-out events logged with it, and records the variance and the events needed', async () => {
    // Greedy requests are served by the active model alone and never judge.
    for (let i = 0; i < 20; i++) await client.predict(new Array(784).fill(i / 40), { explore: false });
    await simulateClients(client, { events: 400, seed: 4, split: 'train', concurrency: 8, dropRate: 0.02 });
    await new Promise((r) => setTimeout(r, 4200));
    const before = await client.models();
    const record = await evolveGeneration(client, { ...options, margin: 1 });
    const judging = (await storedEvents()).filter((e) => e.challengerVersion === 'v2' && e.exploration !== 'greedy' && e.rewardSource === 'client' && isHeldOut(e.pixels, stateSalt()));
    expect(record.candidate).toBe('v2');
    expect(record.evaluation!.events).toBe(judging.length);
    expect(record.evaluation!.estimate!.n).toBe(judging.length);
    expect(record.evaluation!.estimate!.variance).toBeGreaterThanOrEqual(0);
    // A margin of a whole point of reward cannot be cleared: kept (or still pending), never promoted.
    expect(['kept', 'pending']).toContain(record.decision);
    expect((await client.activeModel())!.version).toBe('v1');
    if (record.decision === 'kept') {
      expect(record.frozen).toBe('v3');
      expect((await client.models()).models.map((m) => m.version)).toEqual([...before.models.map((m) => m.version), 'v3']);
    }
  });

  it('promotes a pending candidate that is clearly better, then freezes the next one from it', async () => {
    // A candidate trained on 1,000 labels against v1's random weights: tens of points better.
    const network = buildNetwork(SEED_ARCHITECTURE);
    const model = new Model(testGpus[0].cache, network, initialParameters(network, 1));
    await trainModel(model, loadMnist(), { pretrainEpochs: 0, labels: 1000, heldOutSalt: '', epochs: 1, alpha: 0, batch: 64, lr: 0.002, seed: 5 });
    await freezeAsPending('v50', 'v1', await writeModel(network, await model.tensors(), { version: 'v50', parent: 'v1' }));
    await model.destroy();
    // About 160 of these land on held-out images (a fifth, by the state's random salt): enough for a gain this size.
    const record = await generationAfter(800, 5);
    expect(record.decision, record.reason).toBe('promoted');
    expect(record).toMatchObject({ decision: 'promoted', candidate: 'v50', parent: 'v1', version: 'v50', frozen: 'v51' });
    expect(record.evaluation!.estimate!.lower).toBeGreaterThan(0);
    expect(record.evaluation!.eventsNeeded).toBeGreaterThan(0);
    // The reward model's reference: the training images the clients' rewards named, read where the two disagree.
    expect(record.evaluation!.reference!.namedImages).toBeGreaterThanOrEqual(10);
    expect(record.evaluation!.reference!.events).toBeGreaterThan(0);
    expect(record.evaluation!.reference!.events).toBeLessThanOrEqual(record.evaluation!.estimate!.disagreements);
    // Rewards on the same held-out images from before v50 was the challenger: evidence the posterior reads.
    expect(record.evaluation!.outsideEvidence!.events).toBeGreaterThan(0);
    expect(record.evaluation!.outsideEvidence!.events).toBeLessThanOrEqual(record.evaluation!.events);
    expect((await client.activeModel())!.version).toBe('v50');
    expect(await client.challenger()).toMatchObject({ version: 'v51' });
    expect((await client.models()).models.find((m) => m.version === 'v51')!.parent).toBe('v50');
    expect(record.frozenFrom).toBe('v50');
  });

  it('supersedes a candidate still pending with one trained on the events since', async () => {
    await client.clearChallenger();
    // A copy of the active v50 with every weight jittered by 20%: it disagrees with v50 on some images, and a few
    // hundred events cannot tell which is better, so it stays pending.
    const active = await readModel(await client.weights('v50'));
    const random = new Random(8);
    const jittered = new Map([...active.tensors].map(([name, t]) => [name, t.map((v) => v * (1 + 0.2 * (2 * random.next() - 1)))]));
    await freezeAsPending('v60', 'v50', await writeModel(active.network, jittered, { version: 'v60', parent: 'v50' }));
    const record = await generationAfter(300, 6);
    expect(record.decision, record.reason).toBe('superseded');
    expect(record).toMatchObject({ candidate: 'v60', parent: 'v50', version: 'v50', frozen: 'v61' });
    expect(record.evaluation!.estimate!.disagreements).toBeGreaterThan(0);
    // From the pending candidate where its estimate is not below the active model's, else from the active model.
    const from = record.evaluation!.estimate!.value >= 0 ? 'v60' : 'v50';
    expect(record.reason).toContain(`trained from ${from}) as the challenger in place of v60`);
    expect((await client.models()).models.find((m) => m.version === 'v61')!.parent).toBe(from);
    expect(record.frozenFrom).toBe(from);
    expect((await client.activeModel())!.version).toBe('v50');
    expect(await client.challenger()).toMatchObject({ version: 'v61' });
    // Judged against v50 from now on, on the events logged after its own freeze.
    expect(JSON.parse(readFileSync(join(options.state, 'pending.json'), 'utf8'))).toMatchObject({ version: 'v61', parent: 'v50' });
  });

  it('trains no candidate when asked not to (the main job\'s last generation)', async () => {
    await client.clearChallenger();
    rmSync(join(options.state, 'pending.json'));
    const before = (await client.models()).models.length;
    const record = await evolveGeneration(client, { ...options, train: false });
    expect(record).toMatchObject({ decision: 'skipped', reason: 'asked to train no candidate' });
    expect(record.frozen).toBeUndefined();
    expect((await client.models()).models).toHaveLength(before);
    expect(await client.challenger()).toBeNull();
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
