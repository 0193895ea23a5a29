// Part 3: inference. The edge's WebAssembly SIMD engine at batch 1 (latency, median and p99) and batch 256 (images per
// second), against the TypeScript engine it is checked against, tfjs-wasm, tfjs-cpu and onnxruntime-node running this
// model exported to ONNX; and the WebGPU forward pass at batch 256 on both Dawn backends. All on the same MNIST test
// digits, from the same weights, on one thread.
import { simdEngineModule } from '@seed/edge/node';
import { CpuEngine, IMAGE_PIXELS, loadMnist, readModel, WasmEngine, writeModel } from '@seed/runtime';
import * as ort from 'onnxruntime-node';
import { exportOnnx } from '../interop/onnx';
import { BACKENDS, benchGpu, network, tensors } from './gpus';
import { interleave, latencies, median, pairedRatio, prepareRound, quantile, timeRounds, TS_ENGINE, unavailable, WASM_ENGINE, type Round, type Row, type Settings } from './measure';
import { TfjsNetwork, useTfjs, type TfjsBackend } from './tfjs';

const BATCH = 256;

interface Implementation {
  note: string;
  /** Logits of `count` images; resolves when they are on the CPU. */
  run(pixels: Float32Array, count: number): unknown;
  close?(): unknown;
}

export async function inferRows(settings: Settings): Promise<Row[]> {
  const { test } = loadMnist();
  const images = test.images.subarray(0, BATCH * IMAGE_PIXELS);
  // Batch-1 latency in chunks of calls, each reference's chunks in turns with the engine's (see interleave).
  const turns = settings.quick ? 5 : 10;
  const chunk = settings.quick ? 40 : 100;
  const rounds = settings.quick ? 3 : 7;
  const rows: Row[] = [];

  /** A round of `chunk` single-image calls, a different digit each (as requests would bring): their median, ms. */
  const latencyRound = (run: Implementation['run'], all: number[]): Round => {
    let next = 0;
    return async () => {
      const mine: number[] = [];
      for (let c = 0; c < chunk; c++) {
        const i = next++ % test.count;
        const pixels = test.images.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS);
        const start = performance.now();
        await run(pixels, 1);
        mine.push(performance.now() - start);
      }
      all.push(...mine);
      return median(mine);
    };
  };

  const engine = new WasmEngine(await simdEngineModule(), { network, tensors });
  const engineRun: Implementation['run'] = (p, n) => engine.logits(p, n);
  const engineNote = `WebAssembly SIMD (simd_engine.wat), as the edge runs it, tiles of ${engine.tile}; in turns with each reference`;
  const engineLatencies: number[] = [];
  const engineBatches: number[] = [];
  await latencies(() => engineRun(images.subarray(0, IMAGE_PIXELS), 1), 0, 200); // warm-up
  const engineBatch = (await prepareRound(() => engineRun(images, BATCH), async () => {}, { roundMs: 300 })).round;

  const onnx = exportOnnx(await readModel(await writeModel(network, tensors, { version: 'bench' })));
  const references: { who: string; backend: string; open(): Promise<Implementation> }[] = [
    {
      who: TS_ENGINE, backend: 'cpu',
      open: async () => {
        const reference = new CpuEngine({ network, tensors });
        return { note: 'plain TypeScript (cpu_engine.ts), f64 sums: the engine the SIMD one is tested against', run: (p, n) => reference.logits(p, n) };
      },
    },
    ...(['wasm', 'cpu'] as TfjsBackend[]).map((backend) => ({
      who: `tfjs-${backend}`, backend,
      open: async (): Promise<Implementation> => {
        const note = await useTfjs(backend);
        const net = new TfjsNetwork(network, tensors);
        return { note, run: (p, n) => net.predict(p, n), close: () => net.dispose() };
      },
    })),
    {
      who: 'onnxruntime-node', backend: 'cpu',
      open: async () => {
        const session = await ort.InferenceSession.create(onnx);
        return {
          note: 'this model exported by pnpm export-onnx, default session options',
          run: (p, n) => session.run({ pixels: new ort.Tensor('float32', p, [n, ...network.input]) }),
          close: () => session.release(),
        };
      },
    },
  ];
  for (const { who, backend, open } of references) {
    let impl: Implementation | undefined;
    try {
      impl = await open();
      const run = impl.run;
      await latencies(() => run(images.subarray(0, IMAGE_PIXELS), 1), 0, 100); // warm-up
      const mine: number[] = [];
      const [engineTurns, referenceTurns] = await interleave([latencyRound(engineRun, engineLatencies), latencyRound(run, mine)], turns);
      rows.push({
        part: 'infer', what: 'inference, batch 1', who, backend,
        figures: { median: { value: median(mine), unit: 'ms' }, p99: { value: quantile(mine, 0.99), unit: 'ms' } },
        samples: mine.length, note: impl.note, seedFaster: { cpu: pairedRatio(referenceTurns, engineTurns) },
      });
      const batchRound = (await prepareRound(() => run(images, BATCH), async () => {}, { roundMs: 300 })).round;
      const [engineBatchTurns, batchTurns] = await interleave([engineBatch, batchRound], rounds);
      engineBatches.push(...engineBatchTurns);
      rows.push({ ...throughputRow(who, backend, median(batchTurns), rounds, impl.note), seedFaster: { cpu: pairedRatio(batchTurns, engineBatchTurns) } });
    } catch (error) {
      rows.push(unavailable('infer', 'inference', who, backend, error));
    } finally {
      await impl?.close?.();
    }
  }
  if (engineLatencies.length === 0) engineLatencies.push(...(await latencies(() => engineRun(images.subarray(0, IMAGE_PIXELS), 1), turns * chunk, 0)).times);
  if (engineBatches.length === 0) engineBatches.push(...(await interleave([engineBatch], rounds))[0]);
  rows.unshift(
    {
      part: 'infer', what: 'inference, batch 1', who: WASM_ENGINE, backend: 'cpu',
      figures: { median: { value: median(engineLatencies), unit: 'ms' }, p99: { value: quantile(engineLatencies, 0.99), unit: 'ms' } },
      samples: engineLatencies.length, note: engineNote,
    },
    throughputRow(WASM_ENGINE, 'cpu', median(engineBatches), engineBatches.length, engineNote),
  );

  for (const backend of BACKENDS) {
    try {
      const g = await benchGpu(backend);
      g.model.store.upload(tensors);
      const timed = await timeRounds(() => g.model.logits(images, BATCH), async () => {}, { rounds, roundMs: 300 });
      rows.push(throughputRow('seed WebGPU forward', backend, timed.ms, rounds, `upload, one submit, read-back of the logits; ${g.gpu.description}`));
    } catch (error) {
      rows.push(unavailable('infer', `inference, batch ${BATCH}`, 'seed WebGPU forward', backend, error));
    }
  }
  return rows;
}

function throughputRow(who: string, backend: string, ms: number, samples: number, note: string): Row {
  return {
    part: 'infer', what: `inference, batch ${BATCH}`, who, backend,
    figures: { throughput: { value: (BATCH / ms) * 1000, unit: 'img/s' }, batch: { value: ms, unit: 'ms' } },
    samples, note,
  };
}
