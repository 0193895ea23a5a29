// The trunk as fused stages, planned once for the GPU graph and the CPU engine alike: a convolution takes the ReLU
// after it and, where the caller allows, the max pool after that (ReLU and max commute, so ReLU can run on the pooled
// values); a dense layer takes its ReLU. Whatever is not fused stays a stage of its own.
import type { Network } from './architecture';

type TrunkLayer = Network['trunk'][number]['layer'];

/** One stage of the planned trunk; `at` (and `pool`) index Network.trunk. */
export type Stage =
  | { kind: 'conv2d'; at: number; relu: boolean; pool?: number }
  | { kind: 'dense'; at: number; relu: boolean }
  | { kind: 'relu'; at: number }
  | { kind: 'maxpool2d'; at: number }
  | { kind: 'flatten'; at: number };

export type StageKind = Stage['kind'];

/** The end of every switch over layer or stage kinds: a kind added to the union and not handled fails to compile. */
export function assertNever(value: never, what: string): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(value)}`);
}

/**
 * Plans the trunk's stages. `canFusePool(conv, pool)` says whether the convolution at trunk index `conv` may take the
 * max pool at `pool` (the CPU engine always can; the WASM engine when the windows do not overlap; the GPU graph, when
 * training, only where its kernels allow).
 */
export function planStages(trunk: Network['trunk'], canFusePool: (conv: number, pool: number) => boolean): Stage[] {
  const stages: Stage[] = [];
  const kindAt = (i: number): TrunkLayer['kind'] | undefined => trunk[i]?.layer.kind;
  for (let at = 0; at < trunk.length; at++) {
    const layer = trunk[at].layer;
    switch (layer.kind) {
      case 'conv2d': {
        const relu = kindAt(at + 1) === 'relu';
        const poolAt = relu ? at + 2 : at + 1;
        const pool = kindAt(poolAt) === 'maxpool2d' && canFusePool(at, poolAt) ? poolAt : undefined;
        stages.push({ kind: 'conv2d', at, relu, pool });
        at = pool ?? (relu ? at + 1 : at);
        break;
      }
      case 'dense': {
        const relu = kindAt(at + 1) === 'relu';
        stages.push({ kind: 'dense', at, relu });
        if (relu) at++;
        break;
      }
      case 'relu':
      case 'maxpool2d':
      case 'flatten':
        stages.push({ kind: layer.kind, at });
        break;
      default:
        assertNever(layer, 'layer kind');
    }
  }
  return stages;
}

/** The trunk index whose output a stage produces (its last fused layer). */
export function stageEnd(stage: Stage): number {
  switch (stage.kind) {
    case 'conv2d':
      return stage.pool ?? (stage.relu ? stage.at + 1 : stage.at);
    case 'dense':
      return stage.relu ? stage.at + 1 : stage.at;
    case 'relu':
    case 'maxpool2d':
    case 'flatten':
      return stage.at;
    default:
      return assertNever(stage, 'stage kind');
  }
}
