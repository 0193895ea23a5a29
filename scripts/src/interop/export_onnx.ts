// pnpm export-onnx IN.safetensors OUT.onnx: a weights file (verified as the edge verifies it) as an ONNX model.
import { readFileSync } from 'node:fs';
import { readModel } from '@seed/runtime/engine';
import { UsageError, writeFileAtomic } from '../lib/cli';
import { exportOnnx, ONNX_OPSET } from './onnx';

const USAGE = 'pnpm export-onnx IN.safetensors OUT.onnx';

export async function main(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(`${USAGE}\n  writes the model as ONNX (opset ${ONNX_OPSET}): input pixels [batch,C,H,W]; outputs logits, probabilities and, with a rotation head, rotation_logits`);
    return;
  }
  if (args.length !== 2) throw new UsageError(`usage: ${USAGE}`);
  const [input, output] = args;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(input)); // a copy: a Buffer may be a view into a shared pool
  } catch {
    throw new UsageError(`no such file "${input}"`);
  }
  const model = await readModel(bytes);
  const onnx = exportOnnx(model);
  writeFileAtomic(output, onnx);
  console.log(`${output}: ONNX opset ${ONNX_OPSET}, model ${model.metadata.version}, ${model.network.parameters.length} tensors, ${onnx.length} bytes`);
}
