// `pnpm --filter @seed/edge bench:engine`: the CPU engine as the edge runs it, batch-1 latency and batch-64 throughput.
// Bounded: a fixed number of runs, whatever the machine. Prints, asserts nothing.
import { buildNetwork, CpuEngine, initialParameters, Random, readModel, SEED_ARCHITECTURE, writeModel } from '@seed/runtime/engine';
import { IMAGE_PIXELS } from '../pixels';

const WARMUP_RUNS = 20;
const LATENCY_RUNS = 300;
const THROUGHPUT_BATCHES = 20;
const BATCH = 64;

const network = buildNetwork(SEED_ARCHITECTURE);
const engine = new CpuEngine(await readModel(await writeModel(network, initialParameters(network, 1), { version: 'bench' })));
const random = new Random(2);
const images = random.floats(BATCH * IMAGE_PIXELS, 0, 1);
const one = images.subarray(0, IMAGE_PIXELS);

for (let i = 0; i < WARMUP_RUNS; i++) engine.probabilities(one, 1);
const latenciesMs: number[] = [];
for (let i = 0; i < LATENCY_RUNS; i++) {
  const started = performance.now();
  engine.probabilities(one, 1);
  latenciesMs.push(performance.now() - started);
}
latenciesMs.sort((a, b) => a - b);
const quantile = (q: number) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(q * latenciesMs.length))];

engine.probabilities(images, BATCH);
const started = performance.now();
for (let i = 0; i < THROUGHPUT_BATCHES; i++) engine.probabilities(images, BATCH);
const seconds = (performance.now() - started) / 1000;

const result = {
  batch1: { runs: LATENCY_RUNS, medianMs: quantile(0.5), p99Ms: quantile(0.99) },
  batch64: { batches: THROUGHPUT_BATCHES, imagesPerSecond: (THROUGHPUT_BATCHES * BATCH) / seconds },
};
console.log(`CPU engine, batch 1: median ${result.batch1.medianMs.toFixed(2)} ms, p99 ${result.batch1.p99Ms.toFixed(2)} ms (${LATENCY_RUNS} runs)`);
console.log(`CPU engine, batch ${BATCH}: ${result.batch64.imagesPerSecond.toFixed(0)} images/s (${THROUGHPUT_BATCHES} batches)`);
console.log(JSON.stringify(result));
