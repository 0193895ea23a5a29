// pnpm train: pretrain (self-supervised) and/or fine-tune (labels, or logged events), then export safetensors.
import { readFileSync } from 'node:fs';
import {
  getGpu, initialParameters, loadMnist, Model, nextVersion, parseEvents, PipelineCache, readModel,
  trainModel, trainNeighbourRounds, writeModel, type EpochRecord,
} from '@seed/runtime';
import { existingFile, intFlag, numberFlag, weightingFlag, parseFlags, UsageError, writeFileAtomic } from '../lib/cli';
import { trainingProgress } from '../lib/progress';
import { architectureFor, DEFAULT_NEIGHBOUR_ROUNDS, neighbourRoundsFlag, objectiveFlag, PRETRAIN_TEMPERATURE, startPolicyAtClusters } from './pretrained';
import { lineChart } from '../lib/svg';

const HELP = `pnpm train [flags]
  --pretrain-epochs N   self-supervised epochs on the 8,000 train images, no labels (default 2; 0 with --init)
  --pretrain-objective O  rotation (predict which of 4 turns), contrastive (NT-Xent between two random affine views at
                        temperature ${PRETRAIN_TEMPERATURE}, with a projection head; the policy head then starts at k-means clusters)
                        or clusters (the same, the policy head fitted to SCAN clusters); default rotation here
  --neighbour-rounds N  contrastive and clusters without labels or events: rounds of NT-Xent whose positives are each
                        image's nearest neighbours, after the pretraining epochs (default ${DEFAULT_NEIGHBOUR_ROUNDS})
  --labels N            labelled train images for the supervised warm start (default 8000; 0 with --init or --events)
  --epochs N            epochs of the supervised phase and of the events phase (default 30)
  --events FILE.ndjson  logged events (GET /v1/events export): fused policy-gradient update
  --alpha A             weight of the self-supervised loss in the events phase, in [0,1] (default 0.5)
  --weighting W         policy-gradient importance weights: inverse (1/p, default) or ratio (π/p)
  --clip C              importance weights are clipped at C (default 10)
  --init FILE           start from this weights file (its version becomes the parent)
  --batch B             batch size (default 64)
  --lr X                Adam learning rate, decayed along a cosine (default 0.002)
  --seed S              seed for initialisation and shuffling (default 1)
  --out FILE            weights file to write (default models/latest.safetensors)
  --metrics FILE        per-epoch metrics, JSON lines (default: beside --out, .metrics.jsonl)
  --plot FILE           SVG of loss and test accuracy (default: beside --out, .svg)
  --version V           version to record (default: v1, or one past the parent's)
  --backend B           vulkan | gles | auto (default: SEED_BACKEND or auto)`;

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({
    'pretrain-epochs': { type: 'string' }, 'pretrain-objective': { type: 'string' }, labels: { type: 'string' }, epochs: { type: 'string' }, events: { type: 'string' },
    alpha: { type: 'string' }, init: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' },
    out: { type: 'string' }, metrics: { type: 'string' }, plot: { type: 'string' }, version: { type: 'string' },
    backend: { type: 'string' }, weighting: { type: 'string' }, clip: { type: 'string' }, 'neighbour-rounds': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  }, argv);
  if (flags.help) {
    console.log(HELP);
    return;
  }
  const init = existingFile('init', flags.init);
  const eventsFile = existingFile('events', flags.events);
  const pretrainObjective = flags['pretrain-objective'] === undefined ? 'rotation' : objectiveFlag(flags['pretrain-objective']);
  const plan = {
    pretrainObjective,
    // The temperature the cached pretrained models use (pretrained.ts), here for the events phase's term as well.
    contrastive: { temperature: PRETRAIN_TEMPERATURE },
    pretrainEpochs: intFlag('pretrain-epochs', flags['pretrain-epochs'], init ? 0 : 2),
    labels: intFlag('labels', flags.labels, init || eventsFile ? 0 : 8000, 0, 8000),
    epochs: intFlag('epochs', flags.epochs, 30),
    alpha: numberFlag('alpha', flags.alpha, 0.5, 0, 1),
    batch: intFlag('batch', flags.batch, 64, 1, 4096),
    lr: numberFlag('lr', flags.lr, 0.002, 0, 1, { exclusiveMin: true }),
    seed: intFlag('seed', flags.seed, 1),
    policy: { weighting: weightingFlag(flags.weighting), clip: numberFlag('clip', flags.clip, 10, 1, 1e6) },
    events: eventsFile ? parseEvents(readFileSync(eventsFile, 'utf8'), eventsFile) : undefined,
  };
  const neighbourRounds = neighbourRoundsFlag(flags['neighbour-rounds']);
  if (eventsFile && plan.events!.length === 0) throw new UsageError(`--events: ${eventsFile} holds no events`);
  if (flags.backend && !['vulkan', 'gles', 'auto'].includes(flags.backend)) throw new UsageError(`--backend must be vulkan, gles or auto, got "${flags.backend}"`);
  const out = flags.out ?? 'models/latest.safetensors';
  const stem = out.replace(/\.safetensors$/, '');
  const metricsFile = flags.metrics ?? `${stem}.metrics.jsonl`;
  const plotFile = flags.plot ?? `${stem}.svg`;

  const parent = init ? await readModel(new Uint8Array(readFileSync(init))) : undefined;
  const network = parent?.network ?? architectureFor(pretrainObjective);
  const version = flags.version ?? nextVersion(parent?.metadata.version);
  const gpu = await getGpu((flags.backend as 'vulkan' | 'gles' | 'auto' | undefined) ?? undefined, (line) => console.error(line));
  const model = new Model(new PipelineCache(gpu), network, parent?.tensors ?? initialParameters(network, plan.seed));
  const data = loadMnist();
  console.error(`training ${version}${parent ? ` from ${parent.metadata.version}` : ''}: pretrain (${pretrainObjective}) ${plan.pretrainEpochs} epochs, ` +
    `${plan.labels} labels × ${plan.epochs} epochs${plan.events ? `, ${plan.events.length} events × ${plan.epochs} epochs, α=${plan.alpha}` : ''}, batch ${plan.batch}`);

  const metricLines: string[] = [];
  const started = performance.now();
  const result = await trainModel(model, data, plan, trainingProgress('', (r) => metricLines.push(JSON.stringify({ ...r, stepLosses: undefined }))));
  const clustered = pretrainObjective !== 'rotation' && plan.pretrainEpochs > 0 && plan.labels === 0 && !plan.events;
  if (clustered) {
    const onEpoch = (r: EpochRecord) => metricLines.push(JSON.stringify({ ...r, stepLosses: undefined }));
    await trainNeighbourRounds(model, data.train, { rounds: neighbourRounds, temperature: PRETRAIN_TEMPERATURE, seed: plan.seed, ...trainingProgress('', onEpoch) });
    result.testAccuracy = (await startPolicyAtClusters(model, data, plan.seed, pretrainObjective === 'clusters' ? 'scan' : 'kmeans', (line) => console.error(line))).testAccuracy;
  }
  const seconds = (performance.now() - started) / 1000;
  const metrics = {
    testAccuracy: result.testAccuracy, testImages: data.test.count, labels: plan.labels, pretrainEpochs: plan.pretrainEpochs, pretrainObjective,
    ...(clustered && { neighbourRounds }),
    epochs: plan.epochs, events: plan.events?.length ?? 0, alpha: plan.alpha, batch: plan.batch, seed: plan.seed,
    imagesPerSecond: result.imagesPerSecond, trainSeconds: Number(seconds.toFixed(1)), adapter: gpu.description,
  };
  const file = await writeModel(network, await model.tensors(), { version, parent: parent?.metadata.version ?? '', metrics });
  writeFileAtomic(out, file);
  writeFileAtomic(metricsFile, `${metricLines.join('\n')}\n`);
  writeFileAtomic(plotFile, trainingChart(result.records));
  console.log(`wrote ${out} (${version}, test accuracy ${(result.testAccuracy * 100).toFixed(2)}% on ${data.test.count} test images, ${seconds.toFixed(0)} s); metrics ${metricsFile}; plot ${plotFile}`);
}

/** Loss per term over steps (left axis) and test accuracy per epoch (right axis). */
function trainingChart(records: EpochRecord[]): string {
  const series = new Map<string, [number, number][]>();
  let offset = 0;
  const accuracy: [number, number][] = [];
  for (const r of records) {
    const steps = Object.values(r.stepLosses)[0]?.length ?? 0;
    for (const [term, losses] of Object.entries(r.stepLosses)) {
      const key = `${r.phase} ${term} loss`;
      const points = series.get(key) ?? [];
      losses!.forEach((l, i) => points.push([offset + i + 1, l]));
      series.set(key, points);
    }
    offset += steps;
    if (typeof r.testAccuracy === 'number') accuracy.push([offset, r.testAccuracy * 100]);
  }
  return lineChart({
    title: 'Training: loss per step, test accuracy per epoch', xLabel: 'step', yLabel: 'loss', rightLabel: 'test accuracy (%)',
    series: [...[...series].map(([name, points]) => ({ name, points })), { name: 'test accuracy', points: accuracy, right: true }],
  });
}

