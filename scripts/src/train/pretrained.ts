// The self-supervised model for an objective, seed and epoch count, trained once and cached under models/ (the main
// job and the experiments share it); the file name carries the objective. A cached file that no longer reads is
// trained again. The `clusters` model is the contrastive one (cached too) with its policy head fitted to SCAN clusters.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildNetwork, clusterHead, getGpu, neighbourSet, runEpochs, scanPolicyHead, TrainingStep, trainNeighbourRounds, initialParameters, loadMnist, Model, PipelineCache, PRETRAIN_OBJECTIVES, readModel, SEED_ARCHITECTURE, trainModel,
  withProjectionHead, writeModel, type MnistSplit, type PretrainObjective,
} from '@seed/runtime';
import { intFlag, UsageError, writeFileAtomic } from '../lib/cli';
import { ROOT_DIR } from '../lib/paths';
import { trainingProgress } from '../lib/progress';

/** The objective `pnpm start` and the experiments pretrain with unless told otherwise: the one measured best. */
export const DEFAULT_OBJECTIVE: PretrainObjective = 'clusters';

/** Epochs of each objective unless told otherwise (see docs/evolution.md, "Figures", for how they were chosen). */
export const DEFAULT_PRETRAIN_EPOCHS: Record<PretrainObjective, number> = { rotation: 15, contrastive: 8, clusters: 8 };

/** Adam's rate in the GPU clustering epochs (clusterEpochs). */
const CLUSTER_TUNING_LR = 0.001;

/**
 * Rounds of NT-Xent with nearest-neighbour positives after contrastive pretraining without labels, unless told
 * otherwise: seeds 1–3, linear probe 96.10% → 97.10% on average, against 96.62% for as many more epochs of plain
 * NT-Xent (docs/evolution.md, "Fourteenth round").
 */
export const DEFAULT_NEIGHBOUR_ROUNDS = 2;

/** NT-Xent's temperature in contrastive pretraining unless told otherwise (see docs/evolution.md, "Figures"). */
export const PRETRAIN_TEMPERATURE = 0.2;

/** `--neighbour-rounds N`: 0–10, default DEFAULT_NEIGHBOUR_ROUNDS (every command that pretrains reads it alike). */
export function neighbourRoundsFlag(value: string | undefined): number {
  return intFlag('neighbour-rounds', value, DEFAULT_NEIGHBOUR_ROUNDS, 0, 10);
}

export function objectiveFlag(value: string | undefined): PretrainObjective {
  if (value === undefined) return DEFAULT_OBJECTIVE;
  if (!(PRETRAIN_OBJECTIVES as readonly string[]).includes(value)) throw new UsageError(`--pretrain-objective must be ${PRETRAIN_OBJECTIVES.join(' or ')}, got "${value}"`);
  return value as PretrainObjective;
}

/** The seed network, with a projection head when the objective is contrastive (or clusters, which starts from it). */
export function architectureFor(objective: PretrainObjective) {
  return buildNetwork(objective === 'rotation' ? SEED_ARCHITECTURE : withProjectionHead(SEED_ARCHITECTURE, 64));
}

/** How the policy head is set to clusters: spherical k-means centres, or a SCAN head (runtime/src/train/clusters.ts). */
export type ClusterMethod = 'kmeans' | 'scan';

/**
 * Sets the policy head to the clusters of the train images' features (no labels read), so that rewards only have to
 * name them; returns the model's test accuracy afterwards, and with SCAN the neighbours the head was fitted on.
 */
