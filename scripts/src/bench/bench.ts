// pnpm bench [--quick] [--json FILE] [--plot FILE.svg] [--only kernels|train|infer|api]: this project side by side
// with TensorFlow.js and ONNX Runtime, one after the other in this process (the API servers in child processes), with
// warm-up and repeats; medians and ratios, since the machine may be shared.
import { parseFlags, UsageError, writeFileAtomic } from '../lib/cli';
import { PARTS, type Part, type Row, type Settings } from './measure';
import { charts, table, targets, withRatios, type BenchReport } from './report';
import { loadAverage, machine, versions } from './system';

const HELP = `pnpm bench [flags]
  --quick          fewer repeats, batch 64 only, lighter API load: under 2 minutes
  --json FILE      every figure with its unit, the machine, adapters and versions (default report/bench.json)
  --plot FILE.svg  bar charts of the headline figures (default report/bench.svg)
  --only PARTS     kernels, train, infer, api, or several separated by commas (default all)`;

// Loaded when run: TensorFlow.js, ONNX Runtime and Dawn take seconds to import, flags and --help do not wait for them.
const RUNNERS: Record<Part, () => Promise<(settings: Settings) => Promise<Row[]>>> = {
  kernels: async () => (await import('./kernels')).kernelRows,
  train: async () => (await import('./train')).trainRows,
  infer: async () => (await import('./infer')).inferRows,
  api: async () => (await import('./api')).apiRows,
};

export async function main(argv: string[]): Promise<void> {
  const flags = parseFlags({ quick: { type: 'boolean' }, json: { type: 'string' }, plot: { type: 'string' }, only: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, argv);
  if (flags.help) {
    console.log(HELP);
    return;
  }
  const parts = flags.only ? flags.only.split(',').map((p) => p.trim()) : [...PARTS];
  for (const part of parts) if (!PARTS.includes(part as Part)) throw new UsageError(`--only: "${part}" is not one of ${PARTS.join(', ')}`);
  const settings: Settings = { quick: !!flags.quick, log: (line) => console.error(`  ${line}`) };
  const started = performance.now();
  const loadAtStart = loadAverage();
  const rows: Row[] = [];
  for (const part of PARTS.filter((p) => parts.includes(p))) {
    const partStart = performance.now();
    console.error(`bench: ${part}${settings.quick ? ' (quick)' : ''}`);
    rows.push(...(await (await RUNNERS[part]())(settings)));
    console.error(`bench: ${part} done in ${((performance.now() - partStart) / 1000).toFixed(0)} s`);
  }
  const adapters: Record<string, string> = {};
  if (parts.some((p) => p !== 'api')) {
    // The devices the parts opened (the API part opens none).
    const { BACKENDS, benchGpu } = await import('./gpus');
    for (const backend of BACKENDS) adapters[backend] = await benchGpu(backend).then((g) => g.gpu.description, (e: Error) => `${backend} unavailable: ${e.message.split('\n')[0]}`);
  }
  const report: BenchReport = {
    date: new Date().toISOString(), quick: settings.quick, parts: parts as Part[], machine: machine(loadAtStart), adapters, versions: versions(),
    rows: withRatios(rows), targets: targets(rows),
  };
  console.log(table(report));
  const jsonPath = flags.json ?? 'report/bench.json';
  const plotPath = flags.plot ?? 'report/bench.svg';
  writeFileAtomic(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  writeFileAtomic(plotPath, charts(report));
  console.error(`bench: ${((performance.now() - started) / 1000).toFixed(0)} s; wrote ${jsonPath} and ${plotPath}`);
}
