// One training step, whatever the objective: upload the batch, then for each loss term its forward pass, loss
// kernel and backward pass (parameter gradients add up across terms), then Adam: one encoder, one submit.
//
// Terms: 'supervised' (cross-entropy on labels, policy head), 'rotation' (cross-entropy on the four rotations of
// each image, rotation head), 'contrastive' (NT-Xent between two random affine views of each image, projection head)
// 'clusters' (SCAN: each image and one of its nearest neighbours, both warped, should get the same confident class
// while the batch uses every class, policy head) and 'policy' (importance-weighted policy gradient on logged actions,
// policy head). The self-supervised terms read the batch the policy term uploaded and make their own inputs from it
// on the GPU:
// L_total = α·L_self + (1−α)·L_reinforce.
import {
  augmentImages, AUGMENT_TRANSFORM_SIZE, DEFAULT_AUGMENT, ntxentBackward, ntxentLoss, policyGradient, randomTransform, rotateImages, scanLoss, softmaxCrossEntropy,
  SCAN_MAX_CLASSES, type AugmentRanges, type CrossEntropyShape, type NtXentShape, type PolicyGradientShape, type ScanLossShape,
} from '@seed/kernels';
import { Random } from '../engine/random';
import { createStorage, readFloats } from '../gpu/buffers';
import { record, writeParams, type BufferSlice, type Dispatch } from '../gpu/pipelines';
import { Adam, type AdamOptions } from './adam';
import { Graph } from './graph';
import type { Model } from './model';

export type TermKind = 'supervised' | 'rotation' | 'contrastive' | 'clusters' | 'policy';

export interface PolicyOptions {
  /** Importance weights are clipped at this value (c in min(π/p, c)). */
  clip: number;
  /** Divide the weights by their batch sum (self-normalised IPS). */
  selfNormalize: boolean;
  /** Subtracted from each reward (a baseline, or BanditNet's λ). */
  baseline: number;
  /** 'ratio' (π/p, default) or 'inverse' (1/p): see policy_gradient.ts. */
  weighting?: 'ratio' | 'inverse';
  /** λ of the complementary-label term on samples marked in StepBatch.negatives (default 0: off). */
  complementary?: number;
}

export interface StepOptions extends AdamOptions {
  batch: number;
  /** Weight of each term in the total loss, e.g. { rotation: α, policy: 1 − α }. */
  terms: Partial<Record<TermKind, number>>;
  policy?: PolicyOptions;
  /** Images of each batch (the first ones) whose four rotations feed the rotation term; default the whole batch. */
  rotationImages?: number;
  /**
   * The contrastive term: its views' ranges, NT-Xent's temperature, the seed of the views' draws, and how many images
   * of each batch (the first ones) it makes two views of (default the whole batch). With `partners` each image's
   * positive is a view of its batch partner (a nearest neighbour, see neighbourSet) instead of a second view of itself,
   * for the whole batch (`images` is then ignored): NNCLR's positives (Dwibedi et al. 2021).
   */
  contrastive?: { augment?: AugmentRanges; temperature?: number; seed?: number; images?: number; partners?: boolean };
  /** The clustering term: its views' ranges, the entropy weight λ (default 2) and the seed of the views' draws. */
  clusters?: { augment?: AugmentRanges; entropyWeight?: number; seed?: number };
  /**
   * The self-supervised terms (rotation, contrastive, clusters) run on one step in `selfEvery`, the first and every
   * `selfEvery`-th after it, at `selfEvery` times their weight, so their share of the gradient is unchanged on
   * average while most steps skip their dispatches; the policy-head term runs on every step. Default 1 (every step);
   * above 1 the step needs a supervised or policy term.
   */
  selfEvery?: number;
}

/** The terms that make their own inputs from the batch and need no logged reward or label. */
const SELF_TERMS: ReadonlySet<TermKind> = new Set(['rotation', 'contrastive', 'clusters']);

/** The head each term trains. */
const HEAD_OF: Record<TermKind, string> = { supervised: 'policy', policy: 'policy', rotation: 'rotation', contrastive: 'projection', clusters: 'policy' };

/** λ of the clustering term unless one is given (docs/evolution.md, "Clusters"). */
export const DEFAULT_ENTROPY_WEIGHT = 2;

