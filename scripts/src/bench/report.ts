// The bench's outputs: ratios and targets from the rows of one run, the terminal table, the JSON, the SVG charts.
import { barChart, stackCharts } from '../lib/svg';
import { apiBackend, PARTS, WASM_ENGINE, type Part, type Row } from './measure';
import type { Machine } from './system';

export interface Ratio {
  value: number;
  /** What the ratio divides, e.g. 'seed (gles) ÷ this'. */
  meaning: string;
}

export interface Target {
  name: string;
  goal: string;
  ratio: number;
  met: boolean;
  detail: string;
}

export interface BenchReport {
  date: string;
  quick: boolean;
  parts: Part[];
  machine: Machine;
  adapters: Record<string, string>;
  versions: Record<string, string>;
  rows: (Row & { ratio?: Ratio })[];
  targets: Target[];
}

const first = (row: Row) => Object.values(row.figures)[0];
const measured = (rows: Row[]) => rows.filter((r) => !r.unavailable);

/**
 * Each reference row's ratio to this project: how many times faster seed is (its figure over the reference's for
 * rates, the reference's over seed's for times); for API routes, the rate over the same server's do-nothing route.
 */
export function withRatios(rows: Row[]): (Row & { ratio?: Ratio })[] {
  const ok = measured(rows);
  const seedFor = (row: Row): Row | undefined => {
    const seeds = ok.filter((r) => r.part === row.part && r.what === row.what && r.who.startsWith('seed') && r !== row);
    const same = seeds.find((r) => r.backend === row.backend);
    if (same) return same;
    const rate = first(row).unit.endsWith('/s');
    return seeds.reduce<Row | undefined>((best, r) => (!best || (rate ? first(r).value > first(best).value : first(r).value < first(best).value) ? r : best), undefined);
  };
  return rows.map((row) => {
    if (row.unavailable) return row;
    if (row.part === 'api') {
      const baseline = ok.find((r) => r.part === 'api' && r.backend === row.backend && r.what.startsWith('GET /health/live'));
      if (!baseline || baseline === row) return row;
      return { ...row, ratio: { value: first(row).value / first(baseline).value, meaning: 'rate ÷ the do-nothing route\'s on the same server' } };
    }
    if (row.who.startsWith('seed')) return row;
    if (row.seedFaster && Object.keys(row.seedFaster).length) {
      const [backend, value] = Object.entries(row.seedFaster).reduce((a, b) => (b[1] > a[1] ? b : a));
      return { ...row, ratio: { value, meaning: `seed (${backend}) is this many times faster: the median over turns run alternately` } };
    }
    const seed = seedFor(row);
    if (!seed) return row;
    const rate = first(row).unit.endsWith('/s');
    const value = rate ? first(seed).value / first(row).value : first(row).value / first(seed).value;
    return { ...row, ratio: { value, meaning: `${seed.who} (${seed.backend}) is this many times faster` } };
  });
}

