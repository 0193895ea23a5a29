// The page at /: draw a digit, see what the model answers, tell it whether it was right.
import { ApiClient, ApiError, type Prediction } from '@seed/client';
import { probabilityBars } from './charts';
import { describeError, element, showStatus, whileBusy } from './dom';
import { DrawingError, INPUT_SIDE, inkFromRgba, toModelInput } from './preprocess';

/** Pen width on the 280-pixel pad: a digit drawn about 200 pixels tall gets MNIST's 2-pixel strokes. */
const PEN_WIDTH = 22;
/** How far one arrow key moves the keyboard pen (Shift: a fifth of it). */
const KEY_STEP = 10;
const API_KEY_ITEM = 'seed.apiKey';

const pad = element('#pad', HTMLCanvasElement);
const penMark = element('#pen', HTMLElement);
const preview = element('#preview', HTMLCanvasElement);
const predictButton = element('#predict', HTMLButtonElement);
const clearButton = element('#clear', HTMLButtonElement);
const rightButton = element('#right', HTMLButtonElement);
const wrongButton = element('#wrong', HTMLButtonElement);
const result = element('#result', HTMLElement);
const keyForm = element('#key-form', HTMLFormElement);
const keyInput = element('#key', HTMLInputElement);

function context2d(canvas: HTMLCanvasElement, options?: CanvasRenderingContext2DSettings): CanvasRenderingContext2D {
  const context = canvas.getContext('2d', options);
  if (!context) throw new Error('this browser has no 2D canvas');
  return context;
}
// The pad is read back after every stroke: the browser keeps it in memory for that.
const ink = context2d(pad, { willReadFrequently: true });
const previewContext = context2d(preview);
ink.lineCap = 'round';
ink.lineJoin = 'round';
ink.lineWidth = PEN_WIDTH;
ink.strokeStyle = ink.fillStyle = '#14213d';

let lastPrediction: Prediction | null = null;

// Drawing: pointer events cover mouse, pen and touch; the keyboard moves a pen of its own.
interface Point {
  x: number;
  y: number;
}

function dot({ x, y }: Point): void {
  ink.beginPath();
  ink.arc(x, y, PEN_WIDTH / 2, 0, 2 * Math.PI);
  ink.fill();
}

function line(from: Point, to: Point): void {
  ink.beginPath();
  ink.moveTo(from.x, from.y);
  ink.lineTo(to.x, to.y);
  ink.stroke();
}

/** A pointer's position in the pad's own pixels, whatever size the page shows it at. */
function padPoint(event: PointerEvent): Point {
  const box = pad.getBoundingClientRect();
  return { x: ((event.clientX - box.left) * pad.width) / box.width, y: ((event.clientY - box.top) * pad.height) / box.height };
}

let pointerAt: Point | null = null;
pad.addEventListener('pointerdown', (event) => {
  if (event.button !== 0) return;
  event.preventDefault();
  pad.focus();
  pad.setPointerCapture(event.pointerId);
  pointerAt = padPoint(event);
  dot(pointerAt);
});
pad.addEventListener('pointermove', (event) => {
  if (!pointerAt) return;
  // Coalesced events keep a fast stroke smooth where the browser batches several moves into one event.
  for (const sample of event.getCoalescedEvents?.() ?? [event]) {
    const next = padPoint(sample);
    line(pointerAt, next);
    pointerAt = next;
  }
});
for (const end of ['pointerup', 'pointercancel'] as const) {
  pad.addEventListener(end, () => {
    if (!pointerAt) return;
    pointerAt = null;
    updatePreview();
  });
}

const keyboardPen = { x: pad.width / 2, y: pad.height / 2, down: false };
function placePenMark(): void {
  penMark.style.left = `${(100 * keyboardPen.x) / pad.width}%`;
  penMark.style.top = `${(100 * keyboardPen.y) / pad.height}%`;
  penMark.classList.toggle('down', keyboardPen.down);
}
const ARROWS: Record<string, [number, number]> = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
pad.addEventListener('keydown', (event) => {
  const arrow = ARROWS[event.key];
  if (arrow) {
    const step = event.shiftKey ? KEY_STEP / 5 : KEY_STEP;
    const from = { x: keyboardPen.x, y: keyboardPen.y };
    keyboardPen.x = Math.min(Math.max(keyboardPen.x + arrow[0] * step, 0), pad.width);
    keyboardPen.y = Math.min(Math.max(keyboardPen.y + arrow[1] * step, 0), pad.height);
    if (keyboardPen.down) {
      line(from, keyboardPen);
      updatePreview();
    }
  } else if (event.key === ' ') {
    keyboardPen.down = !keyboardPen.down;
    if (keyboardPen.down) {
      dot(keyboardPen);
      updatePreview();
    }
  } else if (event.key === 'Enter') {
    predictButton.click();
  } else if (event.key === 'Delete' || event.key === 'Backspace') {
    clearButton.click();
  } else {
    return;
  }
  event.preventDefault();
  placePenMark();
});
placePenMark();