export async function startPolicyAtClusters(model: Model, data: MnistSplit, seed: number, method: ClusterMethod = 'kmeans', log: (line: string) => void = () => {}): Promise<{ testAccuracy: number; neighbours?: Int32Array }> {
  const { network } = model;
  const features = await model.features(data.train.images, data.train.count);
  const k = network.heads.policy.outFeatures;
  let head: { weight: Float32Array; bias: Float32Array; neighbours?: Int32Array };
  if (method === 'scan') {
    const started = performance.now();
    const scan = scanPolicyHead(features, data.train.count, network.features, { classes: k, seed });
    log(`SCAN heads' losses ${scan.fit.heads.map((h) => h.loss.toFixed(3)).join(', ')}: kept ${scan.fit.loss.toFixed(3)} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    head = scan;
  } else {
    head = clusterHead(features, data.train.count, network.features, k, { seed });
  }
  const tensors = await model.tensors();
  tensors.set(`${network.heads.policy.name}.weight`, head.weight);
  tensors.set(`${network.heads.policy.name}.bias`, head.bias);
  model.store.upload(tensors);
  return { testAccuracy: await model.accuracy(data.test.images, data.test.labels), neighbours: head.neighbours };
}

export interface PretrainSettings {
  pretrainEpochs: number;
  pretrainObjective: PretrainObjective;
  /** Labelled images for an optional supervised warm start after pretraining (8 epochs). */
  labels: number;
  seed: number;
  /** NT-Xent's temperature (contrastive and clusters; default PRETRAIN_TEMPERATURE). */
  temperature?: number;
  /**
   * clusters only: epochs of the GPU clustering term (scan_loss on warped image–neighbour pairs, with NT-Xent at
   * weight 0.2) after the head is fitted, trunk included (default 0: measured to lower the clusters, see
   * docs/evolution.md).
   */
  clusterEpochs?: number;
  /**
   * contrastive and clusters without labels: rounds of NT-Xent with nearest-neighbour positives after the
   * pretraining epochs (trainNeighbourRounds; default DEFAULT_NEIGHBOUR_ROUNDS).
   */
  neighbourRounds?: number;
}

/** The neighbour rounds a setting trains: none for rotation, for a labelled warm start or without pretraining. */
export function neighbourRoundsOf(settings: PretrainSettings): number {
  if (settings.pretrainObjective === 'rotation' || settings.labels > 0 || settings.pretrainEpochs === 0) return 0;
  return settings.neighbourRounds ?? DEFAULT_NEIGHBOUR_ROUNDS;
}

export async function pretrainedModel(settings: PretrainSettings, log: (line: string) => void = console.log): Promise<{ file: Uint8Array; testAccuracy: number; path: string }> {
  const { pretrainObjective: objective } = settings;
  const temperature = settings.temperature ?? PRETRAIN_TEMPERATURE;
  // `t`: the contrastive temperature; `h`: the labelled warm start skips the images the gate holds out (the main job evaluates on them).
  // `c`: epochs of the GPU clustering term after the SCAN head (clusters only).
  // `n`: rounds of NT-Xent with nearest-neighbour positives (contrastive and clusters, no labels).
  const tuned = objective === 'clusters' && settings.clusterEpochs ? `-c${settings.clusterEpochs}` : '';
  const rounds = neighbourRoundsOf(settings);
  const path = join(ROOT_DIR, 'models', `pretrained-${objective}${objective !== 'rotation' ? `-t${temperature}` : ''}-e${settings.pretrainEpochs}${rounds ? `-n${rounds}` : ''}${tuned}-l${settings.labels}${settings.labels ? 'h' : ''}-s${settings.seed}.safetensors`);
  if (existsSync(path)) {
    try {
      const bytes = new Uint8Array(readFileSync(path));
      const model = await readModel(bytes);
      log(`reusing ${path}`);
      return { file: bytes, testAccuracy: Number(model.metadata.metrics.testAccuracy), path };
    } catch (error) {
      log(`retraining: ${(error as Error).message}`);
    }
  }
  if (objective === 'clusters') return clustersFromContrastive(settings, temperature, path, log);
  if (rounds > 0) return neighboursFromContrastive(settings, rounds, temperature, path, log);
  const gpu = await getGpu(undefined, log);
  const started = performance.now();
  const data = loadMnist();
  const network = architectureFor(objective);
  const model = new Model(new PipelineCache(gpu), network, initialParameters(network, settings.seed));
  const result = await trainModel(model, data, {
    pretrainEpochs: settings.pretrainEpochs, pretrainObjective: objective, labels: settings.labels, seed: settings.seed, contrastive: { temperature },
    heldOutSalt: '', epochs: settings.labels ? 8 : 0, alpha: 0.5, batch: 64, lr: 0.002,
  }, trainingProgress(`pretrain (${objective}) `));
  if (objective === 'contrastive' && settings.pretrainEpochs > 0 && settings.labels === 0) result.testAccuracy = (await startPolicyAtClusters(model, data, settings.seed)).testAccuracy;
  const tensors = await model.tensors();
  const file = await writeModel(network, tensors, {
    version: 'v1', metrics: {
      testAccuracy: result.testAccuracy, labels: settings.labels, pretrainEpochs: settings.pretrainEpochs, pretrainObjective: objective,
      ...(objective === 'contrastive' && { temperature }), pretrainSeconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    },
  });
  await model.destroy();
  writeFileAtomic(path, file);
  return { file, testAccuracy: result.testAccuracy, path };
}

/**
 * The contrastive model with neighbour rounds: the plain contrastive model of the same settings (cached), trained
 * `rounds` rounds of NT-Xent with nearest-neighbour positives, its policy head set to k-means clusters again.
 */
async function neighboursFromContrastive(settings: PretrainSettings, rounds: number, temperature: number, path: string, log: (line: string) => void): Promise<{ file: Uint8Array; testAccuracy: number; path: string }> {
  const plain = await readModel((await pretrainedModel({ ...settings, neighbourRounds: 0 }, log)).file);
  const started = performance.now();
  const data = loadMnist();
  const model = new Model(new PipelineCache(await getGpu(undefined, log)), plain.network, plain.tensors);
  await trainNeighbourRounds(model, data.train, {
    rounds, temperature, seed: settings.seed, ...trainingProgress('pretrain (neighbours) '),
    onNeighbours: (round) => log(`neighbour round ${round}/${rounds}: each image's 20 nearest neighbours on the current features`),
  });
  const { testAccuracy } = await startPolicyAtClusters(model, data, settings.seed);
  const file = await writeModel(plain.network, await model.tensors(), {
    version: 'v1', metrics: {
      ...plain.metadata.metrics, testAccuracy, neighbourRounds: rounds,
      neighbourSeconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    },
  });
  await model.destroy();
  writeFileAtomic(path, file);
  return { file, testAccuracy, path };
}

