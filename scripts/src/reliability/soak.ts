// pnpm soak [--clients C] [--requests N] [--seconds S] [--target node|wrangler|both]: concurrent clients send predictions
// (single, batched, retried with the same eventId) and a reward for each (some retried) to a fresh local edge, loopback
// only: no prediction starts after N requests or S seconds. Afterwards the admin export must hold every acknowledged
// event and reward exactly once. Prints acknowledged, stored, lost and duplicated counts and p50/p99 latency per kind; exits 1 on a loss.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gridImage, Random } from '@seed/runtime/engine';
import { intFlag, parseFlags } from '../lib/cli';
import { ProgressBar } from '../lib/progress';
import { exportAll, parseEntries, publishModel, seedModelFile, startEdge, type EdgeSettings } from '../lib/local_edge';

const REQUEST_TIMEOUT_MS = 30_000;
const IMAGES = 32;

export type RequestKind = 'predict' | 'predict batch' | 'predict retry' | 'reward' | 'reward retry';
export const REQUEST_KINDS: RequestKind[] = ['predict', 'predict batch', 'predict retry', 'reward', 'reward retry'];

interface Acknowledged {
  action: number;
  propensity: number;
  modelVersion: string;
}

type Answer = Acknowledged & { eventId: string };

/** What the clients sent and what the server acknowledged. */
export interface LoadLedger {
  /** Events the server answered with 200, by eventId. */
  events: Map<string, Acknowledged>;
  /** Rewards the server answered with 204, by eventId. */
  rewards: Map<string, number>;
  tried: Record<RequestKind, number>;
  /** Failures by kind and by what happened: an HTTP status, a dropped connection, a timeout, an answer that differs from the first. */
  failures: Record<RequestKind, Record<string, number>>;
  latencyMs: Record<RequestKind, number[]>;
  seconds: number;
}

export interface LoadOptions {
  clients: number;
  requests: number;
  seconds: number;
  apiKey?: string;
  seed: number;
  /** Called after each acknowledged prediction (a fault test kills the server from here). */
  onAcknowledged?: (ledger: LoadLedger) => void;
  /** Called after each request with the number sent so far. */
  onProgress?: (sent: number) => void;
}

const byKind = <T>(make: () => T) => Object.fromEntries(REQUEST_KINDS.map((kind) => [kind, make()])) as Record<RequestKind, T>;

