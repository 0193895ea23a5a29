// The WGSL text of a kernel file, read once from kernels/wgsl/.
import { readFileSync } from 'node:fs';

const sources = new Map<string, string>();

export function wgslSource(file: string): string {
  let source = sources.get(file);
  if (source === undefined) {
    source = readFileSync(new URL(`../wgsl/${file}.wgsl`, import.meta.url), 'utf8');
    sources.set(file, source);
  }
  return source;
}