/** The random views one term draws for each step: their ranges, count and the buffer they go to. */
interface ViewDraws { random: Random; ranges: AugmentRanges; count: number; size: number; transforms: GPUBuffer; every: number }

/** NT-Xent's temperature unless one is given: SimCLR's value for small batches. */
export const DEFAULT_TEMPERATURE = 0.5;

export interface StepBatch {
  /** [batch, C, H, W] images: the supervised, policy and rotation terms all read this batch. */
  images: Float32Array;
  labels?: Uint32Array;
  actions?: Uint32Array;
  propensities?: Float32Array;
  rewards?: Float32Array;
  /** 1 where the reward said "not this action" (a given reward of 0), else 0: the complementary term's samples. */
  negatives?: Float32Array;
  /** [batch, C, H, W]: a nearest neighbour of each image, for the clustering term. */
  partners?: Float32Array;
}

/** Per-step losses stay on the GPU until read: a ring of this many steps per term. */
const LOSS_LOG_STEPS = 1024;

interface Term {
  kind: TermKind;
  graph: Graph;
  /** Kernels recorded before the forward pass (the rotation or augmentation of the batch). */
  before: Dispatch[];
  /** The loss kernels: they write the loss and the gradient of the head's logits. */
  loss: Dispatch[];
  losses: GPUBuffer;
  lossLog: GPUBuffer;
  /** Samples per step in this term's graph. */
  samples: number;
  /** Runs on one step in this many (1: every step). */
  every: number;
  /** Steps this term ran since the last drainLosses. */
  logged: number;
  /** Gradient ranges zeroed on the steps this term skips: its head's, when no other term writes them. */
  clearWhenSkipped: BufferSlice[];
}

const dispatchesOf = (terms: readonly Term[]): Dispatch[] => terms.flatMap((term) => [...term.before, ...term.graph.forward, ...term.loss, ...term.graph.backward]);

export class TrainingStep {
  /** Steps run since the step was made: which steps the self-supervised terms run on (see StepOptions.selfEvery). */
  private steps = 0;

  private constructor(
    readonly model: Model,
    readonly options: StepOptions,
    private readonly terms: Term[],
    private readonly inputs: { images: GPUBuffer; labels?: GPUBuffer; actions?: GPUBuffer; propensities?: GPUBuffer; rewards?: GPUBuffer; negatives?: GPUBuffer; pairs?: GPUBuffer },
    readonly adam: Adam,
    private readonly owned: GPUBuffer[],
    /** Draws the random views of the terms that warp their inputs (contrastive, clusters). */
    private readonly views: ViewDraws[],
  ) {}

