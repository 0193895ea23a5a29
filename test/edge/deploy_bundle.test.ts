// `wrangler deploy --dry-run` bundles the Worker, and nothing Node-only (or WebGPU) gets into the bundle; its size is printed.
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { SIMD_ENGINE_WASM_PATH, WRANGLER_OFFLINE_ENV } from '@seed/edge/node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EDGE_DIR, temporaryDir } from './support';

let outDir: Awaited<ReturnType<typeof temporaryDir>>;
beforeAll(async () => {
  outDir = await temporaryDir('bundle');
});
afterAll(() => outDir?.remove());

it('bundles the Workers entry without Node-only imports', async () => {
  const wrangler = join(EDGE_DIR, 'node_modules/.bin/wrangler');
  const { stdout } = await promisify(execFile)(wrangler, ['deploy', '--dry-run', '--outdir', outDir.path], {
    cwd: EDGE_DIR,
    env: { ...process.env, ...WRANGLER_OFFLINE_ENV },
    timeout: 90_000,
  });
  expect(stdout).toContain('--dry-run: exiting now.');
  const files = await readdir(outDir.path);
  const bundle = await readFile(join(outDir.path, files.find((name) => name.endsWith('.js')) as string), 'utf8');
  expect(bundle).toContain('seed-cnn/1');
  for (const forbidden of ['better-sqlite3', '@hono/node-server', 'node:fs', 'node:path', 'from "webgpu"', 'navigator.gpu']) {
    expect(bundle.includes(forbidden), forbidden).toBe(false);
  }
  expect(bundle).not.toMatch(/(?:from|import\(|require\()\s*["']node:/);
  // The SIMD engine travels beside the script as a WebAssembly module, the same bytes the Node entry loads.
  const wasm = files.filter((name) => name.endsWith('simd_engine.wasm'));
  expect(wasm).toHaveLength(1);
  const wasmBytes = await readFile(join(outDir.path, wasm[0]));
  expect(Buffer.from(wasmBytes).equals(await readFile(SIMD_ENGINE_WASM_PATH))).toBe(true);
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  // Reported, not asserted: Workers' limit applies to the gzipped size of script and modules together.
  const all = Buffer.concat([Buffer.from(bundle), wasmBytes]);
  console.log(`Worker bundle: ${kib(all.length)} raw, ${kib(gzipSync(all).length)} gzipped (script ${kib(Buffer.byteLength(bundle))}, engine .wasm ${kib(wasmBytes.length)})`);
});
