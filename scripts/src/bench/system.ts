// What the figures were measured on: the machine, the adapters, the software versions, the date.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT_DIR } from '../lib/paths';


export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  /** 1-minute load average when the run started and when it ended: above the core count, other work shared the CPU. */
  loadAverage: { start: number; end: number };
}

export function machine(loadAtStart: number): Machine {
  const list = cpus();
  return {
    cpu: list[0]?.model ?? 'unknown', cores: list.length, memoryGiB: Math.round(totalmem() / 2 ** 30), os: `${process.platform} ${release()}`, node: process.version,
    loadAverage: { start: loadAtStart, end: loadavg()[0] },
  };
}

export const loadAverage = (): number => loadavg()[0];

/** The version in a package's package.json, found from this package (the bench's own dependencies) or the edge's. */
function packageVersion(name: string): string {
  for (const from of [import.meta.url, join(ROOT_DIR, 'edge/package.json')]) {
    try {
      const entry = createRequire(from).resolve(name);
      // Walk up from the entry point to the package's own package.json.
      for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
        try {
          const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
          if (json.name === name) return json.version ?? 'unknown';
        } catch {
          // no package.json at this level
        }
      }
    } catch {
      // not resolvable from here
    }
  }
  return 'not installed';
}

export function versions(): Record<string, string> {
  const names = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu', 'onnxruntime-node', 'webgpu', 'autocannon', 'hono', 'wrangler'];
  const out: Record<string, string> = { node: process.version };
  for (const name of names) out[name] = packageVersion(name);
  try {
    out.seed = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    out.seed = 'unknown (not a git checkout)';
  }
  return out;
}

