// Adam (AdamW-style decoupled weight decay) over the single parameter buffer: one dispatch per step, or one per
// group of tensors when the trunk learns at its own rate (a scale of 0 freezes it: a linear probe).
import { adamUpdate, type AdamShape } from '@seed/kernels';
import { writeParams, type Dispatch, type PipelineCache } from '../gpu/pipelines';
import type { ParameterStore } from './parameters';

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
  /** Learning rate of the trunk (every layer before the heads) as a fraction of `lr`; 0 freezes it. Default 1. */
  trunkLrScale?: number;
}

interface Group {
  dispatch: Dispatch;
  shape: AdamShape;
  lrScale: number;
}

export class Adam {
  private step_ = 1;

  private constructor(private readonly cache: PipelineCache, private readonly groups: Group[], private readonly lr: number) {}

  static async create(cache: PipelineCache, store: ParameterStore, options: AdamOptions): Promise<Adam> {
    const trunkLrScale = options.trunkLrScale ?? 1;
    if (!(trunkLrScale >= 0 && trunkLrScale <= 1)) throw new Error(`trunkLrScale must be in [0, 1], not ${trunkLrScale}`);
    const shape = (count: number): AdamShape => ({
      count, lr: options.lr, beta1: options.beta1 ?? 0.9, beta2: options.beta2 ?? 0.999,
      epsilon: options.epsilon ?? 1e-8, weightDecay: options.weightDecay ?? 0, step: 1,
    });
    // [start, end) in floats of each group; the heads follow the trunk in the buffer.
    const ranges: { start: number; end: number; lrScale: number; label: string }[] = [];
    if (trunkLrScale === 1) {
      ranges.push({ start: 0, end: store.count, lrScale: 1, label: 'adam update' });
    } else {
      const headNames = new Set(Object.values(store.network.heads).flatMap((h) => (h ? [`${h.name}.weight`, `${h.name}.bias`] : [])));
      const slots = [...store.slots.values()];
      const firstHead = slots.findIndex((s) => headNames.has(s.name));
      if (firstHead <= 0 || slots.slice(firstHead).some((s) => !headNames.has(s.name))) {
        throw new Error('a trunk learning rate needs the trunk tensors first and the heads after them');
      }
      const split = slots[firstHead].offset;
      if (trunkLrScale > 0) ranges.push({ start: 0, end: split, lrScale: trunkLrScale, label: 'adam update (trunk)' });
      ranges.push({ start: split, end: store.count, lrScale: 1, label: 'adam update (heads)' });
    }
    const groups: Group[] = [];
    for (const { start, end, lrScale, label } of ranges) {
      const count = end - start;
      const s = shape(count);
      const dispatch = await cache.prepare(adamUpdate, s, {
        grads: { buffer: store.grads, offset: start * 4, size: count * 4 },
        params: { buffer: store.params, offset: start * 4, size: count * 4 },
        state: { buffer: store.state, offset: start * 8, size: count * 8 },
      }, label);
      groups.push({ dispatch, shape: s, lrScale });
    }
    return new Adam(cache, groups, options.lr);
  }

  get step(): number {
    return this.step_ - 1;
  }

  /** The update's dispatches, one per group of tensors. */
  get dispatches(): Dispatch[] {
    return this.groups.map((g) => g.dispatch);
  }

  /** Sets the step's bias correction (and learning rate) before the submit that records `dispatches`. */
  prepareStep(lr = this.lr): Dispatch[] {
    for (const group of this.groups) {
      writeParams(this.cache.gpu, group.dispatch, adamUpdate, { ...group.shape, lr: lr * group.lrScale, step: this.step_ });
    }
    this.step_++;
    return this.dispatches;
  }

  destroy(): void {
    for (const group of this.groups) group.dispatch.params.destroy();
  }
}
