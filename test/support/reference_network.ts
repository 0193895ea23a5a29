// The whole network in float64 from the kernels' plain-loop references: forward, loss and every parameter gradient.
import {
  conv2dBackwardBiasRef, conv2dBackwardInputRef, conv2dBackwardWeightRef, conv2dForwardRef,
  denseBackwardBiasRef, denseBackwardInputRef, denseBackwardWeightRef, denseForwardRef,
  maxPool2dBackwardRef, maxPool2dForwardRef, reluBackwardRef, reluForwardRef, softmaxCrossEntropyRef,
  type Conv2dShape, type MaxPool2dShape,
} from '@seed/kernels';
import { assertNever, type HeadName, type Network } from '@seed/runtime';

type Tensors = Map<string, ArrayLike<number>>;

const convShape = (network: Network, i: number, batch: number): Conv2dShape => {
  const { layer, inShape } = network.trunk[i];
  if (layer.kind !== 'conv2d') throw new Error('not conv2d');
  return { batch, inChannels: inShape[0], outChannels: layer.outChannels, height: inShape[1], width: inShape[2], kernelSize: layer.kernelSize, stride: layer.stride, padding: layer.padding };
};
const poolShape = (network: Network, i: number, batch: number): MaxPool2dShape => {
  const { layer, inShape } = network.trunk[i];
  if (layer.kind !== 'maxpool2d') throw new Error('not maxpool2d');
  return { batch, channels: inShape[0], height: inShape[1], width: inShape[2], kernelSize: layer.kernelSize, stride: layer.stride };
};

/** Forward through the trunk and one head; keeps what backward needs. */
export function referenceForward(network: Network, tensors: Tensors, input: ArrayLike<number>, batch: number, head: HeadName) {
  const acts: ArrayLike<number>[] = [input];
  const argmax = new Map<number, Uint32Array>();
  network.trunk.forEach(({ layer }, i) => {
    const x = acts[i];
    switch (layer.kind) {
      case 'conv2d':
        acts.push(conv2dForwardRef(convShape(network, i, batch), x, tensors.get(`${layer.name}.weight`)!, tensors.get(`${layer.name}.bias`)!));
        break;
      case 'dense':
        acts.push(denseForwardRef({ batch, inFeatures: layer.inFeatures, outFeatures: layer.outFeatures }, x, tensors.get(`${layer.name}.weight`)!, tensors.get(`${layer.name}.bias`)!));
        break;
      case 'relu':
        acts.push(reluForwardRef(x));
        break;
      case 'maxpool2d': {
        const { output, argmax: where } = maxPool2dForwardRef(poolShape(network, i, batch), x);
        argmax.set(i, where);
        acts.push(output);
        break;
      }
      case 'flatten':
        acts.push(x);
        break;
      default:
        assertNever(layer, 'layer kind');
    }
  });
  const spec = network.heads[head]!;
  const logits = denseForwardRef({ batch, inFeatures: spec.inFeatures, outFeatures: spec.outFeatures }, acts[acts.length - 1], tensors.get(`${spec.name}.weight`)!, tensors.get(`${spec.name}.bias`)!);
  return { acts, argmax, logits };
}

/** Mean cross-entropy of one head and the gradient of every parameter it depends on. */
export function referenceGradients(network: Network, tensors: Tensors, input: ArrayLike<number>, labels: Uint32Array, batch: number, head: HeadName) {
  const { acts, argmax, logits } = referenceForward(network, tensors, input, batch, head);
  const spec = network.heads[head]!;
  const ce = softmaxCrossEntropyRef({ batch, classes: spec.outFeatures, scale: 1 / batch }, logits, labels, new Float64Array(batch).fill(1));
  const loss = ce.loss.reduce((a, b) => a + b, 0) / batch;
  const grads = new Map<string, Float64Array>();
  const headShape = { batch, inFeatures: spec.inFeatures, outFeatures: spec.outFeatures };
  const features = acts[acts.length - 1];
  grads.set(`${spec.name}.weight`, denseBackwardWeightRef(headShape, ce.gradLogits, features));
  grads.set(`${spec.name}.bias`, denseBackwardBiasRef(headShape, ce.gradLogits));
  let grad: ArrayLike<number> = denseBackwardInputRef(headShape, ce.gradLogits, tensors.get(`${spec.name}.weight`)!);
  for (let i = network.trunk.length - 1; i >= 0; i--) {
    const { layer } = network.trunk[i];
    switch (layer.kind) {
      case 'conv2d': {
        const shape = convShape(network, i, batch);
        grads.set(`${layer.name}.weight`, conv2dBackwardWeightRef(shape, acts[i], grad));
        grads.set(`${layer.name}.bias`, conv2dBackwardBiasRef(shape, grad));
        grad = conv2dBackwardInputRef(shape, grad, tensors.get(`${layer.name}.weight`)!);
        break;
      }
      case 'dense': {
        const shape = { batch, inFeatures: layer.inFeatures, outFeatures: layer.outFeatures };
        grads.set(`${layer.name}.weight`, denseBackwardWeightRef(shape, grad, acts[i]));
        grads.set(`${layer.name}.bias`, denseBackwardBiasRef(shape, grad));
        grad = denseBackwardInputRef(shape, grad, tensors.get(`${layer.name}.weight`)!);
        break;
      }
      case 'relu':
        grad = reluBackwardRef(acts[i + 1], grad);
        break;
      case 'maxpool2d':
        grad = maxPool2dBackwardRef(poolShape(network, i, batch), grad, argmax.get(i)!);
        break;
      case 'flatten':
        break;
      default:
        assertNever(layer, 'layer kind');
    }
  }
  return { loss, logits, grads };
}
