// Small self-contained SVG charts (no fonts or scripts fetched): line charts for curves, bars for benchmarks.
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563'];
const escape = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
const fmt = (v: number) =>
  Math.abs(v) >= 1e6 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : Number(v.toPrecision(3)).toString();

export interface Series {
  name: string;
  points: [number, number][];
  /** Draw against the right-hand axis (e.g. accuracy beside loss). */
  right?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  rightLabel?: string;
  series: Series[];
  width?: number;
  height?: number;
}

function extent(values: number[]): [number, number] {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
  return [lo, hi];
}

export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 360;
  const m = { left: 64, right: o.rightLabel ? 64 : 20, top: 40, bottom: 48 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const all = o.series.flatMap((s) => s.points);
  const [x0, x1] = extent(all.map((p) => p[0]));
  const [l0, l1] = extent(o.series.filter((s) => !s.right).flatMap((s) => s.points.map((p) => p[1])));
  const [r0, r1] = extent(o.series.filter((s) => s.right).flatMap((s) => s.points.map((p) => p[1])));
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number, right?: boolean) => {
    const [a, b] = right ? [r0, r1] : [l0, l1];
    return m.top + plotH - ((y - a) / (b - a)) * plotH;
  };
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escape(o.title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const y = m.top + (plotH * i) / 4;
    parts.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + plotW}" y2="${y}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${m.left - 6}" y="${y + 4}" text-anchor="end">${fmt(l1 - ((l1 - l0) * i) / 4)}</text>`);
    if (o.rightLabel) parts.push(`<text x="${m.left + plotW + 6}" y="${y + 4}">${fmt(r1 - ((r1 - r0) * i) / 4)}</text>`);
  }
  // Whole-number x (generations, rounds) gets a tick per value; anything else four even steps.
  const integral = all.every(([x]) => Number.isInteger(x)) && x1 - x0 <= 12;
  const xTicks = integral ? Array.from({ length: x1 - x0 + 1 }, (_, i) => x0 + i) : [0, 1, 2, 3, 4].map((i) => x0 + ((x1 - x0) * i) / 4);
  for (const tick of xTicks) parts.push(`<text x="${sx(tick)}" y="${m.top + plotH + 18}" text-anchor="middle">${fmt(tick)}</text>`);
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#9ca3af"/>`);
  parts.push(`<text x="${m.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${escape(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(o.yLabel)}</text>`);
  if (o.rightLabel) parts.push(`<text transform="translate(${width - 14} ${m.top + plotH / 2}) rotate(90)" text-anchor="middle">${escape(o.rightLabel)}</text>`);
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    if (s.points.length === 1) {
      const [x, y] = s.points[0];
      parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y, s.right).toFixed(1)}" r="3" fill="${color}"/>`);
    } else if (s.points.length > 1) {
      const d = s.points.map(([x, y], j) => `${j ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y, s.right).toFixed(1)}`).join('');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"/>`);
    }
    parts.push(`<rect x="${m.left + 10}" y="${m.top + 8 + i * 16}" width="10" height="10" fill="${color}"/>`);
    parts.push(`<text x="${m.left + 26}" y="${m.top + 17 + i * 16}">${escape(s.name)}${s.right ? ' (right axis)' : ''}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface Bar {
  label: string;
  value: number;
  group?: string;
}

/** Horizontal bars, longest = max value; each bar labelled with its value and unit. */
export function barChart(o: { title: string; unit: string; bars: Bar[]; width?: number }): string {
  const width = o.width ?? 760;
  const rowH = 22;
  const left = 260;
  const height = 50 + o.bars.length * rowH + 20;
  const max = Math.max(...o.bars.map((b) => b.value), 1e-12);
  const groups = [...new Set(o.bars.map((b) => b.group ?? ''))];
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escape(o.title)}</text>`];
  o.bars.forEach((b, i) => {
    const y = 40 + i * rowH;
    const w = ((width - left - 110) * b.value) / max;
    parts.push(`<text x="${left - 8}" y="${y + 14}" text-anchor="end">${escape(b.label)}</text>`);
    parts.push(`<rect x="${left}" y="${y + 3}" width="${Math.max(1, w).toFixed(1)}" height="${rowH - 6}" fill="${COLORS[groups.indexOf(b.group ?? '') % COLORS.length]}"/>`);
    parts.push(`<text x="${left + w + 6}" y="${y + 15}">${fmt(b.value)} ${escape(o.unit)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface LineageNode {
  version: string;
  parent: string;
  label: string;
  promoted: boolean;
}

/** Versions left to right, each with an arrow from its parent; rejected candidates drawn dashed. */
export function lineageChart(title: string, nodes: LineageNode[]): string {
  const boxW = 120;
  const gap = 36;
  const width = Math.max(360, 20 + nodes.length * (boxW + gap));
  const height = 130;
  const x = (i: number) => 20 + i * (boxW + gap);
  const index = new Map(nodes.map((n, i) => [n.version, i]));
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#4b5563"/></marker></defs>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escape(title)}</text>`];
  nodes.forEach((n, i) => {
    const p = index.get(n.parent);
    if (p !== undefined) {
      const fromX = x(p) + boxW;
      const bend = p === i - 1 ? '' : ` Q ${(fromX + x(i)) / 2},10`; // arcs over the boxes between
      parts.push(`<path d="M${fromX},70${bend} ${x(i)},70" fill="none" stroke="#4b5563" marker-end="url(#arrow)"/>`);
    }
    parts.push(`<rect x="${x(i)}" y="48" width="${boxW}" height="44" rx="6" fill="${n.promoted ? '#dbeafe' : '#f3f4f6'}" stroke="${n.promoted ? '#2563eb' : '#9ca3af'}"${n.promoted ? '' : ' stroke-dasharray="4 3"'}/>`);
    parts.push(`<text x="${x(i) + boxW / 2}" y="66" text-anchor="middle" font-weight="bold">${escape(n.version)}</text>`);
    parts.push(`<text x="${x(i) + boxW / 2}" y="83" text-anchor="middle">${escape(n.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Several charts one below the other in one SVG (each keeps its own size). */
export function stackCharts(charts: string[]): string {
  const size = (svg: string) => {
    const match = /<svg[^>]*\swidth="(\d+(?:\.\d+)?)"[^>]*\sheight="(\d+(?:\.\d+)?)"/.exec(svg);
    if (!match) throw new Error('stackCharts: a chart without width and height');
    return { width: Number(match[1]), height: Number(match[2]) };
  };
  const sizes = charts.map(size);
  const width = Math.max(...sizes.map((s) => s.width), 1);
  const height = sizes.reduce((sum, s) => sum + s.height, 0);
  let y = 0;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`];
  charts.forEach((chart, i) => {
    parts.push(chart.replace(/^<svg /, `<svg x="0" y="${y}" `));
    y += sizes[i].height;
  });
  parts.push('</svg>');
  return parts.join('\n');
}