/** Runs the clients until `requests` requests are sent or `seconds` have passed. */
export async function runLoad(url: string, options: LoadOptions): Promise<LoadLedger> {
  const ledger: LoadLedger = { events: new Map(), rewards: new Map(), tried: byKind(() => 0), failures: byKind(() => ({})), latencyMs: byKind(() => []), seconds: 0 };
  const images = Array.from({ length: IMAGES }, (_, i) => gridImage(options.seed * 1000 + i));
  const run = crypto.randomUUID().slice(0, 8);
  const headers = { 'Content-Type': 'application/json', ...(options.apiKey && { Authorization: `Bearer ${options.apiKey}` }) };
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  let sent = 0;
  const fail = (kind: RequestKind, what: string) => (ledger.failures[kind][what] = (ledger.failures[kind][what] ?? 0) + 1);

  /** One request: its latency and outcome recorded; the parsed answer when the status is the expected one. */
  const call = async (kind: RequestKind, path: string, body: unknown, expected: number): Promise<any | undefined> => {
    sent++;
    ledger.tried[kind]++;
    const begin = performance.now();
    try {
      const response = await fetch(`${url}${path}`, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      const text = await response.text();
      ledger.latencyMs[kind].push(performance.now() - begin);
      if (response.status !== expected) return void fail(kind, `status ${response.status}`);
      return expected === 204 ? true : JSON.parse(text);
    } catch (error) {
      fail(kind, (error as Error).name === 'TimeoutError' ? 'no answer' : 'dropped connection');
      return undefined;
    } finally {
      options.onProgress?.(sent);
    }
  };

  const acknowledge = (answer: Answer) => {
    ledger.events.set(answer.eventId, { action: answer.action, propensity: answer.propensity, modelVersion: answer.modelVersion });
    options.onAcknowledged?.(ledger);
  };

  const client = async (index: number) => {
    const random = new Random(options.seed * 7919 + index);
    const mine: string[] = [];
    let counter = 0;
    const more = () => sent < options.requests && performance.now() < deadline;
    while (more()) {
      const draw = random.next();
      const image = () => images[random.int(IMAGES)];
      let answered: Answer[] = [];
      if (draw < 0.1 && mine.length > 0) {
        // The same eventId again (with another image): the logged answer, and nothing logged twice.
        const eventId = mine[random.int(mine.length)];
        const answer = await call('predict retry', '/v1/predict', { pixels: image(), eventId }, 200);
        const first = ledger.events.get(eventId);
        if (answer && first && (answer.action !== first.action || answer.propensity !== first.propensity)) fail('predict retry', 'answered differently');
        continue;
      } else if (draw < 0.2) {
        const instances = Array.from({ length: 2 + random.int(7) }, () => ({ pixels: image(), ...(random.next() < 0.5 && { eventId: `soak-${run}-${index}-${counter++}` }) }));
        const answer = await call('predict batch', '/v1/predict', { instances }, 200);
        if (answer) answered = answer.predictions;
      } else {
        const eventId = random.next() < 0.5 ? `soak-${run}-${index}-${counter++}` : undefined;
        const answer = await call('predict', '/v1/predict', { pixels: image(), ...(eventId && { eventId }) }, 200);
        if (answer) answered = [answer];
      }
      // Every event gets its reward (also past the bounds), so the export holds them all without waiting.
      for (const answer of answered) {
        acknowledge(answer);
        mine.push(answer.eventId);
        const value = [-1, 0, 0.5, 1][random.int(4)];
        const path = `/v1/events/${answer.eventId}/reward`;
        if (await call('reward', path, { value }, 204)) ledger.rewards.set(answer.eventId, value);
        if (random.next() < 0.05 && (await call('reward retry', path, { value }, 204))) ledger.rewards.set(answer.eventId, value);
      }
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
  ledger.seconds = (performance.now() - started) / 1000;
  return ledger;
}

export interface LoadAudit {
  events: { acknowledged: number; stored: number; lost: number; duplicated: number; differing: number; unacknowledgedStored: number };
  rewards: { acknowledged: number; stored: number; lost: number; differing: number };
}

/** Compares the admin export (read after the reward wait) with what the server acknowledged. */
export async function auditLoad(url: string, adminToken: string, ledger: LoadLedger): Promise<LoadAudit> {
  const exported = await exportAll(url, adminToken);
  const copies = new Map<string, Record<string, any>[]>();
  for (const event of exported) copies.set(event.eventId, [...(copies.get(event.eventId) ?? []), event]);
  let stored = 0;
  let differing = 0;
  for (const [eventId, ack] of ledger.events) {
    const [event] = copies.get(eventId) ?? [];
    if (!event) continue;
    stored++;
    if (event.action !== ack.action || event.propensity !== ack.propensity || event.modelVersion !== ack.modelVersion) differing++;
  }
  let rewardsStored = 0;
  let rewardsDiffering = 0;
  for (const [eventId, value] of ledger.rewards) {
    const [event] = copies.get(eventId) ?? [];
    if (event?.rewardSource !== 'client') continue;
    rewardsStored++;
    if (event.reward !== value) rewardsDiffering++;
  }
  return {
    events: {
      acknowledged: ledger.events.size,
      stored,
      lost: ledger.events.size - stored,
      duplicated: [...copies.values()].reduce((sum, list) => sum + list.length - 1, 0),
      differing,
      unacknowledgedStored: [...copies.keys()].filter((id) => !ledger.events.has(id)).length,
    },
    rewards: { acknowledged: ledger.rewards.size, stored: rewardsStored, lost: ledger.rewards.size - rewardsStored, differing: rewardsDiffering },
  };
}

export function quantileMs(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** The numbers a reader wants from one run, as lines. */
export function describeLoad(ledger: LoadLedger, audit: LoadAudit): string[] {
  const total = REQUEST_KINDS.reduce((sum, kind) => sum + ledger.tried[kind], 0);
  const lines = [`${total} requests in ${ledger.seconds.toFixed(1)} s (${(total / ledger.seconds).toFixed(0)}/s)`];
  for (const kind of REQUEST_KINDS) {
    const failures = Object.entries(ledger.failures[kind]).map(([what, n]) => `${what} ${n}`).join(', ') || '0 failures';
    const latency = ledger.latencyMs[kind];
    lines.push(`  ${kind.padEnd(13)} ${String(ledger.tried[kind]).padStart(6)} tried, ${failures}; latency p50 ${quantileMs(latency, 0.5).toFixed(1)} ms, p99 ${quantileMs(latency, 0.99).toFixed(1)} ms`);
  }
  const e = audit.events;
  lines.push(`  events:  ${e.acknowledged} acknowledged, ${e.stored} stored, ${e.lost} lost, ${e.duplicated} duplicated, ${e.differing} differing from the answer, ${e.unacknowledgedStored} stored unacknowledged`);
  const r = audit.rewards;
  lines.push(`  rewards: ${r.acknowledged} acknowledged, ${r.stored} stored, ${r.lost} lost, ${r.differing} differing`);
  return lines;
}

/** Everything that must be zero. */
export const loadProblems = (ledger: LoadLedger, audit: LoadAudit) =>
  audit.events.lost + audit.events.duplicated + audit.events.differing + audit.rewards.lost + audit.rewards.differing +
  REQUEST_KINDS.reduce((sum, kind) => sum + Object.values(ledger.failures[kind]).reduce((a, b) => a + b, 0), 0);

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({ clients: { type: 'string' }, requests: { type: 'string' }, seconds: { type: 'string' }, target: { type: 'string' }, seed: { type: 'string' } }, argv);
  const clients = intFlag('clients', flags.clients, 16, 1, 256);
  const requests = intFlag('requests', flags.requests, 5000, 1, 1_000_000);
  const seconds = intFlag('seconds', flags.seconds, 60, 1, 3600);
  const seed = intFlag('seed', flags.seed, 1);
  const settings: EdgeSettings = { adminToken: `soak-admin-${crypto.randomUUID()}`, apiKeys: [`soak-key-${crypto.randomUUID()}`], rewardWaitSeconds: 60 };
  let problems = 0;
  for (const entry of parseEntries(flags.target ?? 'both')) {
    const dataDir = await mkdtemp(join(tmpdir(), `seed-soak-${entry}-`));
    const edge = await startEdge(entry, settings, dataDir);
    try {
      await publishModel(edge.url, settings.adminToken, 'soak-v1', await seedModelFile('soak-v1'));
      console.log(`${entry}: ${clients} clients, up to ${requests} requests or ${seconds} s`);
      const bar = new ProgressBar();
      const started = performance.now();
      const ledger = await runLoad(edge.url, {
        clients, requests, seconds, apiKey: settings.apiKeys[0], seed,
        // The run ends at whichever bound comes first.
        onProgress: (sent) => bar.update(`soak ${entry}`, Math.max(sent / requests, (performance.now() - started) / 1000 / seconds), `${sent} requests`),
      });
      bar.done();
      const audit = await auditLoad(edge.url, settings.adminToken, ledger);
      for (const line of describeLoad(ledger, audit)) console.log(`  ${line}`);
      problems += loadProblems(ledger, audit);
    } finally {
      await edge.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  console.log(problems ? `\n${problems} problems` : '\nnothing lost, nothing duplicated, no failures');
  if (problems) process.exit(1);
}

