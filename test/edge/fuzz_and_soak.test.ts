// Over HTTP on both entries (the Node entry, and `pnpm dev` = wrangler dev), each started fresh with keys configured:
// 2,000 generated bad requests against every route, then concurrent clients under load. Small counts here; `pnpm fuzz`
// and `pnpm soak` run the large ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRY_NAMES, startEdge, type EdgeSettings, type LocalEdge } from '@seed/scripts/lib/local_edge';
import { runFuzz } from '@seed/scripts/reliability/fuzz';
import { FUZZ_KINDS } from '@seed/scripts/reliability/fuzz_requests';
import { auditLoad, describeLoad, runLoad } from '@seed/scripts/reliability/soak';
import { temporaryDir } from './support';

const FUZZ_REQUESTS = 2000;

describe.each(ENTRY_NAMES)('the %s entry', (entry) => {
  const settings: EdgeSettings = { adminToken: `admin-${crypto.randomUUID()}`, apiKeys: [`key-${crypto.randomUUID()}`, `key-${crypto.randomUUID()}`], rewardWaitSeconds: 60 };
  let dataDir: Awaited<ReturnType<typeof temporaryDir>>;
  let edge: LocalEdge;
  beforeAll(async () => {
    dataDir = await temporaryDir(`fuzz-${entry}`);
    edge = await startEdge(entry, settings, dataDir.path);
  });
  afterAll(async () => {
    await edge?.stop();
    await dataDir?.remove();
  });

  it(`answers ${FUZZ_REQUESTS} generated bad requests with 4xx JSON errors, stays healthy and logs none of them`, async () => {
    const report = await runFuzz(edge.url, { requests: FUZZ_REQUESTS, seed: 5, concurrency: 8, apiKey: settings.apiKeys[1], otherApiKey: settings.apiKeys[0], adminToken: settings.adminToken });
    const summary = Object.entries(report.byKind).map(([kind, tally]) => `${kind}: ${tally.tried}`);
    console.log(`${entry}: ${report.requests} bad requests in ${report.seconds.toFixed(1)} s\n  ${summary.join('\n  ')}`);
    expect(report.examples, `server log:\n${edge.output().slice(-4000)}`).toEqual([]);
    expect(report.requests).toBe(FUZZ_REQUESTS);
    expect(Object.values(report.byKind).reduce((sum, tally) => sum + tally.tried, 0)).toBe(FUZZ_REQUESTS);
    expect(Object.keys(report.byKind).sort()).toEqual(Object.keys(FUZZ_KINDS).sort());
    expect(Object.values(report.byKind).every((tally) => Object.keys(tally.failures).length === 0)).toBe(true);
    expect(report.audit).toEqual({ 'server healthy': null, 'registry unchanged': null, 'no row from a rejected request': null, 'metrics count only the setup': null });
    expect(report.failures).toBe(0);
  });

  it('loses and duplicates nothing under concurrent predictions and rewards', async () => {
    const ledger = await runLoad(edge.url, { clients: 6, requests: 300, seconds: 60, apiKey: settings.apiKeys[0], seed: 2 });
    const audit = await auditLoad(edge.url, settings.adminToken, ledger);
    console.log(`${entry}: ${describeLoad(ledger, audit).join('\n')}`);
    expect(ledger.failures).toEqual({ predict: {}, 'predict batch': {}, 'predict retry': {}, reward: {}, 'reward retry': {} });
    expect(audit.events).toMatchObject({ lost: 0, duplicated: 0, differing: 0 });
    expect(audit.events.stored).toBe(audit.events.acknowledged);
    expect(audit.rewards).toMatchObject({ lost: 0, differing: 0 });
    expect(audit.events.acknowledged).toBeGreaterThan(100);
  });

  it('keeps the keys and the admin token out of its log', () => {
    const log = edge.output();
    // The captured output is the server's own (pnpm echoes the command line, where a --var secret would show).
    expect(log).toContain(entry === 'node' ? 'edge API on' : 'Ready on');
    for (const secret of [settings.adminToken, ...settings.apiKeys]) expect(log.includes(secret)).toBe(false);
  });
});