/** The model's input for what is drawn now; a DrawingError when there is nothing to read. */
function modelInput(): Float32Array {
  return toModelInput(inkFromRgba(ink.getImageData(0, 0, pad.width, pad.height)));
}

/** Shows the 28×28 input as the model sees it: white ink on black, like MNIST. */
function updatePreview(): void {
  const image = previewContext.createImageData(INPUT_SIDE, INPUT_SIDE);
  let input: Float32Array | null = null;
  try {
    input = modelInput();
  } catch (error) {
    if (!(error instanceof DrawingError)) throw error;
  }
  for (let i = 0; i < INPUT_SIDE * INPUT_SIDE; i++) {
    const level = Math.round((input?.[i] ?? 0) * 255);
    image.data.set([level, level, level, 255], i * 4);
  }
  previewContext.putImageData(image, 0, 0);
}
updatePreview();

clearButton.addEventListener('click', () => {
  ink.clearRect(0, 0, pad.width, pad.height);
  keyboardPen.down = false;
  placePenMark();
  updatePreview();
  showStatus('Cleared: draw a digit.');
});

// API keys: asked for once when the API wants one, then kept for this tab only (session storage), gone when it closes.
function askForKey(reason: string): Promise<string | null> {
  element('#key-reason', HTMLElement).textContent = reason;
  keyForm.hidden = false;
  keyInput.value = '';
  keyInput.focus();
  return new Promise((resolve) => {
    const finish = (key: string | null) => {
      keyForm.hidden = true;
      keyForm.removeEventListener('submit', submitted);
      element('#key-cancel', HTMLButtonElement).removeEventListener('click', cancelled);
      resolve(key);
    };
    const submitted = (event: SubmitEvent) => {
      event.preventDefault();
      finish(keyInput.value.trim() || null);
    };
    const cancelled = () => finish(null);
    keyForm.addEventListener('submit', submitted);
    element('#key-cancel', HTMLButtonElement).addEventListener('click', cancelled);
  });
}

/** A client call with the saved API key; when the API refuses it for want of a key, asks for one and tries again. */
async function asClient<T>(call: (key: string | null) => Promise<T>): Promise<T> {
  for (;;) {
    const key = sessionStorage.getItem(API_KEY_ITEM);
    try {
      return await call(key);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) throw error;
      if (key) sessionStorage.removeItem(API_KEY_ITEM);
      const entered = await askForKey(key ? `The API refused the saved key: ${error.message}.` : `This API needs a key: ${error.message}.`);
      if (!entered) throw new ApiError(401, 'unauthorized', 'no API key given: predictions and rewards need one here');
      sessionStorage.setItem(API_KEY_ITEM, entered);
    }
  }
}

function showPrediction(prediction: Prediction): void {
  const best = prediction.probabilities.indexOf(Math.max(...prediction.probabilities));
  element('#action', HTMLElement).textContent = String(prediction.action);
  element('#model-version', HTMLElement).textContent = prediction.modelVersion;
  element('#explored', HTMLElement).textContent = prediction.explored
    ? `yes: the model's best guess was ${best}, and this answer is one it tries now and then to learn from your reward (chosen with probability ${(prediction.propensity * 100).toFixed(1)}%)`
    : `no: the model's best guess (chosen with probability ${(prediction.propensity * 100).toFixed(1)}%)`;
  element('#event-id', HTMLElement).textContent = prediction.eventId;
  element('#chart', HTMLElement).replaceChildren(probabilityBars(prediction.probabilities, prediction.action));
  result.hidden = false;
}

predictButton.addEventListener('click', () =>
  whileBusy(predictButton, async () => {
    let input: Float32Array;
    try {
      input = modelInput();
    } catch (error) {
      if (error instanceof DrawingError) return showStatus(describeError(error), 'error');
      throw error;
    }
    showStatus('Asking the model…');
    const prediction = await asClient((key) => new ApiClient(location.origin, { apiKey: key }).predict(input));
    lastPrediction = prediction;
    showPrediction(prediction);
    showStatus(`The model says ${prediction.action}. Was it right?`);
  }),
);

for (const [button, value] of [[rightButton, 1], [wrongButton, 0]] as const) {
  button.addEventListener('click', () =>
    whileBusy(button, async () => {
      const prediction = lastPrediction;
      if (!prediction) return showStatus('predict first: a reward is for an answer', 'error');
      await asClient((key) => new ApiClient(location.origin, { apiKey: key }).reward(prediction.eventId, value));
      showStatus(`Thank you: reward ${value} (${value ? 'right' : 'wrong'}) recorded for answer ${prediction.action} (event ${prediction.eventId}).`);
    }),
  );
}
