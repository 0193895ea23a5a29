// The SIMD engine's WebAssembly module on Node, read from the file the Worker bundle imports.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

export const SIMD_ENGINE_WASM_PATH = createRequire(import.meta.url).resolve('@seed/runtime/engine/simd_engine.wasm');

let compiled: Promise<WebAssembly.Module> | undefined;

/** Compiled once per process. */
export function simdEngineModule(): Promise<WebAssembly.Module> {
  compiled ??= readFile(SIMD_ENGINE_WASM_PATH).then((bytes) => new WebAssembly.Module(bytes));
  return compiled;
}
