// Test data for the edge tests, free of Node built-ins so the Workers tests (in workerd) share it.
import { buildNetwork, initialParameters, Random, SEED_ARCHITECTURE, writeModel, type LayerSpec } from '@seed/runtime/engine';

export const ADMIN_TOKEN = 'test-admin-token';

/** A weights file with seeded initial parameters (the seed network by default): the same arguments give the same bytes. */
export async function modelFile(version: string, seed = 1, parent?: string, architecture: LayerSpec[] = SEED_ARCHITECTURE): Promise<Uint8Array> {
  const network = buildNetwork(architecture);
  return writeModel(network, initialParameters(network, seed), { version, parent, created: '2026-04-01T00:00:00.000Z', metrics: { seed } });
}

/** Another stack of the same layer kinds, a linear policy on the pixels: the edge serves it unchanged, and fast. */
export const LINEAR_ARCHITECTURE: LayerSpec[] = [
  { kind: 'input', shape: [1, 28, 28] },
  { kind: 'flatten' },
  { kind: 'dense', name: 'policy', inFeatures: 784, outFeatures: 10, head: 'policy' },
];

/** 784 values on the 1/255 grid, so quantising them loses nothing. */

/** A response's JSON, loosely typed: the tests check its shape themselves. */
export const json = (response: Response): Promise<any> => response.json();

export interface ExportLine {
  type: 'event' | 'end';
  [field: string]: unknown;
}

/** Reads an NDJSON export: its event lines, and the end line that must close it. */
export async function readExport(response: Response): Promise<{ events: ExportLine[]; end: ExportLine; nextCursor: string | null }> {
  const lines = (await response.text())
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ExportLine);
  const end = lines.pop();
  if (end?.type !== 'end') throw new Error(`the export did not close with an end line: ${JSON.stringify(end)}`);
  return { events: lines, end, nextCursor: response.headers.get('X-Next-Cursor') };
}
