// `pnpm build:wasm`: assembles the edge's SIMD inference kernels (WAT) into the .wasm the Worker and Node load.
// The .wasm is committed, so wrangler and the Workers tests need no build step; a test assembles the source again
// and fails when the committed binary differs.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import wabt from 'wabt';
import { ROOT_DIR } from '../lib/paths';

export const SIMD_ENGINE_WAT = join(ROOT_DIR, 'runtime/src/engine/wasm/simd_engine.wat');
export const SIMD_ENGINE_WASM = join(ROOT_DIR, 'runtime/src/engine/wasm/simd_engine.wasm');

/** The module's bytes, assembled from the WAT source (no names section, so the bytes depend only on the code). */
export async function assembleSimdEngine(): Promise<Uint8Array> {
  const assembler = await wabt();
  const parsed = assembler.parseWat('simd_engine.wat', await readFile(SIMD_ENGINE_WAT, 'utf8'), { simd: true });
  try {
    parsed.resolveNames();
    parsed.validate();
    return parsed.toBinary({ log: false, write_debug_names: false }).buffer;
  } finally {
    parsed.destroy();
  }
}

export async function main(): Promise<void> {
  const bytes = await assembleSimdEngine();
  await writeFile(SIMD_ENGINE_WASM, bytes);
  console.log(`wrote ${SIMD_ENGINE_WASM} (${bytes.length} bytes)`);
}