  static async create(model: Model, options: StepOptions): Promise<TrainingStep> {
    const { batch } = options;
    const { cache, store, network, gpu } = model;
    const kinds = (['supervised', 'policy', 'rotation', 'contrastive', 'clusters'] as const).filter((k) => (options.terms[k] ?? 0) > 0);
    if (kinds.length === 0) throw new Error('a training step needs at least one term with a positive weight');
    if (kinds.includes('supervised') && kinds.includes('policy')) throw new Error('supervised and policy terms both use the policy head on one batch: choose one');
    if (kinds.includes('rotation') && !network.heads.rotation) throw new Error('the network has no rotation head');
    if (kinds.includes('contrastive') && !network.heads.projection) throw new Error('the network has no projection head (see withProjectionHead)');
    const every = options.selfEvery ?? 1;
    if (!(Number.isInteger(every) && every >= 1)) throw new Error(`selfEvery must be a whole number ≥ 1, got ${options.selfEvery}`);
    // A skipped term must not be the one whose gradients overwrite the last step's: a policy-head term comes first.
    if (every > 1 && SELF_TERMS.has(kinds[0])) throw new Error('selfEvery above 1 needs a supervised or policy term that runs on every step');
    const views: ViewDraws[] = [];
    const terms: Term[] = [];
    const owned: GPUBuffer[] = [];
    const buffer = (label: string, init: number | Float32Array | Uint32Array) => {
      const created = createStorage(gpu, label, init);
      owned.push(created);
      return created;
    };
    const inputs: TrainingStep['inputs'] = { images: undefined as unknown as GPUBuffer };

    for (const kind of kinds) {
      const termEvery = SELF_TERMS.has(kind) ? every : 1;
      const weight = options.terms[kind]! * termEvery;
      const accumulate = terms.length > 0;
      const head = HEAD_OF[kind];
      const rotated = Math.min(batch, options.rotationImages ?? batch);
      const viewed = kind === 'contrastive' && options.contrastive?.partners ? batch : Math.min(batch, options.contrastive?.images ?? batch);
      const samples = kind === 'rotation' ? 4 * rotated : kind === 'contrastive' ? 2 * viewed : kind === 'clusters' ? 2 * batch : batch;
      // The trunk's gradients add to those of the terms before; a head's only when one of them trained it too.
      const headWritten = terms.some((t) => HEAD_OF[t.kind] === head);
      const graph = await Graph.build(cache, store, { batch: samples, heads: [head], accumulate, accumulateHeads: headWritten });
      // On a step this term skips, nothing writes its head's gradients: they are cleared, so Adam does not apply the
      // last step's again.
      const clearWhenSkipped = termEvery > 1 && !headWritten ? [store.range('grads', `${network.heads[head]!.name}.weight`), store.range('grads', `${network.heads[head]!.name}.bias`)] : [];
      const classes = network.heads[head]!.outFeatures;
      const losses = buffer(`${kind} loss`, samples * 4);
      const before: Dispatch[] = [];
      let loss: Dispatch[];
      const [channels, height, width] = network.input;
      if (kind === 'contrastive') {
        // Two views of each of the first `viewed` images of the shared batch, or with partners a view of each image and
        // one of its partner (uploaded together, as for the clustering term): rows n and n + viewed are a positive pair.
        if (height !== width) throw new Error('contrastive views need square inputs');
        const transforms = buffer('view transforms', samples * AUGMENT_TRANSFORM_SIZE * 4);
        views.push({ random: new Random(options.contrastive?.seed ?? 1), ranges: options.contrastive?.augment ?? DEFAULT_AUGMENT, count: samples, size: height, transforms, every: termEvery });
        if (options.contrastive?.partners) {
          inputs.pairs ??= buffer('image pairs', samples * channels * height * width * 4);
          before.push(await cache.prepare(augmentImages, { batch: samples, views: samples, channels, size: height }, { images: inputs.pairs, transforms, augmented: graph.input }, 'augment pairs'));
        } else {
          inputs.images ??= buffer('batch images', batch * channels * height * width * 4);
          before.push(await cache.prepare(augmentImages, { batch: viewed, views: samples, channels, size: height }, { images: inputs.images, transforms, augmented: graph.input }, 'augment batch'));
        }
        const shape: NtXentShape = { rows: samples, dim: network.heads.projection.outFeatures, temperature: options.contrastive?.temperature ?? DEFAULT_TEMPERATURE, scale: weight / samples };
        const probabilities = buffer('contrastive probabilities', samples * samples * 4);
        const norms = buffer('contrastive norms', samples * 4);
        const z = graph.logits.get(head)!;
        loss = [
          await cache.prepare(ntxentLoss, shape, { z, loss: losses, probabilities, norms }, 'contrastive loss'),
          await cache.prepare(ntxentBackward, shape, { z, probabilities, norms, gradZ: graph.gradLogits.get(head)! }, 'contrastive loss backward'),
        ];
      } else if (kind === 'clusters') {
        // Each image of the batch and its partner (uploaded together: rows n and n + batch), each warped once.
        if (height !== width) throw new Error('the clustering term warps its inputs: it needs square inputs');
        if (classes > SCAN_MAX_CLASSES) throw new Error(`the clustering term handles at most ${SCAN_MAX_CLASSES} classes, the policy head has ${classes}`);
        inputs.pairs ??= buffer('image pairs', samples * channels * height * width * 4);
        const transforms = buffer('pair transforms', samples * AUGMENT_TRANSFORM_SIZE * 4);
        views.push({ random: new Random((options.clusters?.seed ?? 1) + 7919), ranges: options.clusters?.augment ?? DEFAULT_AUGMENT, count: samples, size: height, transforms, every: termEvery });
        before.push(await cache.prepare(augmentImages, { batch: samples, views: samples, channels, size: height }, { images: inputs.pairs, transforms, augmented: graph.input }, 'augment pairs'));
        const shape: ScanLossShape = { rows: samples, classes, entropyWeight: options.clusters?.entropyWeight ?? DEFAULT_ENTROPY_WEIGHT, scale: weight };
        loss = [await cache.prepare(scanLoss, shape, { logits: graph.logits.get(head)!, loss: losses, probabilities: buffer('cluster probabilities', samples * classes * 4), gradLogits: graph.gradLogits.get(head)! }, 'clustering loss')];
      } else if (kind === 'rotation') {
        // The rotation term reads the shared batch: rotated into its own 4× larger input.
        inputs.images ??= buffer('batch images', batch * channels * height * width * 4);
        if (height !== width) throw new Error('rotation pretraining needs square inputs');
        before.push(await cache.prepare(rotateImages, { batch: rotated, channels, size: height }, { images: inputs.images, rotated: graph.input }, 'rotate batch'));
        const labels = buffer('rotation labels', Uint32Array.from({ length: samples }, (_, m) => m % 4));
        const ones = buffer('rotation weights', new Float32Array(samples).fill(1));
        const shape: CrossEntropyShape = { batch: samples, classes, scale: weight / samples };
        loss = [await cache.prepare(softmaxCrossEntropy, shape, { logits: graph.logits.get(head)!, labels, weights: ones, loss: losses, gradLogits: graph.gradLogits.get(head)! }, 'rotation loss')];
      } else {
        // The policy-head terms own the batch's upload buffer: their graph input.
        inputs.images = graph.input;
        if (kind === 'supervised') {
          inputs.labels = buffer('labels', batch * 4);
          const ones = buffer('sample weights', new Float32Array(batch).fill(1));
          const shape: CrossEntropyShape = { batch, classes, scale: weight / batch };
          loss = [await cache.prepare(softmaxCrossEntropy, shape, { logits: graph.logits.get(head)!, labels: inputs.labels, weights: ones, loss: losses, gradLogits: graph.gradLogits.get(head)! }, 'supervised loss')];
        } else {
          const policy = options.policy ?? { clip: 10, selfNormalize: true, baseline: 0 };
          if (policy.weighting === 'inverse' && policy.baseline > 0) {
            // −(0 − b)/p·log π(a|x) falls without bound as π(a|x) → 0: the policy would learn only to avoid logged actions.
            throw new Error(`inverse-propensity weights need a baseline ≤ 0 (got ${policy.baseline}): with a positive one the loss has no lower bound`);
          }
          inputs.actions = buffer('actions', batch * 4);
          inputs.propensities = buffer('propensities', batch * 4);
          inputs.rewards = buffer('rewards', batch * 4);
          inputs.negatives = buffer('negatives', batch * 4);
          const shape: PolicyGradientShape = { batch, classes, ...policy, scale: policy.selfNormalize ? weight : weight / batch };
          loss = [await cache.prepare(policyGradient, shape, {
            logits: graph.logits.get(head)!, actions: inputs.actions, propensities: inputs.propensities, rewards: inputs.rewards, negatives: inputs.negatives,
            loss: losses, gradLogits: graph.gradLogits.get(head)!, weights: buffer('importance weights', batch * 4),
          }, 'policy-gradient loss')];
        }
      }
      terms.push({ kind, graph, before, loss, losses, lossLog: buffer(`${kind} loss log`, LOSS_LOG_STEPS * samples * 4), samples, every: termEvery, logged: 0, clearWhenSkipped });
    }
    // Policy-head terms come first in `kinds`, so a self-supervised term reads a batch already uploaded to their input.
    const adam = await Adam.create(cache, store, options);
    return new TrainingStep(model, options, terms, inputs, adam, owned, views);
  }

