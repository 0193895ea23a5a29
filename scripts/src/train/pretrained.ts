// The rotation-pretrained model for a seed and epoch count, trained once and cached under models/ (the main job and
// the label-budget experiment share it). A cached file that no longer reads is trained again.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildNetwork, getGpu, initialParameters, loadMnist, Model, PipelineCache, readModel, SEED_ARCHITECTURE, trainModel, writeModel,
} from '@seed/runtime';
import { writeFileAtomic } from '../lib/cli';
import { ROOT_DIR } from '../lib/paths';
import { trainingProgress } from '../lib/progress';


export interface PretrainSettings {
  pretrainEpochs: number;
  /** Labelled images for an optional supervised warm start after pretraining (8 epochs). */
  labels: number;
  seed: number;
}

export async function pretrainedModel(settings: PretrainSettings, log: (line: string) => void = console.log): Promise<{ file: Uint8Array; testAccuracy: number }> {
  // `h`: the labelled warm start skips the images the gate holds out (the main job evaluates on them).
  const path = join(ROOT_DIR, 'models', `pretrained-e${settings.pretrainEpochs}-l${settings.labels}${settings.labels ? 'h' : ''}-s${settings.seed}.safetensors`);
  if (existsSync(path)) {
    try {
      const bytes = new Uint8Array(readFileSync(path));
      const model = await readModel(bytes);
      log(`reusing ${path}`);
      return { file: bytes, testAccuracy: Number(model.metadata.metrics.testAccuracy) };
    } catch (error) {
      log(`retraining: ${(error as Error).message}`);
    }
  }
  const gpu = await getGpu(undefined, log);
  const network = buildNetwork(SEED_ARCHITECTURE);
  const model = new Model(new PipelineCache(gpu), network, initialParameters(network, settings.seed));
  const result = await trainModel(model, loadMnist(), { ...settings, heldOutSalt: '', epochs: settings.labels ? 8 : 0, alpha: 0.5, batch: 64, lr: 0.002 }, trainingProgress('pretrain '));
  const file = await writeModel(network, await model.tensors(), {
    version: 'v1', metrics: { testAccuracy: result.testAccuracy, labels: settings.labels, pretrainEpochs: settings.pretrainEpochs },
  });
  await model.destroy();
  writeFileAtomic(path, file);
  return { file, testAccuracy: result.testAccuracy };
}
