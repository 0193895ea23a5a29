// pnpm fuzz [--requests N] [--target node|wrangler|both] [--files N] [--concurrency C] [--seed S]: generated bad
// requests against every route of a fresh local edge (the Node entry and/or wrangler dev, loopback only), then the
// safetensors reader against mutated files. Prints what was tried and what failed, by kind; exits 1 on any failure.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gridImage, Random } from '@seed/runtime/engine';
import { intFlag, parseFlags } from '../lib/cli';
import { exportAll, parseEntries, publishModel, seedModelFile, startEdge, type EdgeSettings, type EntryName } from '../lib/local_edge';
import { fuzzRequests, unservableModelFile, type FuzzContext, type FuzzRequest } from './fuzz_requests';
import { fuzzReader } from './fuzz_weights';
import { ProgressBar } from '../lib/progress';

const ANSWER_TIMEOUT_MS = 30_000;
const SETUP_EVENTS = 16;

export interface KindTally {
  tried: number;
  /** Failures by category: a 5xx, an unexpected status, not the JSON error shape, a stack trace, a secret, a hang, a dropped connection. */
  failures: Record<string, number>;
}

export interface FuzzReport {
  requests: number;
  seconds: number;
  byKind: Record<string, KindTally>;
  /** Checks after the run: the server healthy, the registry unchanged, no row from a rejected request. */
  audit: Record<string, string | null>;
  /** A few failing requests, for the reader. */
  examples: string[];
  failures: number;
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Sends one request; a body marked chunked goes as a stream without Content-Length. */
async function send(url: string, request: FuzzRequest): Promise<{ status: number; contentType: string; text: string } | { error: 'hang' | 'dropped connection'; message: string }> {
  const { body, chunked } = request;
  const streamed =
    body && chunked
      ? new ReadableStream<Uint8Array>({
          start(controller) {
            for (let at = 0; at < body.length; at += 64 * 1024) controller.enqueue(body.subarray(at, at + 64 * 1024));
            controller.close();
          },
        })
      : body;
  try {
    const response = await fetch(`${url}${request.path}`, {
      method: request.method,
      headers: request.headers,
      body: streamed,
      signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
      ...(chunked && { duplex: 'half' }),
    } as RequestInit);
    return { status: response.status, contentType: response.headers.get('Content-Type') ?? '', text: await response.text() };
  } catch (error) {
    const e = error as Error & { cause?: Error };
    if (e.name === 'TimeoutError') return { error: 'hang', message: `no answer within ${ANSWER_TIMEOUT_MS / 1000} s` };
    return { error: 'dropped connection', message: `${e.message}${e.cause ? `: ${e.cause.message}` : ''}` };
  }
}

/** What is wrong with an answer, by category (empty when it is what the contract says). */
export function judgeAnswer(request: FuzzRequest, answer: { status: number; contentType: string; text: string }, secrets: string[]): string[] {
  const problems: string[] = [];
  const { status, contentType, text } = answer;
  if (status >= 500) problems.push('5xx');
  else if (!request.expect.includes(status)) problems.push('unexpected status');
  if (status >= 400) {
    let shaped = false;
    try {
      const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      shaped =
        Object.keys(body).length === 1 && !!body.error && Object.keys(body.error).sort().join() === 'code,message' &&
        typeof body.error.code === 'string' && /^[a-z_]+$/.test(body.error.code) && typeof body.error.message === 'string' && body.error.message.length > 0;
    } catch {
      shaped = false;
    }
    if (!shaped || !contentType.startsWith('application/json')) problems.push('not the JSON error shape');
  }
  if (/\n\s+at |\bat \S+ \(|node_modules|\.ts:\d+|\.js:\d+/.test(text)) problems.push('stack trace');
  if (secrets.some((secret) => text.includes(secret))) problems.push('secret in the answer');
  if (status === 204 && text !== '') problems.push('a body on a 204');
  return problems;
}

interface FuzzSetup {
  context: FuzzContext;
  /** The registry listing and the active model before the run. */
  registry: string;
}

async function checked(response: Promise<Response>, what: string): Promise<void> {
  const answer = await response;
  const text = await answer.text();
  if (!answer.ok) throw new Error(`fuzz setup: ${what}: ${answer.status} ${text}`);
}

/** Publishes a model on a fresh edge and logs a few rewarded events the generators can refer to. */
export async function prepareFuzz(url: string, keys: { apiKey: string; otherApiKey: string; adminToken: string }, seed: number): Promise<FuzzSetup> {
  const activeVersion = 'fuzz-v1';
  const modelFile = await seedModelFile(activeVersion, 1);
  await publishModel(url, keys.adminToken, activeVersion, modelFile);
  const image = gridImage(seed);
  const random = new Random(seed);
  const rewarded: FuzzContext['rewarded'] = [];
  for (let i = 0; i < SETUP_EVENTS; i++) {
    const eventId = `fuzz-setup-${i}`;
    const headers = { ...bearer(keys.apiKey), 'Content-Type': 'application/json' };
    await checked(fetch(`${url}/v1/predict`, { method: 'POST', headers, body: JSON.stringify({ pixels: gridImage(seed + i), eventId }) }), 'predict');
    const value = [-1, 0, 0.5, 1][random.int(4)];
    await checked(fetch(`${url}/v1/events/${eventId}/reward`, { method: 'POST', headers, body: JSON.stringify({ value }) }), 'reward');
    rewarded.push({ eventId, value });
  }
  const context: FuzzContext = {
    image,
    ...keys,
    activeVersion,
    modelFile,
    conflictingFile: await seedModelFile(activeVersion, 2),
    unservableFile: await unservableModelFile(),
    rewarded,
  };
  return { context, registry: await registrySnapshot(url, keys.adminToken) };
}

async function registrySnapshot(url: string, adminToken: string): Promise<string> {
  const [models, active] = await Promise.all([fetch(`${url}/v1/models`, { headers: bearer(adminToken) }), fetch(`${url}/v1/model`)]);
  return JSON.stringify({ models: await models.json(), active: await active.json() });
}

/** After the run: the server healthy, the registry as before, the event log holding exactly the setup events. */
async function audit(url: string, setup: FuzzSetup): Promise<FuzzReport['audit']> {
  const { context } = setup;
  const result: FuzzReport['audit'] = {};
  try {
    const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) });
    const body = (await health.json()) as { model?: { version?: string } };
    result['server healthy'] = health.status === 200 && body.model?.version === context.activeVersion ? null : `GET /health: ${health.status} ${JSON.stringify(body)}`;
  } catch (error) {
    result['server healthy'] = `GET /health: ${(error as Error).message}`;
  }
  const registry = await registrySnapshot(url, context.adminToken);
  result['registry unchanged'] = registry === setup.registry ? null : `before ${setup.registry.slice(0, 300)}, after ${registry.slice(0, 300)}`;
  // The export holds the rewarded setup events at once; a row a rejected request left (unrewarded, so held back
  // from the export until the wait passes) still shows in the counts of /metrics, which read every row.
  const events = await exportAll(url, context.adminToken);
  const expected = new Map(context.rewarded.map((r) => [r.eventId, r.value]));
  const strays = events.filter((e) => !expected.has(e.eventId));
  const changed = events.filter((e) => expected.has(e.eventId) && (e.reward !== expected.get(e.eventId) || e.rewardSource !== 'client'));
  result['no row from a rejected request'] =
    strays.length === 0 && events.length === expected.size && changed.length === 0
      ? null
      : `${events.length} events logged, ${expected.size} expected; ${strays.length} not from the setup (${strays.slice(0, 3).map((e) => e.eventId).join(', ')}); ${changed.length} rewards changed`;
  const metrics = await (await fetch(`${url}/metrics`, { headers: bearer(context.adminToken) })).text();
  const count = (name: string) => [...metrics.matchAll(new RegExp(`^${name}\\{model_version="[^"]*"\\} (\\d+)$`, 'gm'))].reduce((sum, match) => sum + Number(match[1]), 0);
  const [predictions, rewards] = [count('seed_predictions_total'), count('seed_rewards_total')];
  result['metrics count only the setup'] = predictions === expected.size && rewards === expected.size ? null : `metrics: ${predictions} predictions, ${rewards} rewards; ${expected.size} expected`;
  return result;
}