  /** Changes the policy term's baseline (e.g. the running mean reward) for the next steps. */
  setBaseline(baseline: number): void {
    const term = this.terms.find((t) => t.kind === 'policy');
    if (!term) return;
    const weight = this.options.terms.policy!;
    const policy = { ...(this.options.policy ?? { clip: 10, selfNormalize: true }), baseline };
    this.options.policy = policy;
    writeParams(this.model.gpu, term.loss[0], policyGradient, { batch: this.options.batch, classes: this.model.network.heads.policy.outFeatures, ...policy, scale: policy.selfNormalize ? weight : weight / this.options.batch });
  }

  /** The step's dispatches before Adam, in order: per term its rotation, forward, loss and backward (every term, as on the first step). */
  dispatches(): Dispatch[] {
    return dispatchesOf(this.terms);
  }

  /** Uploads one batch and records and submits the whole step. */
  run(batch: StepBatch, lr?: number): void {
    const { device } = this.model.gpu;
    const write = (target: GPUBuffer | undefined, data: Float32Array | Uint32Array | undefined, name: string) => {
      if (!target) return;
      if (!data) throw new Error(`this training step needs ${name}`);
      device.queue.writeBuffer(target, 0, data);
    };
    write(this.inputs.images, batch.images, 'images');
    write(this.inputs.labels, batch.labels, 'labels');
    write(this.inputs.actions, batch.actions, 'actions');
    write(this.inputs.propensities, batch.propensities, 'propensities');
    write(this.inputs.rewards, batch.rewards, 'rewards');
    write(this.inputs.negatives, batch.negatives ?? new Float32Array(this.options.batch), 'negatives');
    if (this.inputs.pairs) {
      if (!batch.partners) throw new Error('this training step needs partners (see neighbourSet)');
      device.queue.writeBuffer(this.inputs.pairs, 0, batch.images);
      device.queue.writeBuffer(this.inputs.pairs, batch.images.byteLength, batch.partners);
    }
    const step = this.steps++;
    // Views are drawn only for the steps their term runs on: the same draws, in order, whatever selfEvery is.
    for (const { random, ranges, count, size, transforms, every } of this.views) {
      if (step % every !== 0) continue;
      const draws = new Float32Array(count * AUGMENT_TRANSFORM_SIZE);
      for (let v = 0; v < count; v++) draws.set(randomTransform(ranges, size, () => random.next()), v * AUGMENT_TRANSFORM_SIZE);
      device.queue.writeBuffer(transforms, 0, draws);
    }
    const running = this.terms.filter((term) => step % term.every === 0);
    const adam = this.adam.prepareStep(lr);
    const encoder = device.createCommandEncoder({ label: 'training step' });
    for (const term of this.terms) {
      if (step % term.every === 0) continue;
      for (const range of term.clearWhenSkipped) encoder.clearBuffer(range.buffer, range.offset, range.size);
    }
    const pass = encoder.beginComputePass({ label: 'training step' });
    record(pass, [...dispatchesOf(running), ...adam]);
    pass.end();
    for (const term of running) {
      const slot = term.logged++ % LOSS_LOG_STEPS;
      encoder.copyBufferToBuffer(term.losses, 0, term.lossLog, slot * term.samples * 4, term.samples * 4);
    }
    device.queue.submit([encoder.finish()]);
  }

