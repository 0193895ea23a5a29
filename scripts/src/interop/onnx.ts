// A seed model as an ONNX graph (opset 13), encoded by hand: the few protobuf messages ONNX needs, nothing else.
//
// The graph follows the layer list in the weights file: Conv, Relu, MaxPool, Flatten and Gemm nodes in trunk order,
// then each head as a Gemm. Input `pixels` [batch, C, H, W]; outputs `logits` and `probabilities` (softmax) of the
// policy head, and `rotation_logits` when the model has a rotation head. The batch dimension is symbolic.
import type { ModelFile, Network } from '@seed/runtime/engine';

export const ONNX_OPSET = 13;
/** IR version 7 goes with opset 13. */
const IR_VERSION = 7;

// ---- protobuf wire format: varints and length-delimited fields (tensor data goes as raw bytes) ----

class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`protobuf varint: ${value} is not a non-negative safe integer`);
    const bytes: number[] = [];
    let v = value;
    while (v >= 0x80) {
      bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    bytes.push(v);
    this.push(Uint8Array.from(bytes));
  }

  private key(field: number, wireType: 0 | 2): void {
    this.varint(field * 8 + wireType);
  }

  int(field: number, value: number): this {
    this.key(field, 0);
    this.varint(value);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, 2);
    this.varint(value.length);
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

// ---- ONNX messages (field numbers from onnx.proto) ----

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTRIBUTE_INT = 2;
const ATTRIBUTE_INTS = 7;

type Attribute = { name: string; int: number } | { name: string; ints: number[] };

export interface Node {
  op: string;
  inputs: string[];
  output: string;
  attributes?: Attribute[];
}

export interface Tensor {
  name: string;
  dims: number[];
  data: Float32Array;
}

/** AttributeProto: name = 1, i = 3, ints = 8, type = 20. */
function writeAttribute(w: ProtoWriter, a: Attribute): void {
  w.string(1, a.name);
  if ('int' in a) w.int(3, a.int).int(20, ATTRIBUTE_INT);
  else {
    for (const v of a.ints) w.int(8, v);
    w.int(20, ATTRIBUTE_INTS);
  }
}

/** NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5. */
function writeNode(w: ProtoWriter, node: Node): void {
  for (const input of node.inputs) w.string(1, input);
  w.string(2, node.output).string(3, node.output).string(4, node.op);
  for (const a of node.attributes ?? []) w.message(5, (m) => writeAttribute(m, a));
}

/** TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9 (little-endian). */
function writeTensor(w: ProtoWriter, t: Tensor): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, FLOAT).string(8, t.name);
  const raw = new Uint8Array(t.data.length * 4);
  const view = new DataView(raw.buffer);
  t.data.forEach((v, i) => view.setFloat32(i * 4, v, true));
  w.bytes(9, raw);
}

/** ValueInfoProto { name = 1, type = 2 { tensor_type = 1 { elem_type = 1, shape = 2 { dim = 1 { value = 1 | param = 2 } } } } }. */
function writeValueInfo(w: ProtoWriter, name: string, dims: (number | string)[]): void {
  w.string(1, name).message(2, (type) =>
    type.message(1, (tensor) =>
      tensor.int(1, FLOAT).message(2, (shape) => {
        for (const d of dims) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      })));
}

// ---- the seed network as nodes ----

const BATCH = 'batch';

