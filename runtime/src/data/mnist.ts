// The `mnist` package's 10,000 digits as one Float32Array, cached on disk, with a seeded 8,000/2,000 split.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { IMAGE_PIXELS } from '../engine/architecture';
import { Random } from '../engine/random';

export const SPLIT_SEED = 20240607;
export const TRAIN_COUNT = 8000;

export interface Digits {
  /** [count, 784] row-major, values in [0, 1]. */
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

export interface MnistSplit {
  train: Digits;
  test: Digits;
}

const CACHE_MAGIC = 0x4d4e5354; // 'MNST'

function loadFromPackage(): Digits {
  const require = createRequire(import.meta.url);
  const perDigit = Array.from({ length: 10 }, (_, digit) => (require(`mnist/src/digits/${digit}.json`) as { data: number[] }).data);
  const count = perDigit.reduce((n, data) => n + data.length / IMAGE_PIXELS, 0);
  const images = new Float32Array(count * IMAGE_PIXELS);
  const labels = new Uint8Array(count);
  let at = 0;
  perDigit.forEach((data, digit) => {
    images.set(data, at * IMAGE_PIXELS);
    labels.fill(digit, at, at + data.length / IMAGE_PIXELS);
    at += data.length / IMAGE_PIXELS;
  });
  return { images, labels, count };
}

/** All digits in the package's order, read from the JSON once and then from `cacheDir`/mnist.bin. */
export function loadDigits(cacheDir = join(process.cwd(), '.cache')): Digits {
  const file = join(cacheDir, 'mnist.bin');
  if (existsSync(file)) {
    const bytes = readFileSync(file);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const count = bytes.length >= 8 ? view.getUint32(4, true) : 0;
    if (view.getUint32(0, true) === CACHE_MAGIC && bytes.length === 8 + count * (IMAGE_PIXELS * 4 + 1)) {
      const images = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 8, bytes.byteOffset + 8 + count * IMAGE_PIXELS * 4));
      const labels = new Uint8Array(bytes.buffer.slice(bytes.byteOffset + 8 + count * IMAGE_PIXELS * 4, bytes.byteOffset + bytes.length));
      return { images, labels, count };
    }
  }
  const digits = loadFromPackage();
  mkdirSync(dirname(file), { recursive: true });
  const header = new Uint32Array([CACHE_MAGIC, digits.count]);
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, Buffer.concat([Buffer.from(header.buffer), Buffer.from(digits.images.buffer), Buffer.from(digits.labels)]));
  renameSync(temp, file);
  return digits;
}

export function subset(digits: Digits, indices: ArrayLike<number>): Digits {
  const images = new Float32Array(indices.length * IMAGE_PIXELS);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    images.set(digits.images.subarray(j * IMAGE_PIXELS, (j + 1) * IMAGE_PIXELS), i * IMAGE_PIXELS);
    labels[i] = digits.labels[j];
  }
  return { images, labels, count: indices.length };
}

/** The fixed split: the same 8,000 train and 2,000 test digits on every machine. Test digits are never trained on. */
export function loadMnist(cacheDir?: string): MnistSplit {
  const digits = loadDigits(cacheDir);
  const order = new Random(SPLIT_SEED).shuffle(Array.from({ length: digits.count }, (_, i) => i)) as number[];
  return { train: subset(digits, order.slice(0, TRAIN_COUNT)), test: subset(digits, order.slice(TRAIN_COUNT)) };
}