export interface FuzzOptions {
  requests: number;
  seed: number;
  concurrency: number;
  apiKey: string;
  /** A second client key, for rewards on events that are not its own. */
  otherApiKey: string;
  adminToken: string;
  onProgress?: (done: number) => void;
}

/** Runs the generated requests against a fresh edge at `url` and audits it afterwards. */
export async function runFuzz(url: string, options: FuzzOptions): Promise<FuzzReport> {
  const setup = await prepareFuzz(url, options, options.seed);
  const requests = fuzzRequests(options.requests, options.seed, setup.context);
  const byKind: FuzzReport['byKind'] = {};
  const examples: string[] = [];
  const secrets = [options.apiKey, options.otherApiKey, options.adminToken];
  const started = performance.now();
  let done = 0;
  const worker = async () => {
    for (let next = requests.next(); !next.done; next = requests.next()) {
      const request = next.value;
      const answer = await send(url, request);
      const problems = 'error' in answer ? [answer.error] : judgeAnswer(request, answer, secrets);
      const tally = (byKind[request.kind] ??= { tried: 0, failures: {} });
      tally.tried++;
      for (const problem of problems) tally.failures[problem] = (tally.failures[problem] ?? 0) + 1;
      if (problems.length && examples.length < 10) {
        const what = 'error' in answer ? answer.message : `${answer.status} ${answer.text.slice(0, 200)}`;
        examples.push(`${request.kind}: ${request.method} ${request.path.slice(0, 80)} → ${problems.join(', ')}: ${what}`);
      }
      done++;
      options.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const auditResult = await audit(url, setup);
  const failures =
    Object.values(byKind).reduce((sum, tally) => sum + Object.values(tally.failures).reduce((a, b) => a + b, 0), 0) + Object.values(auditResult).filter(Boolean).length;
  return { requests: done, seconds, byKind, audit: auditResult, examples, failures };
}

function printRequestReport(entry: EntryName, report: FuzzReport): void {
  console.log(`\n${entry}: ${report.requests} bad requests in ${report.seconds.toFixed(1)} s`);
  const width = Math.max(...Object.keys(report.byKind).map((kind) => kind.length));
  for (const [kind, tally] of Object.entries(report.byKind).sort()) {
    const failed = Object.entries(tally.failures).map(([category, n]) => `${category} ${n}`).join(', ');
    console.log(`  ${kind.padEnd(width)}  ${String(tally.tried).padStart(5)} tried  ${failed || '0 failures'}`);
  }
  for (const [check, problem] of Object.entries(report.audit)) console.log(`  after the run: ${check}: ${problem ?? 'yes'}`);
  for (const example of report.examples) console.log(`  ! ${example}`);
}

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({ requests: { type: 'string' }, target: { type: 'string' }, files: { type: 'string' }, concurrency: { type: 'string' }, seed: { type: 'string' } }, argv);
  const requests = intFlag('requests', flags.requests, 2000, 0, 200_000);
  const files = intFlag('files', flags.files, 1000, 0, 100_000);
  const concurrency = intFlag('concurrency', flags.concurrency, 8, 1, 64);
  const seed = intFlag('seed', flags.seed, 1);
  const entries = parseEntries(flags.target ?? 'both');
  const settings: EdgeSettings = { adminToken: `fuzz-admin-${crypto.randomUUID()}`, apiKeys: [`fuzz-key-${crypto.randomUUID()}`, `fuzz-key-${crypto.randomUUID()}`], rewardWaitSeconds: 60 };
  let failures = 0;
  for (const entry of requests > 0 ? entries : []) {
    const dataDir = await mkdtemp(join(tmpdir(), `seed-fuzz-${entry}-`));
    const edge = await startEdge(entry, settings, dataDir);
    try {
      const bar = new ProgressBar();
      const report = await runFuzz(edge.url, {
        requests, seed, concurrency, apiKey: settings.apiKeys[0], otherApiKey: settings.apiKeys[1], adminToken: settings.adminToken,
        onProgress: (done) => bar.update(`fuzz ${entry}`, done / requests, `${done}/${requests}`),
      });
      bar.done();
      printRequestReport(entry, report);
      const leaked = [settings.adminToken, ...settings.apiKeys].filter((secret) => edge.output().includes(secret)).length;
      console.log(`  after the run: no key in the server's log: ${leaked ? `${leaked} found` : 'yes'}`);
      failures += report.failures + leaked;
    } finally {
      await edge.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  if (files > 0) {
    const report = await fuzzReader(files, seed);
    console.log(`\nsafetensors reader: ${report.files} mutated files, slowest ${report.slowestMs.toFixed(0)} ms`);
    for (const [kind, t] of Object.entries(report.byKind).sort()) {
      console.log(`  ${kind.padEnd(56)} ${String(t.tried).padStart(5)} tried  ${t.refused} refused, ${t.acceptedUnchanged} still valid (same tensors), ${t.failures} failures`);
    }
    for (const example of report.examples) console.log(`  ! ${example}`);
    failures += report.failures;
  }
  console.log(failures ? `\n${failures} failures` : '\nno failures');
  if (failures) process.exit(1);
}

