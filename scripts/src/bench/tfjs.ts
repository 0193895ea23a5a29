// TensorFlow.js as the reference: the same network with the same weights on its CPU, WebAssembly and WebGPU backends.
// WebGPU runs on a device of the same Dawn adapter as ours (SEED_BACKEND-style choice of vulkan or gles).
import { createGpu, type Backend, type Network } from '@seed/runtime';
// The @tensorflow/tfjs bundle: core, the CPU backend and the gradients (which tfjs-core alone does not register).
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
// Imported before navigator.gpu exists, so the package registers no backend of its own: ours gets our device.
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { create } from 'webgpu';

export type TfjsBackend = 'cpu' | 'wasm' | `webgpu-${Backend}`;

const require = createRequire(import.meta.url);

let wasmSetUp = false;
/** Keeps the Dawn instance behind navigator.gpu alive: a collected instance takes its devices down. */
let navigatorGpu: GPU | undefined;

/** Switches TensorFlow.js to a backend (creating it on first use) and describes it in one line. */
export async function useTfjs(backend: TfjsBackend): Promise<string> {
  if (backend === 'cpu') {
    await setBackend('cpu');
    return 'tfjs-backend-cpu (plain JavaScript, 1 thread)';
  }
  if (backend === 'wasm') {
    if (!wasmSetUp) {
      // The .wasm files ship in the package: loaded from node_modules, nothing fetched.
      setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
      tf.registerKernel({ kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2dBackpropFilterWasm as unknown as tf.KernelFunc });
      wasmSetUp = true;
    }
    await setBackend('wasm');
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    return `tfjs-backend-wasm (XNNPACK${simd ? ', SIMD' : ''}, ${threads ? 'threads' : '1 thread'}; Conv2DBackpropFilter registered by the bench: im2col + its BatchMatMul)`;
  }
  const dawn = backend === 'webgpu-vulkan' ? 'vulkan' : 'gles';
  const gpu = await createGpu(dawn);
  navigatorGpu ??= create([]);
  const global = globalThis as { navigator?: { gpu?: GPU } };
  if (!global.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  global.navigator!.gpu ??= navigatorGpu;
  // One 'webgpu' backend at a time (its kernels are registered under that name): replaced when the Dawn backend changes.
  if (tf.findBackend('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(gpu.device));
  await setBackend('webgpu');
  return `tfjs-backend-webgpu on ${gpu.description}`;
}

async function setBackend(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`TensorFlow.js could not initialise its ${name} backend`);
}

// ---- the network ----

/** The seed network in TensorFlow.js (NHWC), with weights converted from PyTorch layouts. */
export class TfjsNetwork {
  readonly variables: tf.Variable[] = [];
  private readonly layers: ((x: tf.Tensor) => tf.Tensor)[] = [];
  private readonly head: (x: tf.Tensor) => tf.Tensor;
  private readonly inputShape: [number, number, number];

  constructor(network: Network, tensors: Map<string, Float32Array>) {
    this.inputShape = network.input;
    const variable = (data: tf.Tensor) => {
      const v = tf.variable(data);
      data.dispose();
      this.variables.push(v);
      return v;
    };
    const dense = (name: string, inFeatures: number, outFeatures: number, permute?: number[]) => {
      // PyTorch [out, in] → TensorFlow [in, out]; after a flatten of NHWC features, rows reordered from C,H,W to H,W,C.
      const w = variable(tf.tidy(() => {
        const kernel = tf.transpose(tf.tensor2d(tensors.get(`${name}.weight`)!, [outFeatures, inFeatures]));
        return permute ? tf.gather(kernel, permute) : kernel;
      }));
      const b = variable(tf.tensor1d(tensors.get(`${name}.bias`)!));
      return (x: tf.Tensor) => tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b);
    };
    let permute: number[] | undefined;
    for (const { layer, inShape } of network.trunk) {
      switch (layer.kind) {
        case 'conv2d': {
          const { outChannels: o, inChannels: c, kernelSize: k, stride, padding } = layer;
          const filter = variable(tf.tidy(() => tf.transpose(tf.tensor4d(tensors.get(`${layer.name}.weight`)!, [o, c, k, k]), [2, 3, 1, 0])));
          const bias = variable(tf.tensor1d(tensors.get(`${layer.name}.bias`)!));
          const pad = padding === 0 ? 'valid' : ([[0, 0], [padding, padding], [padding, padding], [0, 0]] as tf.backend_util.ExplicitPadding);
          this.layers.push((x) => tf.add(tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, stride, pad), bias));
          break;
        }
        case 'relu':
          this.layers.push((x) => tf.relu(x));
          break;
        case 'maxpool2d':
          this.layers.push((x) => tf.maxPool(x as tf.Tensor4D, layer.kernelSize, layer.stride, 'valid'));
          break;
        case 'flatten': {
          const [c, h, w] = inShape;
          permute = Array.from({ length: c * h * w }, (_, i) => ((i % c) * h + Math.floor(i / c / w)) * w + (Math.floor(i / c) % w));
          this.layers.push((x) => tf.reshape(x, [x.shape[0], -1]));
          break;
        }
        case 'dense':
          this.layers.push(dense(layer.name, layer.inFeatures, layer.outFeatures, permute));
          permute = undefined;
          break;
      }
    }
    const policy = network.heads.policy;
    this.head = dense(policy.name, policy.inFeatures, policy.outFeatures, permute);
  }

  /** NCHW pixels as the NHWC input tensor. */
  input(pixels: Float32Array, batch: number): tf.Tensor4D {
    const [c, h, w] = this.inputShape;
    const nchw = tf.tensor4d(pixels, [batch, c, h, w]);
    if (c === 1) return tf.reshape(nchw, [batch, h, w, 1]);
    return tf.tidy(() => tf.transpose(nchw, [0, 2, 3, 1]));
  }

  /** Policy logits [batch, classes]. */
  logits(x: tf.Tensor4D): tf.Tensor2D {
    let y: tf.Tensor = x;
    for (const layer of this.layers) y = layer(y);
    return this.head(y) as tf.Tensor2D;
  }

  /** Logits of pixels, read back to the CPU. */
  async predict(pixels: Float32Array, batch: number): Promise<Float32Array> {
    const logits = tf.tidy(() => this.logits(this.input(pixels, batch)));
    const data = (await logits.data()) as Float32Array;
    logits.dispose();
    return data;
  }

  /** A training step function: Adam on softmax cross-entropy; each call returns the loss (a scalar still on the device). */
  trainer(lr: number, classes: number): (pixels: Float32Array, labels: Uint32Array, batch: number) => tf.Scalar {
    const optimizer = tf.train.adam(lr);
    return (pixels, labels, batch) =>
      tf.tidy(() => {
        const x = this.input(pixels, batch);
        const y = tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), classes);
        return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, this.logits(x)) as tf.Scalar, true, this.variables)!;
      });
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

