// The network as data: a layer list that travels in the weights file and builds the same model everywhere.
//
// Layers without `head` form the trunk, in order; each `head` layer (dense) reads the trunk's output.
// The seed network: conv 1→32 3×3, relu, maxpool 2, flatten, fc1 5408→64, relu, then heads fc2 (policy, 10)
// and rot (rotation, 4). Any other head (a projection for contrastive learning, say) may be added: training uses it,
// serving reads only the policy head.

/** A head's role: 'policy' (what the edge serves), 'rotation' (4 outputs), 'projection', or any other name. */
export type HeadName = string;

export type LayerSpec =
  | { kind: 'input'; shape: [number, number, number] }
  | { kind: 'conv2d'; name: string; inChannels: number; outChannels: number; kernelSize: number; stride: number; padding: number }
  | { kind: 'relu' }
  | { kind: 'maxpool2d'; kernelSize: number; stride: number }
  | { kind: 'flatten' }
  | { kind: 'dense'; name: string; inFeatures: number; outFeatures: number; head?: HeadName };

export type Conv2dSpec = Extract<LayerSpec, { kind: 'conv2d' }>;
export type DenseSpec = Extract<LayerSpec, { kind: 'dense' }>;
export type MaxPool2dSpec = Extract<LayerSpec, { kind: 'maxpool2d' }>;

/** Activation shape after a layer: [C, H, W] for images, [F] after flatten. */
export type ActivationShape = number[];

export interface ParameterSpec {
  /** Tensor name in the weights file, e.g. 'conv.weight'. */
  name: string;
  shape: number[];
  size: number;
  /** Inputs per output unit: the fan-in used for initialisation. */
  fanIn: number;
}

export interface Network {
  layers: LayerSpec[];
  input: [number, number, number];
  /** Trunk layers (no input layer) with the shape each produces. */
  trunk: { layer: Exclude<LayerSpec, { kind: 'input' }>; inShape: ActivationShape; outShape: ActivationShape }[];
  /** Every head by role (absent roles read as undefined at run time: check before use). */
  heads: Record<HeadName, DenseSpec> & { policy: DenseSpec };
  features: number;
  parameters: ParameterSpec[];
}

/** Pixels in one input image (1×28×28), as the API takes it, the event log keeps it and the data set holds it. */
export const IMAGE_PIXELS = 28 * 28;

export const SEED_ARCHITECTURE: LayerSpec[] = [
  { kind: 'input', shape: [1, 28, 28] },
  { kind: 'conv2d', name: 'conv', inChannels: 1, outChannels: 32, kernelSize: 3, stride: 1, padding: 0 },
  { kind: 'relu' },
  { kind: 'maxpool2d', kernelSize: 2, stride: 2 },
  { kind: 'flatten' },
  { kind: 'dense', name: 'fc1', inFeatures: 5408, outFeatures: 64 },
  { kind: 'relu' },
  { kind: 'dense', name: 'fc2', inFeatures: 64, outFeatures: 10, head: 'policy' },
  { kind: 'dense', name: 'rot', inFeatures: 64, outFeatures: 4, head: 'rotation' },
];

/** The seed network with a projection head beside its others, for contrastive learning (its features feed NT-Xent). */
export const withProjectionHead = (layers: readonly LayerSpec[], features: number, outFeatures = 32): LayerSpec[] => [
  ...layers, { kind: 'dense', name: 'proj', inFeatures: features, outFeatures, head: 'projection' },
];

/** How many outputs (classes) a head has; every engine refuses a head the network lacks the same way. */
export function headClasses(network: Network, head: HeadName): number {
  const spec = network.heads[head];
  if (!spec) throw new Error(`the model has no ${head} head`);
  return spec.outFeatures;
}

/** Every engine takes a batch as `batch` inputs laid out one after another, and refuses anything else the same way. */
export function checkBatch(pixels: Float32Array, batch: number, inputSize: number): void {
  if (pixels.length !== batch * inputSize) throw new Error(`expected ${batch}×${inputSize} values, got ${pixels.length}`);
}

