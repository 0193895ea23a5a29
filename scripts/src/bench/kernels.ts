// Part 1: every WGSL kernel at the model's real shapes (the training step at batch 64), the dense kernel at 1024³, and
// two ceilings from the same run: the best matrix-product rate reached on each adapter, and the CPU's.
import {
  conv2dBackwardInput, denseBackwardWeight, denseForward, maxPool2dBackward, maxPool2dForward, reluForward,
  type Conv2dShape, type DenseShape, type KernelDef,
} from '@seed/kernels';
import { createStorage, record, TrainingStep, type Dispatch } from '@seed/runtime';
import * as ort from 'onnxruntime-node';
import { cpus } from 'node:os';
import { encodeOnnx } from '../interop/onnx';
import { BACKENDS, benchGpu, network, type BenchGpu } from './gpus';
import { interleave, median, pairedRatio, prepareRound, unavailable, type Round, type Row, type Settings } from './measure';
import { tf, useTfjs } from './tfjs';

const STEP_BATCH = 64;
const DENSE = 1024;

interface Timed {
  ms: number;
  rounds: number;
}

/** A round of one dispatch repeated in one compute pass, enough times for about 50 ms; ms per dispatch. */
async function dispatchRound(g: BenchGpu, dispatch: Dispatch): Promise<Round> {
  const { device } = g.gpu;
  const submit = (times: number) => {
    const encoder = device.createCommandEncoder({ label: `bench ${dispatch.name}` });
    const pass = encoder.beginComputePass();
    record(pass, Array.from({ length: times }, () => dispatch));
    pass.end();
    device.queue.submit([encoder.finish()]);
  };
  const settle = () => device.queue.onSubmittedWorkDone();
  // One untimed dispatch: the warm-up, and how many make a round.
  const start = performance.now();
  submit(1);
  await settle();
  const times = Math.max(1, Math.min(256, Math.round(50 / Math.max(performance.now() - start, 0.01))));
  const { round } = await prepareRound(() => submit(times), settle, { reps: 1, warm: true });
  return async () => (await round()) / times;
}

async function timeDispatch(g: BenchGpu, dispatch: Dispatch, rounds: number): Promise<Timed> {
  const [times] = await interleave([await dispatchRound(g, dispatch)], rounds);
  return { ms: median(times), rounds };
}

function kernelRow(what: string, backend: string, dispatch: Dispatch, timed: Timed, note: string): Row {
  const { flops, bytes } = dispatch.work;
  return {
    part: 'kernels', what, who: 'seed', backend,
    figures: {
      time: { value: timed.ms, unit: 'ms' },
      compute: { value: flops / timed.ms / 1e6, unit: 'GFLOP/s' },
      memory: { value: bytes / timed.ms / 1e6, unit: 'GB/s' },
    },
    samples: timed.rounds, note,
  };
}

/** A kernel alone on fresh buffers sized by `sizes` (floats per binding). */
async function standalone<S>(g: BenchGpu, kernel: KernelDef<S>, shape: S, sizes: Record<string, number>, label: string): Promise<Dispatch> {
  const buffers = Object.fromEntries(Object.entries(sizes).map(([name, floats]) => [name, createStorage(g.gpu, `${label} ${name}`, floats * 4)]));
  return g.cache.prepare(kernel, shape, buffers, label);
}

