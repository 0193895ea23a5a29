// Predict and log: the engine's logits, an action drawn from the exploration policy, the event logged before the answer.
import { challengerMixture, softmaxRows, type InferenceEngine } from '@seed/runtime/engine';
import type { AppVariables } from './app_env';
import { ApiError } from './errors';
import { argmax, formatExploration, GREEDY, policyDistribution, sampleIndex } from './exploration';
import { dequantisePixels, quantisePixels } from './pixels';
import { seededDraw } from './seeded_draw';
import type { PredictionEvent } from './storage/types';

export interface PredictionRequest {
  pixels: number[];
  /** The client's id: asking again with it returns the logged answer. */
  eventId?: string;
}

export interface Prediction {
  eventId: string;
  modelVersion: string;
  action: number;
  probabilities: number[];
  propensity: number;
  explored: boolean;
}

/** The engine's logits for a batch; a logit that is not finite (huge weights) answers nothing rather than a NaN propensity. */
function finiteLogits(engine: InferenceEngine, input: Float32Array, count: number, version: string): Float32Array {
  const logits = engine.logits(input, count);
  if (!logits.every(Number.isFinite)) throw new ApiError(500, 'model_output_invalid', `model ${version} gave a logit that is not finite: nothing was logged`);
  return logits;
}

const toPrediction = ({ eventId, modelVersion, action, probabilities, propensity, explored }: PredictionEvent): Prediction => ({
  eventId,
  modelVersion,
  action,
  probabilities,
  propensity,
  explored,
});

/**
 * Answers each request in order; requests whose eventId the same key already logged get the logged answer and log
 * nothing (ids are scoped to the key: another key's id is a fresh event).
 */
export async function predictAndLog(context: AppVariables, requests: PredictionRequest[], explore: boolean): Promise<Prediction[]> {
  const { storage, settings, activeModel, now, random, keyId } = context;
  const policy = explore ? settings.exploration : GREEDY;
  // A challenger serves only exploring requests: greedy answers are the active model's alone.
  const exploring = policy.kind !== 'greedy';
  // Both at once: on D1 each is a round trip (both are remembered for a while; see CachedModelRegistry).
  const [active, stored] = await Promise.all([storage.models.active(), exploring ? storage.models.challenger() : null]);
  // Events are logged only while a model is active, and a rollback never leaves none, so without one nothing was logged.
  if (!active) throw new ApiError(503, 'no_model', 'no model is active: upload one with PUT /v1/models/{version} and promote it');
  const { engine } = await activeModel.engineFor(active, storage.models);
  const images = requests.map((r) => quantisePixels(r.pixels));
  // The model sees the image as logged, so the log reproduces its probabilities exactly.
  const input = new Float32Array(requests.length * engine.inputSize);
  images.forEach((image, i) => dequantisePixels(image, input, i * engine.inputSize));
  const classes = engine.classes();
  const logits = finiteLogits(engine, input, requests.length, active.version);
  const probabilities = softmaxRows(logits, requests.length, classes);
  const challenger = stored && stored.version !== active.version ? stored : null;
  const challengerLogits = challenger && finiteLogits((await activeModel.engineFor(challenger, storage.models)).engine, input, requests.length, challenger.version);
  const time = now();
  const exploration = formatExploration(policy);
  const eventIds = requests.map((request) => request.eventId ?? crypto.randomUUID());
  // EXPLORATION_SEED (experiments): each draw a keyed hash of the event, so arrival order changes nothing.
  const seed = settings.explorationSeed;
  const draws = seed ? await Promise.all(eventIds.map((eventId) => seededDraw(seed, keyId, eventId))) : eventIds.map(() => random());
  const events = requests.map((_, i): PredictionEvent => {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    let distribution = policyDistribution(row, policy);
    let challengerShare = 0;
    if (challenger && challengerLogits) {
      const challengerRow = challengerLogits.subarray(i * classes, (i + 1) * classes);
      const mixture = challengerMixture(distribution, policyDistribution(challengerRow, policy), argmax(challengerRow) !== argmax(row), challenger.share);
      distribution = mixture.distribution;
      challengerShare = mixture.share;
    }
    const action = sampleIndex(distribution, draws[i]);
    return {
      keyId,
      eventId: eventIds[i],
      time,
      modelVersion: active.version,
      pixels: images[i],
      probabilities: Array.from(probabilities.subarray(i * classes, (i + 1) * classes)),
      action,
      propensity: distribution[action],
      explored: action !== argmax(row),
      exploration,
      loggingProbabilities: Array.from(distribution),
      challengerVersion: challenger?.version ?? null,
      challengerShare,
    };
  });
  // Every request is answered as new, with no lookup before (a read on every predict: 30–35 µs on the Node entry, a
  // round trip on D1): an eventId the key already logged is found by the insert itself, which keeps the first event,
  // and append answers with that one.
  return (await storage.events.append(events)).map(toPrediction);
}