/** The issue's targets, as ratios within this run. */
export function targets(rows: Row[]): Target[] {
  const ok = measured(rows);
  const find = (part: Part, what: string, who: string, backend?: string) =>
    ok.find((r) => r.part === part && r.what === what && r.who === who && (backend === undefined || r.backend === backend));
  const out: Target[] = [];
  const fmt = (row: Row) => `${format(first(row).value)} ${first(row).unit}`;
  for (const batch of [64, 256]) {
    const what = `training step, batch ${batch}`;
    for (const backend of ['vulkan', 'gles']) {
      const seed = find('train', what, 'seed', backend);
      const tfjs = find('train', what, 'tfjs-webgpu', backend);
      const turns = ' (rounds in turns; medians)';
      if (seed && tfjs?.seedFaster?.[backend]) {
        const ratio = tfjs.seedFaster[backend];
        out.push({ name: `${what}, ${backend}: seed ÷ tfjs-webgpu`, goal: '≥ 10×', ratio, met: ratio >= 10, detail: `${fmt(seed)} vs ${fmt(tfjs)}${turns}` });
      }
      const wasm = find('train', what, 'tfjs-wasm');
      if (seed && wasm?.seedFaster?.[backend]) {
        const ratio = wasm.seedFaster[backend];
        out.push({ name: `${what}, ${backend}: seed ÷ tfjs-wasm`, goal: '> 1× (ahead)', ratio, met: ratio > 1, detail: `${fmt(seed)} vs ${fmt(wasm)}${turns}` });
      }
    }
  }
  for (const backend of ['vulkan', 'gles']) {
    const seed = find('kernels', 'dense 1024×1024×1024', 'seed', backend);
    const tfjs = find('kernels', 'dense 1024×1024×1024', 'tfjs-webgpu', backend);
    if (seed && tfjs?.seedFaster?.[backend]) {
      const ratio = tfjs.seedFaster[backend];
      out.push({ name: `dense 1024³, ${backend}: seed ÷ tfjs-webgpu matMul`, goal: '≥ 3×', ratio, met: ratio >= 3, detail: `${format(seed.figures.compute.value)} vs ${format(tfjs.figures.compute.value)} GFLOP/s` });
    }
  }
  for (const [what, who, goal, least] of [
    ['inference, batch 1', 'tfjs-wasm', '≥ 1.33× (at most 0.75× its time)', 4 / 3],
    ['inference, batch 1', 'onnxruntime-node', '≥ 0.67× (within 1.5× its time)', 2 / 3],
    ['inference, batch 256', 'tfjs-wasm', '≥ 1.2× its img/s', 1.2],
  ] as const) {
    const engine = find('infer', what, WASM_ENGINE);
    const reference = find('infer', what, who);
    if (engine && reference?.seedFaster?.cpu) {
      const ratio = reference.seedFaster.cpu;
      out.push({ name: `${what}: SIMD engine vs ${who} (its time ÷ the engine's)`, goal, ratio, met: ratio >= least, detail: `${fmt(engine)} vs ${fmt(reference)}, turns in alternation` });
    }
  }
  const apiRow = (route: string, backend: string) => find('api', route, 'seed edge', backend);
  const baseline = (backend: string) => apiRow('GET /health/live (does nothing)', backend);
  for (const [route, backend, least] of [
    ['POST /v1/predict', apiBackend('node', 8), 0.5],
    ['POST /v1/predict', apiBackend('node', 32), 0.5],
    ['POST /v1/events/{id}/reward', apiBackend('node', 8), 0.7],
    ['POST /v1/events/{id}/reward', apiBackend('node', 32), 0.7],
    ['POST /v1/predict', apiBackend('wrangler dev', 8), 0.5],
  ] as const) {
    const row = apiRow(route, backend);
    const base = baseline(backend);
    if (!row || !base) continue;
    const ratio = row.figures.rate.value / base.figures.rate.value;
    out.push({ name: `${route}, ${backend}: rate ÷ the do-nothing route's`, goal: `≥ ${least}×`, ratio, met: ratio >= least, detail: `${fmt(row)} vs ${fmt(base)}` });
  }
  const predict32 = apiRow('POST /v1/predict', apiBackend('node', 32));
  if (predict32) {
    const rate = predict32.figures.rate.value;
    const p99 = predict32.figures.p99.value;
    out.push({ name: `POST /v1/predict, ${apiBackend('node', 32)}: req/s with p99 ≤ 25 ms`, goal: '≥ 3,000 req/s and p99 ≤ 25 ms', ratio: rate / 3000, met: rate >= 3000 && p99 <= 25, detail: `${format(rate)} req/s, p99 ${format(p99)} ms (ratio: rate ÷ 3,000)` });
  }
  const bundle = find('api', 'Worker bundle (wrangler deploy --dry-run)', 'seed edge');
  if (bundle) {
    const gzip = bundle.figures.gzip.value;
    out.push({ name: 'Worker bundle, gzipped', goal: '< 1 MiB', ratio: 1024 / gzip, met: gzip < 1024, detail: `${format(bundle.figures.raw.value)} KiB raw, ${format(gzip)} KiB gzipped (ratio: 1 MiB ÷ its size)` });
  }
  return out;
}