  /** Frees the step's buffers (the model's parameters stay). */
  destroy(): void {
    for (const term of this.terms) {
      term.graph.destroy();
      for (const d of [...term.before, ...term.loss]) d.params.destroy();
    }
    this.adam.destroy();
    for (const buffer of this.owned) buffer.destroy();
  }

  /**
   * Mean loss per term of each step it ran since the last call (at most its last 1024): one read-back per term. A
   * term that ran on no step since (see StepOptions.selfEvery) is left out.
   */
  async drainLosses(): Promise<Partial<Record<TermKind, number[]>>> {
    const result: Partial<Record<TermKind, number[]>> = {};
    for (const term of this.terms) {
      const { logged } = term;
      term.logged = 0;
      if (logged === 0) continue;
      const steps = Math.min(logged, LOSS_LOG_STEPS);
      const log = await readFloats(this.model.gpu, term.lossLog, LOSS_LOG_STEPS * term.samples);
      const means: number[] = [];
      for (let s = logged - steps; s < logged; s++) {
        const slot = s % LOSS_LOG_STEPS;
        let sum = 0;
        for (let i = 0; i < term.samples; i++) sum += log[slot * term.samples + i];
        means.push(sum / term.samples);
      }
      result[term.kind] = means;
    }
    return result;
  }
}
