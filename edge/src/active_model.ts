// The engines of the active model and the challenger, loaded once per isolate and swapped when the registry changes.
import { CpuEngine, gridImage, IMAGE_PIXELS, type InferenceEngine, type ModelFile, type Network, readModel, WasmEngine } from '@seed/runtime/engine';
import { ApiError } from './errors';
import type { ModelRecord, ModelRegistry } from './storage/types';

export interface ServingModel {
  version: string;
  sha256: string;
  engine: InferenceEngine;
}

/** Classes of the policy head: a prediction answers `probabilities[10]`. */
export const CLASSES = 10;
/** Per image, so a batch of 64 stays within a Worker's memory and a second or so of CPU. */
export const MAX_ACTIVATION_VALUES = 131_072;
export const MAX_MULTIPLY_ADDS = 16_777_216;
/** Stages of the trunk plus heads: each one is a pass over its values, whatever its size. */
export const MAX_LAYERS = 32;

/**
 * Why the edge cannot serve this network (it takes 1×28×28 images, answers 10 classes, in bounded work), or null.
 * Work counts every stage: multiply-adds of convolutions and dense layers, the window of each pooled value, and one
 * operation for each value any stage writes (ReLU and flatten included).
 */
export function servingProblem(network: Network): string | null {
  const [channels, height, width] = network.input;
  if (channels * height * width !== IMAGE_PIXELS || channels !== 1) return `the model takes ${network.input.join('×')} inputs, the API sends 1×28×28 images`;
  const classes = network.heads.policy.outFeatures;
  if (classes !== CLASSES) return `the policy head has ${classes} classes, the API answers ${CLASSES}`;
  const layers = network.trunk.length + Object.keys(network.heads).length;
  if (layers > MAX_LAYERS) return `the model has ${layers} layers, over the edge's limit of ${MAX_LAYERS}`;
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  let work = 0;
  for (const { layer, inShape, outShape } of network.trunk) {
    if (size(outShape) > MAX_ACTIVATION_VALUES) return `a ${layer.kind} layer gives ${size(outShape)} values per image, over the edge's limit of ${MAX_ACTIVATION_VALUES}`;
    work += size(outShape);
    if (layer.kind === 'conv2d') work += size(outShape) * inShape[0] * layer.kernelSize ** 2;
    else if (layer.kind === 'dense') work += layer.inFeatures * layer.outFeatures;
    else if (layer.kind === 'maxpool2d') work += size(outShape) * layer.kernelSize ** 2;
  }
  for (const head of Object.values(network.heads)) work += head.inFeatures * head.outFeatures + head.outFeatures;
  if (work > MAX_MULTIPLY_ADDS) return `the model needs ${work} multiply-adds per image, over the edge's limit of ${MAX_MULTIPLY_ADDS}`;
  return null;
}

/** Test images for the forward pass an upload must pass: blank, full ink, and a pattern of mixed values. */
const TEST_IMAGES = Float32Array.from([...new Array<number>(IMAGE_PIXELS).fill(0), ...new Array<number>(IMAGE_PIXELS).fill(1), ...gridImage(1)]);

/** Why the model cannot answer (a logit or probability of a test image is not finite), or null. */
export function forwardPassProblem(model: ModelFile): string | null {
  const engine = new CpuEngine(model);
  const batch = TEST_IMAGES.length / IMAGE_PIXELS;
  const finite = (values: Float32Array) => values.every(Number.isFinite);
  if (!finite(engine.logits(TEST_IMAGES, batch)) || !finite(engine.probabilities(TEST_IMAGES, batch))) return 'the model gives a value that is not finite on a test image';
  return null;
}

/** Engines kept per isolate: the active model's and a challenger's. */
const CACHED_ENGINES = 2;

export class ActiveModelCache {
  private readonly loads = new Map<string, Promise<ServingModel>>();
  private readonly simdEngine: WebAssembly.Module;

  constructor(simdEngine: WebAssembly.Module) {
    this.simdEngine = simdEngine;
  }

  /** The engine for a registry model (the active one or the challenger); concurrent callers share one load. */
  engineFor(model: ModelRecord, registry: ModelRegistry): Promise<ServingModel> {
    // The file's hash names the exact weights, so one cache serves any storage.
    const key = `${model.version}:${model.fileSha256}`;
    const cached = this.loads.get(key);
    if (cached) {
      // Most recently used last, so the oldest is the one dropped.
      this.loads.delete(key);
      this.loads.set(key, cached);
      return cached;
    }
    const loading = load(model, registry, this.simdEngine);
    this.loads.set(key, loading);
    if (this.loads.size > CACHED_ENGINES) this.loads.delete(this.loads.keys().next().value as string);
    loading.catch(() => {
      if (this.loads.get(key) === loading) this.loads.delete(key);
    });
    return loading;
  }
}

async function load(active: ModelRecord, registry: ModelRegistry, simdEngine: WebAssembly.Module): Promise<ServingModel> {
  const file = await registry.weights(active.version);
  if (!file) throw new ApiError(500, 'weights_missing', `the weights of model ${active.version} are missing from the store`);
  // readModel checks the file again: the store could have been changed behind the registry's back.
  const model = await readModel(file);
  const problem = servingProblem(model.network);
  if (problem) throw new ApiError(500, 'model_unservable', `model ${active.version}: ${problem}`);
  return { version: active.version, sha256: model.metadata.sha256, engine: new WasmEngine(simdEngine, model) };
}