export class ArchitectureError extends Error {
  override name = 'ArchitectureError';
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 1 << 20;
const isNonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 64;
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

function fail(index: number, message: string): never {
  throw new ArchitectureError(`architecture layer ${index}: ${message}`);
}

/** Checks a layer list (e.g. parsed from a weights file) and derives every shape and parameter from it. */
export function buildNetwork(value: unknown): Network {
  if (!Array.isArray(value) || value.length < 2) throw new ArchitectureError('architecture must be a list of layers starting with an input layer');
  const first = value[0] as Partial<LayerSpec>;
  if (first?.kind !== 'input' || !Array.isArray(first.shape) || first.shape.length !== 3 || !first.shape.every(isCount)) {
    fail(0, 'must be {"kind":"input","shape":[C,H,W]}');
  }
  const input = [...first.shape] as [number, number, number];
  let shape: ActivationShape = [...input];
  const trunk: Network['trunk'] = [];
  const heads: Partial<Record<HeadName, DenseSpec>> = {};
  const parameters: ParameterSpec[] = [];
  const names = new Set<string>();
  let features = 0;

  const addParameters = (index: number, name: unknown, weight: number[], bias: number[], fanIn: number) => {
    if (typeof name !== 'string' || !NAME.test(name)) fail(index, `name must match ${NAME}`);
    if (names.has(name)) fail(index, `duplicate name "${name}"`);
    names.add(name);
    const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
    parameters.push({ name: `${name}.weight`, shape: weight, size: size(weight), fanIn });
    parameters.push({ name: `${name}.bias`, shape: bias, size: size(bias), fanIn });
  };

  value.slice(1).forEach((raw: unknown, offset: number) => {
    const index = offset + 1;
    const layer = raw as Record<string, unknown>;
    if (typeof layer !== 'object' || layer === null) fail(index, 'must be an object');
    if (layer.head !== undefined) {
      if (layer.kind !== 'dense') fail(index, 'only dense layers can be heads');
      if (typeof layer.head !== 'string' || !NAME.test(layer.head)) fail(index, `head must match ${NAME}`);
      if (heads[layer.head]) fail(index, `second ${layer.head} head`);
      if (trunk.length === 0) fail(index, 'a head needs a trunk before it');
      features = features || (shape.length === 1 ? shape[0] : fail(index, 'heads need flat features (add flatten)'));
      const { inFeatures, outFeatures } = layer;
      if (!isCount(inFeatures) || !isCount(outFeatures)) fail(index, 'inFeatures and outFeatures must be positive integers');
      if (inFeatures !== features) fail(index, `inFeatures ${inFeatures} but the trunk gives ${features}`);
      if (layer.head === 'rotation' && outFeatures !== 4) fail(index, 'the rotation head predicts one of 4 rotations: outFeatures must be 4');
      addParameters(index, layer.name, [outFeatures, inFeatures], [outFeatures], inFeatures);
      heads[layer.head] = { kind: 'dense', name: layer.name as string, inFeatures, outFeatures, head: layer.head };
      return;
    }
    if (features) fail(index, 'trunk layers must come before the heads');
    const inShape = shape;
    switch (layer.kind) {
      case 'conv2d': {
        const { inChannels, outChannels, kernelSize, stride, padding } = layer;
        if (![inChannels, outChannels, kernelSize, stride].every(isCount) || !isNonNegative(padding)) fail(index, 'conv2d needs positive inChannels, outChannels, kernelSize, stride and padding ≥ 0');
        if (shape.length !== 3) fail(index, 'conv2d needs an image input');
        const [c, h, w] = shape;
        if (c !== inChannels) fail(index, `inChannels ${inChannels} but the input has ${c}`);
        const oh = Math.floor((h + 2 * (padding as number) - (kernelSize as number)) / (stride as number)) + 1;
        const ow = Math.floor((w + 2 * (padding as number) - (kernelSize as number)) / (stride as number)) + 1;
        if (oh < 1 || ow < 1) fail(index, `kernel ${kernelSize} does not fit ${h}×${w}`);
        addParameters(index, layer.name, [outChannels as number, c, kernelSize as number, kernelSize as number], [outChannels as number], c * (kernelSize as number) ** 2);
        shape = [outChannels as number, oh, ow];
        trunk.push({ layer: { kind: 'conv2d', name: layer.name as string, inChannels: c, outChannels: outChannels as number, kernelSize: kernelSize as number, stride: stride as number, padding: padding as number }, inShape, outShape: shape });
        return;
      }
      case 'maxpool2d': {
        const { kernelSize, stride } = layer;
        if (!isCount(kernelSize) || !isCount(stride)) fail(index, 'maxpool2d needs positive kernelSize and stride');
        if (shape.length !== 3) fail(index, 'maxpool2d needs an image input');
        const [c, h, w] = shape;
        const oh = Math.floor((h - kernelSize) / stride) + 1;
        const ow = Math.floor((w - kernelSize) / stride) + 1;
        if (oh < 1 || ow < 1) fail(index, `pool ${kernelSize} does not fit ${h}×${w}`);
        shape = [c, oh, ow];
        trunk.push({ layer: { kind: 'maxpool2d', kernelSize, stride }, inShape, outShape: shape });
        return;
      }
      case 'relu':
        trunk.push({ layer: { kind: 'relu' }, inShape, outShape: shape });
        return;
      case 'flatten':
        shape = [shape.reduce((a, b) => a * b, 1)];
        trunk.push({ layer: { kind: 'flatten' }, inShape, outShape: shape });
        return;
      case 'dense': {
        const { inFeatures, outFeatures } = layer;
        if (!isCount(inFeatures) || !isCount(outFeatures)) fail(index, 'inFeatures and outFeatures must be positive integers');
        if (shape.length !== 1) fail(index, 'dense needs flat input (add flatten)');
        if (shape[0] !== inFeatures) fail(index, `inFeatures ${inFeatures} but the input has ${shape[0]}`);
        addParameters(index, layer.name, [outFeatures, inFeatures], [outFeatures], inFeatures);
        shape = [outFeatures];
        trunk.push({ layer: { kind: 'dense', name: layer.name as string, inFeatures, outFeatures }, inShape, outShape: shape });
        return;
      }
      default:
        fail(index, `unknown kind ${JSON.stringify(layer.kind)} (conv2d, relu, maxpool2d, flatten, dense)`);
    }
  });
  if (!heads.policy) throw new ArchitectureError('architecture has no policy head (a dense layer with "head":"policy")');
  const layers = structuredClone(value) as LayerSpec[];
  return { layers, input, trunk, heads: heads as Network['heads'], features, parameters };
}

export const parameterCount = (network: Network): number => network.parameters.reduce((n, p) => n + p.size, 0);