/** The graph's nodes and initializers, in trunk order then heads, from the layer list. */
function graphOf(network: Network, tensors: Map<string, Float32Array>): { nodes: Node[]; initializers: Tensor[]; outputs: [string, number][] } {
  const nodes: Node[] = [];
  const initializers: Tensor[] = [];
  const parameter = (name: string): string => {
    const spec = network.parameters.find((p) => p.name === name);
    const data = tensors.get(name);
    if (!spec || !data || data.length !== spec.size) throw new Error(`ONNX export: tensor ${name} is missing or has the wrong size`);
    initializers.push({ name, dims: spec.shape, data });
    return name;
  };
  let x = 'pixels';
  network.trunk.forEach(({ layer }, i) => {
    const output = `${layer.kind}_${i}`;
    switch (layer.kind) {
      case 'conv2d': {
        const { kernelSize: k, stride: s, padding: p } = layer;
        nodes.push({
          op: 'Conv', inputs: [x, parameter(`${layer.name}.weight`), parameter(`${layer.name}.bias`)], output,
          attributes: [{ name: 'kernel_shape', ints: [k, k] }, { name: 'strides', ints: [s, s] }, { name: 'pads', ints: [p, p, p, p] }],
        });
        break;
      }
      case 'relu':
        nodes.push({ op: 'Relu', inputs: [x], output });
        break;
      case 'maxpool2d':
        nodes.push({ op: 'MaxPool', inputs: [x], output, attributes: [{ name: 'kernel_shape', ints: [layer.kernelSize, layer.kernelSize] }, { name: 'strides', ints: [layer.stride, layer.stride] }] });
        break;
      case 'flatten':
        // NCHW flattened from axis 1 is C,H,W order, as PyTorch and the engine flatten.
        nodes.push({ op: 'Flatten', inputs: [x], output, attributes: [{ name: 'axis', int: 1 }] });
        break;
      case 'dense':
        nodes.push({ op: 'Gemm', inputs: [x, parameter(`${layer.name}.weight`), parameter(`${layer.name}.bias`)], output, attributes: [{ name: 'transB', int: 1 }] });
        break;
    }
    x = output;
  });
  const outputs: [string, number][] = [];
  const policy = network.heads.policy;
  nodes.push({ op: 'Gemm', inputs: [x, parameter(`${policy.name}.weight`), parameter(`${policy.name}.bias`)], output: 'logits', attributes: [{ name: 'transB', int: 1 }] });
  nodes.push({ op: 'Softmax', inputs: ['logits'], output: 'probabilities', attributes: [{ name: 'axis', int: 1 }] });
  outputs.push(['logits', policy.outFeatures], ['probabilities', policy.outFeatures]);
  const rotation = network.heads.rotation;
  if (rotation) {
    nodes.push({ op: 'Gemm', inputs: [x, parameter(`${rotation.name}.weight`), parameter(`${rotation.name}.bias`)], output: 'rotation_logits', attributes: [{ name: 'transB', int: 1 }] });
    outputs.push(['rotation_logits', rotation.outFeatures]);
  }
  return { nodes, initializers, outputs };
}

/** A graph to encode: nodes in order, initializers, and the inputs and outputs with their shapes (a string is symbolic). */
export interface OnnxGraph {
  name: string;
  nodes: Node[];
  initializers: Tensor[];
  inputs: [string, (number | string)[]][];
  outputs: [string, (number | string)[]][];
  doc?: string;
  metadata?: Record<string, string>;
}

/** ModelProto bytes of a graph, opset 13 of the default domain. */
export function encodeOnnx(graph: OnnxGraph, producerVersion = '0.1.0'): Uint8Array {
  const w = new ProtoWriter();
  // ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, doc_string = 6, graph = 7, opset_import = 8,
  // metadata_props = 14.
  w.int(1, IR_VERSION).string(2, 'seed').string(3, producerVersion);
  if (graph.doc) w.string(6, graph.doc);
  w.message(7, (g) => {
    // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12.
    for (const node of graph.nodes) g.message(1, (m) => writeNode(m, node));
    g.string(2, graph.name.replace(/[^A-Za-z0-9_]/g, '_'));
    for (const t of graph.initializers) g.message(5, (m) => writeTensor(m, t));
    for (const [name, dims] of graph.inputs) g.message(11, (m) => writeValueInfo(m, name, dims));
    for (const [name, dims] of graph.outputs) g.message(12, (m) => writeValueInfo(m, name, dims));
  });
  w.message(8, (m) => m.string(1, '').int(2, ONNX_OPSET));
  for (const [key, value] of Object.entries(graph.metadata ?? {})) w.message(14, (m) => m.string(1, key).string(2, value));
  return w.finish();
}

/** The model as ONNX bytes; its metadata (version, parent, sha256, ...) goes into metadata_props. */
export function exportOnnx(model: Pick<ModelFile, 'network' | 'tensors' | 'metadata'>): Uint8Array {
  const { network, tensors, metadata } = model;
  const { nodes, initializers, outputs } = graphOf(network, tensors);
  return encodeOnnx({
    name: `seed_${metadata.version}`,
    nodes,
    initializers,
    inputs: [['pixels', [BATCH, ...network.input]]],
    outputs: outputs.map(([name, size]) => [name, [BATCH, size]]),
    doc: `seed model ${metadata.version}: ${metadata.format}`,
    metadata: { format: metadata.format, version: metadata.version, parent: metadata.parent, created: metadata.created, sha256: metadata.sha256 },
  });
}