export async function kernelRows(settings: Settings): Promise<Row[]> {
  const rounds = settings.quick ? 3 : 7;
  const rows: Row[] = [];
  for (const backend of BACKENDS) {
    let g: BenchGpu;
    try {
      g = await benchGpu(backend);
    } catch (error) {
      rows.push(unavailable('kernels', 'every kernel', 'seed', backend, error));
      continue;
    }
    settings.log(`kernels on ${g.gpu.description}`);
    // The supervised step's dispatches, then those only the fused (rotation + policy-gradient) step has.
    const supervised = await TrainingStep.create(g.model, { batch: STEP_BATCH, terms: { supervised: 1 }, lr: 1e-3 });
    const fused = await TrainingStep.create(g.model, { batch: STEP_BATCH, terms: { rotation: 0.5, policy: 0.5 }, lr: 1e-3 });
    const seen = new Set<GPUComputePipeline>();
    const dispatches: [Dispatch, string][] = [];
    for (const d of [...supervised.dispatches(), ...supervised.adam.dispatches]) {
      seen.add(d.pipeline);
      dispatches.push([d, `supervised step, batch ${STEP_BATCH}`]);
    }
    for (const d of fused.dispatches()) {
      if (seen.has(d.pipeline)) continue;
      seen.add(d.pipeline);
      dispatches.push([d, `rotation + policy-gradient step, batch ${STEP_BATCH}`]);
    }
    // Kernels the seed network fuses away when training (its only convolution has no input gradient, its ReLU and pool
    // run inside the convolution): timed alone at the shapes they would have there.
    const [c, h, w] = network.input;
    const conv = network.trunk[0].layer as { outChannels: number; kernelSize: number };
    const convShape: Conv2dShape = { batch: STEP_BATCH, inChannels: c, outChannels: conv.outChannels, height: h, width: w, kernelSize: conv.kernelSize, stride: 1, padding: 0 };
    const oh = h - conv.kernelSize + 1;
    const convOut = STEP_BATCH * conv.outChannels * oh * oh;
    const poolShape = { batch: STEP_BATCH, channels: conv.outChannels, height: oh, width: oh, kernelSize: 2, stride: 2 };
    const pooled = convOut / 4;
    const unfused = 'unfused, at the seed convolution\'s shapes';
    dispatches.push(
      [await standalone(g, reluForward, { count: convOut }, { x: convOut, y: convOut }, 'relu forward'), unfused],
      [await standalone(g, maxPool2dForward, poolShape, { input: convOut, output: pooled, argmax: pooled }, 'maxpool forward'), unfused],
      [await standalone(g, maxPool2dBackward, poolShape, { gradOutput: pooled, argmax: pooled, gradInput: convOut }, 'maxpool backward'), unfused],
      [await standalone(g, conv2dBackwardInput, convShape, { gradOutput: convOut, weight: conv.outChannels * c * conv.kernelSize ** 2, gradInput: STEP_BATCH * c * h * w }, 'conv backward input'), unfused],
    );
    for (const [d, note] of dispatches) rows.push(kernelRow(d.name, backend, d, await timeDispatch(g, d, rounds), `${note}; ${d.workgroups.join('×')} workgroups`));

    // Matrix products: dense forward at 1024³ (the target's figure), and the transposed-operand product the weight
    // gradient uses; the best of them (and of tfjs-webgpu's) is this adapter's ceiling in this run.
    // A second each on llvmpipe: fewer rounds in a quick run.
    const productRounds = settings.quick ? 3 : rounds;
    const dense: DenseShape = { batch: DENSE, inFeatures: DENSE, outFeatures: DENSE };
    const square = DENSE * DENSE;
    const products: Row[] = [];
    const forward = await standalone(g, denseForward, dense, { input: square, weight: square, bias: DENSE, output: square }, 'dense forward');
    // In turns with tfjs-webgpu's matMul on the same adapter (the target's ratio).
    const tfjs = await tfjsMatMul(backend, settings);
    const [seedTimes, tfjsTimes] = await interleave([await dispatchRound(g, forward), ...(tfjs.round ? [tfjs.round] : [])], productRounds);
    products.push(kernelRow(`dense ${DENSE}×${DENSE}×${DENSE}`, backend, forward, { ms: median(seedTimes), rounds: productRounds }, 'dense_forward: X·Wᵀ + b, in turns with tfjs-webgpu\'s matMul'));
    tfjs.dispose();
    const tfjsProduct = tfjsTimes ? tfjsRow(backend, tfjsTimes, pairedRatio(tfjsTimes, seedTimes)) : tfjs.unavailable!;
    if (!settings.quick) {
      const transposed = await standalone(g, denseBackwardWeight, dense, { gradOutput: square, input: square, gradWeight: square }, 'dense matmul');
      products.push(kernelRow(`matmul ${DENSE}×${DENSE}×${DENSE}, Aᵀ·B`, backend, transposed, await timeDispatch(g, transposed, productRounds), 'dense_matmul (the weight gradient\'s form)'));
    }
    rows.push(...products, tfjsProduct);
    const candidates = [...products, tfjsProduct].filter((r) => r.figures.compute);
    const best = candidates.reduce((a, b) => (b.figures.compute.value > a.figures.compute.value ? b : a));
    rows.push({
      part: 'kernels', what: 'ceiling: best matmul', who: best.who, backend, figures: { compute: best.figures.compute },
      note: `best of the matrix products above on ${g.gpu.description}: ${best.what}`,
    });
    supervised.destroy();
    fused.destroy();
  }
  rows.push(await cpuCeiling(rounds));
  return rows;
}

