// A drawing becomes the model's input the way MNIST digits were made: the ink's bounding box is scaled into 20×20
// keeping its aspect ratio, then placed so its centre of mass sits at the centre of the 28×28 field; values in [0,1].
// Plain TypeScript without the DOM: the page bundle and the tests import the same code.

/** Side of the model's input image. */
export const INPUT_SIDE = 28;
/** Side of the box the digit's longer side is scaled to. */
export const DIGIT_BOX = 20;
/** Slack for a scaled side of 20 that comes out as 20.000000000000004. */
const ROUNDING = 1e-9;

/** A grayscale drawing: `ink` holds one value in [0,1] per pixel, row-major (0 is paper, 1 is full ink). */
export interface InkImage {
  width: number;
  height: number;
  ink: ArrayLike<number>;
}

/** A drawing that cannot become an input: the message says why, for the person drawing. */
export class DrawingError extends Error {
  override name = 'DrawingError';
}

/** The ink of an RGBA bitmap (a canvas's ImageData): its alpha channel, as strokes are drawn on a transparent canvas. */
export function inkFromRgba({ width, height, data }: { width: number; height: number; data: ArrayLike<number> }): InkImage {
  checkSize(width, height);
  if (data.length !== width * height * 4) throw new DrawingError(`an RGBA bitmap of ${width}×${height} has ${width * height * 4} values, not ${data.length}`);
  const ink = new Float32Array(width * height);
  for (let i = 0; i < ink.length; i++) ink[i] = data[i * 4 + 3] / 255;
  return { width, height, ink };
}

/** The model's input for a drawing: 784 values in [0,1], row-major. Throws a DrawingError for an empty or malformed one. */
export function toModelInput({ width, height, ink }: InkImage): Float32Array {
  checkSize(width, height);
  if (ink.length !== width * height) throw new DrawingError(`a ${width}×${height} drawing has ${width * height} ink values, not ${ink.length}`);

  // Bounding box of the ink and its centre of mass (pixel centres at +0.5).
  let [left, top, right, bottom] = [width, height, -1, -1];
  let mass = 0;
  let momentX = 0;
  let momentY = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const value = ink[y * width + x];
      if (!(value >= 0 && value <= 1)) throw new DrawingError(`ink at (${x}, ${y}) is ${value}: values must be numbers in [0, 1]`);
      if (value === 0) continue;
      left = Math.min(left, x);
      right = Math.max(right, x);
      top = Math.min(top, y);
      bottom = Math.max(bottom, y);
      mass += value;
      momentX += value * (x + 0.5);
      momentY += value * (y + 0.5);
    }
  }
  if (mass === 0) throw new DrawingError('the drawing is empty: draw a digit first');

  const boxWidth = right - left + 1;
  const boxHeight = bottom - top + 1;
  const scale = DIGIT_BOX / Math.max(boxWidth, boxHeight);
  // A source pixel at x lands on [(x − left)·scale + offset, … + scale) in the field; box resampling keeps the centre
  // of mass. MNIST shifted its digits by whole pixels until that centre fell in pixel 14 (0-based, so at 14 to 15 here),
  // which keeps the box's edges on pixel edges: the same here. The shift stops where the box would leave the field, so a
  // lopsided digit loses no ink.
  const offset = (centre: number, start: number, size: number) =>
    Math.min(Math.max(Math.ceil(INPUT_SIDE / 2 - (centre - start) * scale), 0), Math.floor(INPUT_SIDE - size * scale + ROUNDING));
  const columns = coverage(boxWidth, scale, offset(momentX / mass, left, boxWidth));
  const rows = coverage(boxHeight, scale, offset(momentY / mass, top, boxHeight));

  const input = new Float32Array(INPUT_SIDE * INPUT_SIDE);
  for (let sy = 0; sy < boxHeight; sy++) {
    for (let sx = 0; sx < boxWidth; sx++) {
      const value = ink[(top + sy) * width + left + sx];
      if (value === 0) continue;
      for (const row of rows[sy]) {
        for (const column of columns[sx]) input[row.index * INPUT_SIDE + column.index] += value * row.weight * column.weight;
      }
    }
  }
  // Each field pixel sums ink times covered area (at most its own area of 1): only rounding can pass 1.
  for (let i = 0; i < input.length; i++) input[i] = Math.min(input[i], 1);
  return input;
}

function checkSize(width: number, height: number): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new DrawingError(`a drawing needs a positive whole width and height, not ${width}×${height}`);
  }
}

/** For each of `count` source pixels along one axis: the field pixels its scaled interval covers, and by how much. */
function coverage(count: number, scale: number, offset: number): { index: number; weight: number }[][] {
  return Array.from({ length: count }, (_, i) => {
    const from = i * scale + offset;
    const to = from + scale;
    const cells: { index: number; weight: number }[] = [];
    for (let index = Math.max(0, Math.floor(from)); index < Math.min(INPUT_SIDE, Math.ceil(to)); index++) {
      const weight = Math.min(to, index + 1) - Math.max(from, index);
      if (weight > 0) cells.push({ index, weight });
    }
    return cells;
  });
}
