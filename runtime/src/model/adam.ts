// Adam (AdamW-style decoupled weight decay) over the single parameter buffer: one dispatch per step.
import { adamUpdate, type AdamShape } from '@seed/kernels';
import { writeParams, type Dispatch, type PipelineCache } from '../gpu/pipelines';
import type { ParameterStore } from './parameters';

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
}

export class Adam {
  private shape: AdamShape;

  private constructor(private readonly cache: PipelineCache, readonly dispatch: Dispatch, shape: AdamShape) {
    this.shape = shape;
  }

  static async create(cache: PipelineCache, store: ParameterStore, options: AdamOptions): Promise<Adam> {
    const shape: AdamShape = {
      count: store.count, lr: options.lr, beta1: options.beta1 ?? 0.9, beta2: options.beta2 ?? 0.999,
      epsilon: options.epsilon ?? 1e-8, weightDecay: options.weightDecay ?? 0, step: 1,
    };
    const dispatch = await cache.prepare(adamUpdate, shape, { grads: store.grads, params: store.params, state: store.state }, 'adam update');
    return new Adam(cache, dispatch, shape);
  }

  get step(): number {
    return this.shape.step - 1;
  }

  /** Sets the step's bias correction (and learning rate) before the submit that records `dispatch`. */
  prepareStep(lr = this.shape.lr): Dispatch {
    writeParams(this.cache.gpu, this.dispatch, adamUpdate, { ...this.shape, lr });
    this.shape = { ...this.shape, step: this.shape.step + 1 };
    return this.dispatch;
  }
}
