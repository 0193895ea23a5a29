// Flag parsing with clear errors: each bad flag stops the program with one line naming it.
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class UsageError extends Error {
  override name = 'UsageError';
}

type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

export type Flags<S extends FlagSpec> = { [K in keyof S]?: S[K]['type'] extends 'boolean' ? boolean : string };

export function parseFlags<S extends FlagSpec>(spec: S, argv: string[]): Flags<S> {
  try {
    return parseArgs({ args: argv, options: spec, strict: true, allowPositionals: false }).values as Flags<S>;
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

export function intFlag(name: string, value: string | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer${max < Number.MAX_SAFE_INTEGER ? ` in [${min}, ${max}]` : ` ≥ ${min}`}, got "${value}"`);
  }
  return n;
}

export function numberFlag(name: string, value: string | undefined, fallback: number, min: number, max: number, { exclusiveMin = false } = {}): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (exclusiveMin && n === min)) {
    throw new UsageError(`--${name} must be a number in ${exclusiveMin ? '(' : '['}${min}, ${max}], got "${value}"`);
  }
  return n;
}

export function existingFile(name: string, value: string | undefined): string | undefined {
  if (value !== undefined && !existsSync(value)) throw new UsageError(`--${name}: no such file "${value}"`);
  return value;
}

/** Writes via a temporary file and a rename, so a reader never sees half a file. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, data);
  renameSync(temp, path);
}

/** Runs a command's main, printing usage errors and other failures as one line (no stack trace for usage errors). */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      const e = error as Error;
      const known = ['UsageError', 'ModelFileError', 'EventsFormatError', 'NoAdapterError', 'ArchitectureError'].includes(e?.name);
      console.error(`error: ${known ? e.message : (e?.stack ?? String(error))}`);
      process.exit(known && e.name === 'UsageError' ? 2 : 1);
    },
  );
}

/** --weighting: the policy gradient's importance weights, π/p ('ratio') or 1/p ('inverse'). */
export function weightingFlag(value: string | undefined, fallback: 'ratio' | 'inverse' = 'inverse'): 'ratio' | 'inverse' {
  if (value === undefined) return fallback;
  if (value !== 'ratio' && value !== 'inverse') throw new UsageError(`--weighting must be ratio or inverse, got "${value}"`);
  return value;
}

/** --self-images: images of each events-phase batch the self-supervised term reads; unset leaves the trainer's default. */
export function selfImagesFlag(value: string | undefined): number | undefined {
  return value === undefined ? undefined : intFlag('self-images', value, 0, 1, 4096);
}

/** --self-every: the events phase runs the self-supervised term on one step in this many (TrainPlan.selfEvery); unset: every step. */
export function selfEveryFlag(value: string | undefined): number | undefined {
  return value === undefined ? undefined : intFlag('self-every', value, 1, 1, 1000);
}
