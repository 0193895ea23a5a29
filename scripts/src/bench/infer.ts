// Part 3: inference. The edge's CPU engine at batch 1 (latency, median and p99) and batch 256 (images per second),
// against tfjs-wasm, tfjs-cpu and onnxruntime-node running this model exported to ONNX; and the WebGPU forward pass at
// batch 256 on both Dawn backends. All on the same MNIST test digits, from the same weights.
import { CpuEngine, loadMnist, readModel, writeModel } from '@seed/runtime';
import * as ort from 'onnxruntime-node';
import { exportOnnx } from '../onnx';
import { BACKENDS, benchGpu, network, tensors } from './gpus';
import { latencies, timeRounds, unavailable, type Row, type Settings } from './measure';
import { TfjsNetwork, useTfjs, type TfjsBackend } from './tfjs';

const BATCH = 256;
const PIXELS = 784;

interface Implementation {
  note: string;
  /** Logits of `count` images; resolves when they are on the CPU. */
  run(pixels: Float32Array, count: number): unknown;
  close?(): unknown;
}

export async function inferRows(settings: Settings): Promise<Row[]> {
  const { test } = loadMnist();
  const images = test.images.subarray(0, BATCH * PIXELS);
  const latencyRuns = settings.quick ? 200 : 1000;
  const rounds = settings.quick ? 3 : 7;
  const rows: Row[] = [];

  const engine = new CpuEngine({ network, tensors });
  const onnx = exportOnnx(await readModel(await writeModel(network, tensors, { version: 'bench' })));
  const implementations: { who: string; backend: string; open(): Promise<Implementation> }[] = [
    { who: 'seed CPU engine', backend: 'cpu', open: async () => ({ note: 'plain TypeScript, as the edge runs it', run: (p, n) => engine.logits(p, n) }) },
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
  for (const { who, backend, open } of implementations) {
    let impl: Implementation | undefined;
    try {
      impl = await open();
      const run = impl.run;
      let next = 0;
      // A different digit each call, as requests would bring.
      const one = () => {
        const i = next++ % test.count;
        return run(test.images.subarray(i * PIXELS, (i + 1) * PIXELS), 1);
      };
      const latency = await latencies(one, latencyRuns, Math.min(100, latencyRuns));
      rows.push({ part: 'infer', what: 'inference, batch 1', who, backend, figures: { median: { value: latency.median, unit: 'ms' }, p99: { value: latency.p99, unit: 'ms' } }, samples: latency.runs, note: impl.note });
      const timed = await timeRounds(() => run(images, BATCH), async () => {}, { rounds, roundMs: 300 });
      rows.push(throughputRow(who, backend, timed.ms, rounds, impl.note));
    } catch (error) {
      rows.push(unavailable('infer', 'inference', who, backend, error));
    } finally {
      await impl?.close?.();
    }
  }

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