// ---- Conv2DBackpropFilter for the wasm backend, which has none ----

interface WasmBackend {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
}

/**
 * dW[kh, kw, c, o] = Σ_n,y,x x[n, y·s+kh−pad, x·s+kw−pad, c] · dy[n, y, x, o]: the input's patches laid out as rows
 * (im2col, in JavaScript on the wasm heap), then one product colsᵀ · dy by the backend's own BatchMatMul (XNNPACK).
 */
function conv2dBackpropFilterWasm({ inputs, backend, attrs }: { inputs: { x: tf.TensorInfo; dy: tf.TensorInfo }; backend: WasmBackend; attrs: tf.Conv2DBackpropFilterAttrs }): tf.TensorInfo {
  const { x, dy } = inputs;
  if (attrs.dataFormat !== 'NHWC') throw new Error('Conv2DBackpropFilter (bench): NHWC only');
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth, padInfo } = info;
  const rows = batchSize * outHeight * outWidth;
  const taps = filterHeight * filterWidth * inChannels;
  const cols = backend.makeOutput([1, rows, taps], 'float32');
  // After makeOutput: a growing heap detaches earlier views.
  const input = backend.typedArrayFromHeap(x);
  const patches = backend.typedArrayFromHeap(cols);
  let at = 0;
  for (let n = 0; n < batchSize; n++) {
    for (let y = 0; y < outHeight; y++) {
      for (let xo = 0; xo < outWidth; xo++) {
        for (let i = 0; i < filterHeight; i++) {
          const iy = y * strideHeight + i - padInfo.top;
          for (let j = 0; j < filterWidth; j++) {
            const ix = xo * strideWidth + j - padInfo.left;
            const inside = iy >= 0 && iy < inHeight && ix >= 0 && ix < inWidth;
            const base = ((n * inHeight + iy) * inWidth + ix) * inChannels;
            for (let c = 0; c < inChannels; c++) patches[at++] = inside ? input[base + c] : 0;
          }
        }
      }
    }
  }
  const batchMatMul = tf.getKernel(tf.BatchMatMul, 'wasm')!.kernelFunc as unknown as (args: unknown) => tf.TensorInfo;
  const product = batchMatMul({
    inputs: { a: cols, b: { dataId: dy.dataId, shape: [1, rows, outChannels], dtype: 'float32' } },
    backend,
    attrs: { transposeA: true, transposeB: false },
  });
  backend.disposeData(cols.dataId);
  return { dataId: product.dataId, shape: attrs.filterShape, dtype: 'float32' };
}

export { tf };
