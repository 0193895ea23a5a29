// `pnpm bench --quick --only infer`: the outputs' shape (table, JSON, SVG). Figures are measured, never asserted.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { BenchReport } from '@seed/scripts/bench/report';
import { ROOT_DIR } from '@seed/scripts/lib/paths';

const run = (args: string[]) => promisify(execFile)('pnpm', ['--silent', 'bench', ...args], { cwd: ROOT_DIR, maxBuffer: 16 << 20 });
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seed-bench-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('measures inference side by side and writes the table, the JSON and the SVG', async () => {
  const json = join(dir, 'bench.json');
  const plot = join(dir, 'bench.svg');
  const { stdout } = await run(['--quick', '--only', 'infer', '--json', json, '--plot', plot]);
  expect(stdout).toMatch(/^Inference\nwhat +who +backend +median +p99 +throughput +batch +seed ×$/m);

  const report = JSON.parse(await readFile(json, 'utf8')) as BenchReport;
  expect(report.quick).toBe(true);
  expect(report.parts).toEqual(['infer']);
  expect(Number.isNaN(Date.parse(report.date))).toBe(false);
  expect(report.machine.cores).toBeGreaterThan(0);
  expect(report.machine.cpu).not.toBe('');
  expect(report.versions['onnxruntime-node']).toMatch(/^\d+\.\d+\.\d+/);
  expect(report.versions['@tensorflow/tfjs-backend-wasm']).toMatch(/^\d+\.\d+\.\d+/);
  for (const row of report.rows) {
    expect(row.part).toBe('infer');
    for (const figure of Object.values(row.figures)) {
      expect(Number.isFinite(figure.value) && figure.value > 0, `${row.who} ${row.what}`).toBe(true);
      expect(['ms', 'img/s']).toContain(figure.unit);
    }
  }
  const measured = (who: string, what: string) => report.rows.find((r) => r.who === who && r.what === what && !r.unavailable);
  for (const who of ['seed WASM SIMD engine', 'TypeScript engine (reference)', 'tfjs-wasm', 'tfjs-cpu', 'onnxruntime-node']) {
    expect(measured(who, 'inference, batch 1')?.figures, who).toMatchObject({ median: { unit: 'ms' }, p99: { unit: 'ms' } });
    expect(measured(who, 'inference, batch 256')?.figures, who).toMatchObject({ throughput: { unit: 'img/s' } });
  }
  // Without an adapter the WebGPU rows say why instead.
  for (const row of report.rows.filter((r) => r.who === 'seed WebGPU forward')) expect(row.unavailable ?? row.figures.throughput.unit).toBeTruthy();
  expect(report.rows.find((r) => r.who === 'tfjs-wasm')?.ratio?.value).toBeGreaterThan(0);
  expect(report.targets.map((t) => t.name)).toEqual([
    "inference, batch 1: SIMD engine vs tfjs-wasm (its time ÷ the engine's)",
    "inference, batch 1: SIMD engine vs onnxruntime-node (its time ÷ the engine's)",
    "inference, batch 256: SIMD engine vs tfjs-wasm (its time ÷ the engine's)",
  ]);

  const svg = await readFile(plot, 'utf8');
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg).toContain('Inference, batch 1: median latency');
});

it('refuses an unknown part', async () => {
  await expect(run(['--only', 'everything'])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--only: "everything" is not one of kernels, train, infer, api') });
});