/** Three significant digits, thousands grouped. */
export function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const TITLES: Record<Part, string> = {
  kernels: 'Kernels (one dispatch repeated in a pass; GFLOP/s and least GB/s moved)',
  train: 'Training step (Adam, softmax cross-entropy)',
  infer: 'Inference',
  api: 'API under load (loopback; the backend says the server and its connections), and the Worker bundle',
};

/** Aligned text tables, one per part, then the targets. */
export function table(report: BenchReport): string {
  const lines: string[] = [];
  for (const part of PARTS) {
    const rows = report.rows.filter((r) => r.part === part);
    if (rows.length === 0) continue;
    const keys = [...new Set(rows.flatMap((r) => Object.keys(r.figures)))];
    const header = ['what', 'who', 'backend', ...keys, part === 'api' ? '÷ baseline' : 'seed ×'];
    const body = rows.map((r) => [
      r.what, r.who, r.backend,
      ...keys.map((k) => (r.figures[k] ? `${format(r.figures[k].value)} ${r.figures[k].unit}` : r.unavailable && k === keys[0] ? '—' : '')),
      r.ratio ? `${format(r.ratio.value)}×` : '',
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
    const render = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
    lines.push(TITLES[part], render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(render));
    for (const r of rows.filter((row) => row.unavailable)) lines.push(`  ${r.who} (${r.backend}), ${r.what}: ${r.unavailable}`);
    lines.push('');
  }
  if (report.targets.length) {
    lines.push('Targets (ratios within this run)');
    const width = Math.max(...report.targets.map((t) => t.name.length));
    for (const t of report.targets) lines.push(`  ${t.met ? 'met    ' : 'NOT met'}  ${t.name.padEnd(width)}  ${format(t.ratio).padStart(7)}×  goal ${t.goal}  (${t.detail})`);
    lines.push('');
  }
  const { cpu, cores, memoryGiB, loadAverage } = report.machine;
  lines.push(`${cpu}, ${cores} cores, ${memoryGiB} GiB, load average ${loadAverage.start.toFixed(1)} at the start and ${loadAverage.end.toFixed(1)} at the end`);
  lines.push(...Object.values(report.adapters));
  lines.push(`${report.date}; ${Object.entries(report.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return lines.join('\n');
}

/** Bar charts of the headline figure of each group (same unit, same meaning) stacked in one SVG. */
export function charts(report: BenchReport): string {
  const label = (r: Row) => `${r.who} (${r.backend})`;
  const groups: { title: string; filter: (r: Row) => boolean; figure: string; name?: (r: Row) => string }[] = [
    ...[64, 256].map((batch) => ({ title: `Training step, batch ${batch}: images/s`, filter: (r: Row) => r.part === 'train' && r.what === `training step, batch ${batch}`, figure: 'throughput' })),
    { title: 'Inference, batch 1: median latency, ms (shorter is better)', filter: (r) => r.part === 'infer' && r.what === 'inference, batch 1', figure: 'median' },
    { title: 'Inference, batch 256: images/s', filter: (r) => r.part === 'infer' && r.what === 'inference, batch 256', figure: 'throughput' },
    { title: 'Kernels: GFLOP/s', filter: (r) => r.part === 'kernels' && !!r.figures.compute, figure: 'compute', name: (r) => `${r.what} (${r.backend})` },
    { title: 'API: requests/s', filter: (r) => r.part === 'api', figure: 'rate', name: (r) => `${r.what.includes('reward') ? 'reward' : r.what.includes('predict') ? 'predict' : 'do nothing'} (${r.backend})` },
  ];
  const svgs: string[] = [];
  for (const g of groups) {
    const rows = measured(report.rows).filter((r) => g.filter(r) && r.figures[g.figure]);
    if (rows.length === 0) continue;
    const unit = rows[0].figures[g.figure].unit;
    svgs.push(barChart({ title: g.title, unit, bars: rows.map((r) => ({ label: (g.name ?? label)(r), value: r.figures[g.figure].value, group: r.who.startsWith('seed') ? 'seed' : r.who })), width: 900 }));
  }
  return stackCharts(svgs.length ? svgs : [barChart({ title: 'no figures', unit: '', bars: [] })]);
}