/**
 * The `clusters` model: the contrastive model of the same settings (cached), its policy head fitted to SCAN clusters
 * of the train images' features (labels unread). With labels the warm start has already named the digits, so the
 * contrastive model is kept as it is.
 */
async function clustersFromContrastive(settings: PretrainSettings, temperature: number, path: string, log: (line: string) => void): Promise<{ file: Uint8Array; testAccuracy: number; path: string }> {
  const contrastive = await pretrainedModel({ ...settings, pretrainObjective: 'contrastive', clusterEpochs: 0 }, log);
  const parsed = await readModel(contrastive.file);
  const started = performance.now();
  const data = loadMnist();
  const model = new Model(new PipelineCache(await getGpu(undefined, log)), parsed.network, parsed.tensors);
  let testAccuracy = contrastive.testAccuracy;
  if (settings.pretrainEpochs > 0 && settings.labels === 0) {
    const start = await startPolicyAtClusters(model, data, settings.seed, 'scan', log);
    testAccuracy = start.testAccuracy;
    if (settings.clusterEpochs && start.neighbours) {
      const { neighbours } = start;
      model.store.resetOptimizer();
      const step = await TrainingStep.create(model, {
        batch: 64, lr: CLUSTER_TUNING_LR, terms: { clusters: 0.8, contrastive: 0.2 },
        clusters: { seed: settings.seed }, contrastive: { temperature, seed: settings.seed, images: 32 },
      });
      await runEpochs(step, neighbourSet(data.train, neighbours, { seed: settings.seed }), {
        phase: 'clusters', epochs: settings.clusterEpochs, seed: settings.seed, lr: CLUSTER_TUNING_LR, ...trainingProgress('pretrain (clusters) '),
      });
      step.destroy();
      testAccuracy = await model.accuracy(data.test.images, data.test.labels);
    }
  }
  const file = await writeModel(parsed.network, await model.tensors(), {
    version: 'v1', metrics: {
      ...parsed.metadata.metrics, testAccuracy, pretrainObjective: 'clusters',
      clusterSeconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    },
  });
  await model.destroy();
  writeFileAtomic(path, file);
  return { file, testAccuracy, path };
}