/** tfjs-webgpu's matMul at 1024³ on a device of the same Dawn adapter, ready to take turns (or why it cannot). */
async function tfjsMatMul(backend: 'vulkan' | 'gles', settings: Settings): Promise<{ round?: Round; unavailable?: Row; dispose(): void }> {
  try {
    settings.log(await useTfjs(`webgpu-${backend}`));
    const a = tf.randomUniform([DENSE, DENSE]);
    const b = tf.randomUniform([DENSE, DENSE]);
    const pending: tf.Tensor[] = [];
    const settle = async () => {
      await pending[pending.length - 1].data();
      for (const t of pending.splice(0)) t.dispose();
    };
    const { round } = await prepareRound(() => pending.push(tf.matMul(a, b)), settle, { reps: 1 });
    return { round, dispose: () => tf.dispose([a, b]) };
  } catch (error) {
    return { unavailable: unavailable('kernels', `dense ${DENSE}×${DENSE}×${DENSE}`, 'tfjs-webgpu', backend, error), dispose: () => {} };
  }
}

function tfjsRow(backend: string, times: number[], seedFaster: number): Row {
  const ms = median(times);
  return {
    part: 'kernels', what: `dense ${DENSE}×${DENSE}×${DENSE}`, who: 'tfjs-webgpu', backend,
    figures: { time: { value: ms, unit: 'ms' }, compute: { value: (2 * DENSE ** 3) / ms / 1e6, unit: 'GFLOP/s' }, memory: { value: (3 * 4 * DENSE ** 2) / ms / 1e6, unit: 'GB/s' } },
    samples: times.length, note: 'tf.matMul, including its read-back; in turns with seed\'s dense_forward', seedFaster: { [backend]: seedFaster },
  };
}

/** The CPU's matrix-product rate: onnxruntime-node's MatMul (MLAS) at 1024³ on all cores. */
async function cpuCeiling(rounds: number): Promise<Row> {
  const what = 'CPU ceiling: matmul';
  try {
    const n = DENSE;
    const session = await ort.InferenceSession.create(encodeOnnx({
      name: 'matmul', nodes: [{ op: 'MatMul', inputs: ['a', 'b'], output: 'c' }], initializers: [], inputs: [['a', [n, n]], ['b', [n, n]]], outputs: [['c', [n, n]]],
    }), { intraOpNumThreads: cpus().length });
    const feeds = { a: new ort.Tensor('float32', new Float32Array(n * n).fill(0.5), [n, n]), b: new ort.Tensor('float32', new Float32Array(n * n).fill(0.25), [n, n]) };
    const times: number[] = [];
    await session.run(feeds);
    for (let r = 0; r < rounds; r++) {
      const start = performance.now();
      await session.run(feeds);
      times.push(performance.now() - start);
    }
    await session.release();
    const ms = median(times);
    return {
      part: 'kernels', what, who: 'onnxruntime-node', backend: 'cpu',
      figures: { time: { value: ms, unit: 'ms' }, compute: { value: (2 * n ** 3) / ms / 1e6, unit: 'GFLOP/s' } },
      samples: rounds, note: `MatMul ${n}³ (MLAS, fp32) on ${cpus().length} threads: a BLAS-grade figure for this CPU`,
    };
  } catch (error) {
    return unavailable('kernels', what, 'onnxruntime-node', 'cpu', error);
  }
}
