// The page's preprocessing: a drawing becomes a 28×28 MNIST-style input (20×20 box, centre of mass centred).
import { DIGIT_BOX, DrawingError, INPUT_SIDE, inkFromRgba, toModelInput, type InkImage } from '@seed/edge/web/preprocess';
import { argmaxRows, buildNetwork, CpuEngine, IMAGE_PIXELS, initialParameters, loadMnist, Model, Random, SEED_ARCHITECTURE, trainModel } from '@seed/runtime';
import { describe, expect, it } from 'vitest';
import { testGpus } from '../support/gpu';

/** Sum of values, centre of mass (pixel centres at +0.5) and the box of pixels over `threshold`. */
function measure(image: ArrayLike<number>, side = INPUT_SIDE, threshold = 0) {
  let [mass, mx, my, left, top, right, bottom] = [0, 0, 0, side, side, -1, -1];
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const v = image[y * side + x];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
      if (v > threshold) [left, top, right, bottom] = [Math.min(left, x), Math.min(top, y), Math.max(right, x), Math.max(bottom, y)];
    }
  }
  return { mass, centreX: mx / mass, centreY: my / mass, width: right - left + 1, height: bottom - top + 1 };
}

/** A `width`×`height` drawing with full ink in the given rectangles. */
function drawing(width: number, height: number, rectangles: [x: number, y: number, w: number, h: number][]): InkImage {
  const ink = new Float32Array(width * height);
  for (const [x0, y0, w, h] of rectangles) for (let y = y0; y < y0 + h; y++) ink.fill(1, y * width + x0, y * width + x0 + w);
  return { width, height, ink };
}

describe('toModelInput', () => {
  it('scales the longer side to 20, keeps the aspect ratio and the ink, and centres the centre of mass', () => {
    // 90×45 of ink at the canvas's corner: scale 20/90, so 20×10 pixels holding 200 units of ink.
    const input = toModelInput(drawing(300, 200, [[3, 150, 90, 45]]));
    expect(input.length).toBe(INPUT_SIDE * INPUT_SIDE);
    const { mass, centreX, centreY, width, height } = measure(input, INPUT_SIDE, 1e-6);
    expect(mass).toBeCloseTo(200, 3);
    expect([centreX, centreY].map((c) => c.toFixed(4))).toEqual(['14.0000', '14.0000']);
    expect([width, height]).toEqual([DIGIT_BOX, 10]);
    expect(Math.max(...input)).toBeCloseTo(1, 6);
    expect(Math.min(...input)).toBe(0);
  });

  it('a tall stroke stays tall, and a tiny dot is scaled up into the box', () => {
    const bar = measure(toModelInput(drawing(280, 280, [[100, 20, 14, 210]])), INPUT_SIDE, 1e-6);
    expect([bar.height, bar.width]).toEqual([20, 2]);
    const dot = measure(toModelInput(drawing(280, 280, [[7, 9, 2, 2]])), INPUT_SIDE, 1e-6);
    expect([dot.width, dot.height, Math.round(dot.mass)]).toEqual([20, 20, 400]);
  });

  it('keeps a lopsided digit whole: the shift towards its centre of mass stops at the border', () => {
    // A heavy block on a long thin tail: centring its mass alone would push the tail's end out of the field. (147 pixels
    // scale to 20.000000000000004, which must still fit the 8 pixels left.)
    const input = toModelInput(drawing(100, 147, [[0, 0, 100, 60], [49, 60, 2, 87]]));
    const { mass, height } = measure(input, INPUT_SIDE, 1e-6);
    const scale = DIGIT_BOX / 147;
    expect(mass).toBeCloseTo((100 * 60 + 2 * 87) * scale * scale, 3);
    expect(height).toBe(20);
    expect(Math.max(...input.slice(-INPUT_SIDE))).toBeGreaterThan(0.2);
  });

  it('reads the ink from an RGBA bitmap\'s alpha channel', () => {
    const rgba = new Uint8ClampedArray(2 * 1 * 4);
    rgba.set([10, 20, 30, 255, 0, 0, 0, 51]);
    const { ink } = inkFromRgba({ width: 2, height: 1, data: rgba });
    expect([ink.length, ink[0], ink[1].toFixed(6)]).toEqual([2, 1, '0.200000']);
  });

  it('refuses an empty or malformed drawing with a clear message', () => {
    const refusal = (image: InkImage) => {
      try {
        toModelInput(image);
      } catch (error) {
        expect(error).toBeInstanceOf(DrawingError);
        return (error as Error).message;
      }
      throw new Error('no error');
    };
    expect(refusal({ width: 4, height: 4, ink: new Float32Array(16) })).toBe('the drawing is empty: draw a digit first');
    expect(refusal({ width: 4, height: 4, ink: new Float32Array(15) })).toBe('a 4×4 drawing has 16 ink values, not 15');
    expect(refusal({ width: 2, height: 1, ink: [0.5, Number.NaN] })).toBe('ink at (1, 0) is NaN: values must be numbers in [0, 1]');
    expect(refusal({ width: 2, height: 1, ink: [0.5, 2] })).toBe('ink at (1, 0) is 2: values must be numbers in [0, 1]');
    expect(refusal({ width: 0, height: 3, ink: [] })).toBe('a drawing needs a positive whole width and height, not 0×3');
    expect(() => inkFromRgba({ width: 2, height: 2, data: new Uint8ClampedArray(12) })).toThrow('an RGBA bitmap of 2×2 has 16 values, not 12');
  });
});

