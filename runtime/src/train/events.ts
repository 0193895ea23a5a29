// Parsing logged events from the NDJSON export of GET /v1/events: every line checked, errors name the line.
import { IMAGE_PIXELS } from '../engine/architecture';
import type { LoggedEvent } from './datasets';

export class EventsFormatError extends Error {
  override name = 'EventsFormatError';
}

/** One NDJSON line of the export into a LoggedEvent; `where` names it in errors (e.g. "events.ndjson:12"). */
export function parseEventLine(line: string, where: string, inputSize = IMAGE_PIXELS, classes = 10): LoggedEvent {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(line);
  } catch {
    throw new EventsFormatError(`${where}: not valid JSON`);
  }
  function fail(message: string): never {
    throw new EventsFormatError(`${where}: ${message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('an event must be a JSON object');
  const { type, eventId, pixels, action, propensity, reward, modelVersion, keyId, rewardSource, cursor, exploration, loggingProbabilities, challengerVersion } = value;
  if (type !== undefined && type !== 'event') fail(`unexpected line type ${JSON.stringify(type)}`);
  if (typeof eventId !== 'string' || eventId.length === 0) fail('eventId must be a non-empty string');
  if (!Array.isArray(pixels) || pixels.length !== inputSize) fail(`pixels must be ${inputSize} numbers`);
  const image = new Float32Array(inputSize);
  (pixels as unknown[]).forEach((p, i) => {
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) fail(`pixels[${i}] must be a number in [0,1]`);
    image[i] = p as number;
  });
  if (!Number.isInteger(action) || (action as number) < 0 || (action as number) >= classes) fail(`action must be an integer in [0,${classes})`);
  if (typeof propensity !== 'number' || !(propensity > 0 && propensity <= 1)) fail('propensity must be a number in (0,1]');
  if (typeof reward !== 'number' || !Number.isFinite(reward) || reward < -1 || reward > 1) fail('reward must be a number in [-1,1]');
  if (modelVersion !== undefined && typeof modelVersion !== 'string') fail('modelVersion must be a string');
  if (keyId !== undefined && typeof keyId !== 'string') fail('keyId must be a string');
  if (rewardSource !== undefined && rewardSource !== 'client' && rewardSource !== 'default') fail('rewardSource must be "client" or "default"');
  if (cursor !== undefined && (typeof cursor !== 'string' || !/^\d+$/.test(cursor))) fail('cursor must be a string of digits');
  if (exploration !== undefined && exploration !== null && typeof exploration !== 'string') fail('exploration must be a string or null');
  if (challengerVersion !== undefined && challengerVersion !== null && typeof challengerVersion !== 'string') fail('challengerVersion must be a string or null');
  const distribution = loggingProbabilities === undefined || loggingProbabilities === null ? loggingProbabilities : parseDistribution(loggingProbabilities, classes, fail);
  return {
    eventId: eventId as string, pixels: image, action: action as number, propensity, reward, modelVersion: modelVersion as string | undefined,
    keyId: keyId as string | undefined, rewardSource: rewardSource as LoggedEvent['rewardSource'], cursor: cursor as string | undefined, exploration: exploration as string | null | undefined,
    loggingProbabilities: distribution, challengerVersion: challengerVersion as string | null | undefined,
  };
}

/** `classes` probabilities in [0, 1] that sum to 1. */
function parseDistribution(value: unknown, classes: number, fail: (message: string) => never): number[] {
  if (!Array.isArray(value) || value.length !== classes || !value.every((p) => typeof p === 'number' && p >= 0 && p <= 1)) fail(`loggingProbabilities must be ${classes} numbers in [0,1]`);
  const total = (value as number[]).reduce((a, b) => a + b, 0);
  if (Math.abs(total - 1) > 1e-6) fail(`loggingProbabilities must sum to 1, not ${total}`);
  return value as number[];
}

/** All events of an NDJSON text (as GET /v1/events exports it); blank lines and the closing "end" line are skipped. */
export function parseEvents(text: string, source: string, inputSize = IMAGE_PIXELS, classes = 10): LoggedEvent[] {
  const events: LoggedEvent[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim() || /^\s*\{\s*"type"\s*:\s*"end"/.test(line)) return;
    events.push(parseEventLine(line, `${source}:${i + 1}`, inputSize, classes));
  });
  return events;
}