/** The canvas pixels along one axis that a digit pixel's square covers (side `scale`, from `origin + i·scale`), and how much. */
function squareCoverage(i: number, scale: number, origin: number): [pixel: number, amount: number][] {
  const [from, to] = [origin + i * scale, origin + (i + 1) * scale];
  return Array.from({ length: Math.ceil(to) - Math.floor(from) }, (_, k) => Math.floor(from) + k).map((pixel) => [pixel, Math.min(to, pixel + 1) - Math.max(from, pixel)]);
}

/** An MNIST digit drawn large on a canvas: each of its pixels painted as an anti-aliased square of side `scale`, the digit's corner at (x, y). */
function render(digit: Float32Array, scale: number, x: number, y: number, width: number, height: number): InkImage {
  const ink = new Float32Array(width * height);
  for (let v = 0; v < INPUT_SIDE; v++) {
    for (let u = 0; u < INPUT_SIDE; u++) {
      for (const [row, rowAmount] of squareCoverage(v, scale, y)) {
        for (const [column, columnAmount] of squareCoverage(u, scale, x)) ink[row * width + column] += digit[v * INPUT_SIDE + u] * rowAmount * columnAmount;
      }
    }
  }
  return { width, height, ink: ink.map((value) => Math.min(value, 1)) };
}

/** The naive alternative: the whole canvas shrunk to 28×28 (box filter over a square crop), nothing re-centred. */
function shrinkWholeCanvas({ width, ink }: InkImage): Float32Array {
  const cell = width / INPUT_SIDE;
  const out = new Float32Array(IMAGE_PIXELS);
  for (let i = 0; i < width * width; i++) {
    const [x, y] = [i % width, Math.floor(i / width)];
    out[Math.floor(y / cell) * INPUT_SIDE + Math.floor(x / cell)] += ink[i] / (cell * cell);
  }
  return out;
}

it('undoes a whole-pixel enlargement of an MNIST digit exactly: MNIST digits already have the 20×20 box and centred mass', () => {
  const { test } = loadMnist();
  for (const [i, scale, x, y] of [[0, 10, 37, 5], [1, 7, 0, 90], [2, 3, 200, 11]]) {
    const original = test.images.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS);
    const redrawn = toModelInput(render(original, scale, x, y, 300, 300));
    expect(Math.max(...redrawn.map((value, p) => Math.abs(value - original[p]))), `test digit ${i}`).toBeLessThan(1e-5);
  }
});

const [gpu] = testGpus;
describe.skipIf(!gpu)('a drawn digit keeps its prediction', () => {
  it('test digits drawn at other sizes and places on a canvas, then preprocessed, get the model\'s answer for the original', async () => {
    const data = loadMnist();
    const network = buildNetwork(SEED_ARCHITECTURE);
    const model = new Model(gpu.cache, network, initialParameters(network, 3));
    const trained = await trainModel(model, data, { pretrainEpochs: 0, labels: 2000, epochs: 2, alpha: 0, batch: 64, lr: 2e-3, seed: 3 });
    const engine = new CpuEngine({ network, tensors: await model.tensors() });
    await model.destroy();

    const count = 300;
    const random = new Random(11);
    const [width, height] = [360, 300];
    const originals = data.test.images.subarray(0, count * IMAGE_PIXELS);
    const redrawn = new Float32Array(count * IMAGE_PIXELS);
    const shrunk = new Float32Array(count * IMAGE_PIXELS);
    for (let i = 0; i < count; i++) {
      const scale = 4 + 6 * random.next();
      const canvas = render(originals.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS), scale, random.next() * (width - 28 * scale), random.next() * (height - 28 * scale), width, height);
      redrawn.set(toModelInput(canvas), i * IMAGE_PIXELS);
      shrunk.set(shrinkWholeCanvas(canvas), i * IMAGE_PIXELS);
    }
    const answers = (images: Float32Array) => argmaxRows(engine.probabilities(images, count), count, 10);
    const [original, preprocessed, naive] = [answers(originals), answers(redrawn), answers(shrunk)];
    const agreement = (other: Uint32Array) => original.filter((action, i) => action === other[i]).length / count;
    console.log(
      `model at ${(trained.testAccuracy * 100).toFixed(1)}% test accuracy; same answer after drawing and preprocessing: ` +
        `${(agreement(preprocessed) * 100).toFixed(1)}% of ${count} digits (whole canvas shrunk, not re-centred: ${(agreement(naive) * 100).toFixed(1)}%)`,
    );
    // A model that has learnt little answers alike whatever it is shown, which would make agreement meaningless.
    expect(trained.testAccuracy).toBeGreaterThan(0.7);
    expect(agreement(preprocessed)).toBeGreaterThanOrEqual(0.95);
    // The check tells preprocessing from none: without it most digits change their answer.
    expect(agreement(naive)).toBeLessThan(0.6);
  });
});
