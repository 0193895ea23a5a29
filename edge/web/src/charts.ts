// The pages' two charts, drawn with plain DOM: ten probability bars, and values per generation as SVG lines.
import { make } from './dom';

/** Ten bars, one per digit, the chosen one marked; each bar says its value in text too. */
export function probabilityBars(probabilities: readonly number[], chosen: number): HTMLElement {
  const chart = make('ol', undefined, { class: 'bars', 'aria-label': 'Probability of each digit' });
  probabilities.forEach((probability, digit) => {
    const percent = `${(probability * 100).toFixed(1)}%`;
    const item = make('li', undefined, { class: digit === chosen ? 'bar chosen' : 'bar', 'aria-label': `${digit}: ${percent}` });
    const track = make('span', undefined, { class: 'track', 'aria-hidden': 'true' });
    const fill = make('span', undefined, { class: 'fill' });
    // CSSOM, not a style attribute: the page's content security policy allows no inline styles.
    fill.style.height = `${Math.max(probability * 100, 0.5)}%`;
    track.append(fill);
    item.append(make('span', percent, { class: 'value', 'aria-hidden': 'true' }), track, make('span', String(digit), { class: 'digit', 'aria-hidden': 'true' }));
    chart.append(item);
  });
  return chart;
}

export interface Series {
  name: string;
  /** A CSS class that colours the line and its legend entry. */
  className: string;
  /** One value in [-1,1] per generation (accuracies, rewards); null where there is none. */
  values: (number | null)[];
}

const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const created = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) created.setAttribute(name, String(value));
  if (text !== undefined) created.textContent = text;
  return created;
}

/** Lines over generations (x: the labels, in order; y: 0 to 1, or −1 to 1 when a value is negative), a legend, a title per point. */
export function generationChart(labels: readonly string[], series: readonly Series[], title: string, width = 640): SVGSVGElement {
  // Drawn at the width it is shown at, so its text keeps its size on a phone.
  const height = Math.round(Math.min(260, Math.max(200, width * 0.45)));
  const margin = { left: 48, right: 20, top: width >= 560 ? 34 : 56, bottom: 40 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const x = (i: number) => margin.left + (labels.length === 1 ? plotWidth / 2 : (i * plotWidth) / (labels.length - 1));
  const low = series.some(({ values }) => values.some((value) => value !== null && value < 0)) ? -1 : 0;
  const y = (value: number) => margin.top + ((1 - value) / (1 - low)) * plotHeight;

  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, class: 'generations' });
  chart.append(svg('title', {}, title));
  for (let tick = low; tick <= 1; tick += (1 - low) / 4) {
    chart.append(svg('line', { x1: margin.left, x2: width - margin.right, y1: y(tick), y2: y(tick), class: 'grid' }));
    chart.append(svg('text', { x: margin.left - 6, y: y(tick) + 4, 'text-anchor': 'end', class: 'tick' }, String(tick)));
  }
  // Labels about 50 pixels apart at most: every few generations one, when there are more.
  const labelEvery = Math.ceil(labels.length / Math.max(2, Math.floor(plotWidth / 50)));
  labels.forEach((label, i) => {
    if (i % labelEvery === 0) chart.append(svg('text', { x: x(i), y: height - margin.bottom + 18, 'text-anchor': 'middle', class: 'tick' }, label));
  });
  chart.append(svg('text', { x: margin.left + plotWidth / 2, y: height - 4, 'text-anchor': 'middle', class: 'axis' }, 'generation (version)'));

  series.forEach(({ name, className, values }, s) => {
    // A gap where a generation has no value: the line is broken there, not drawn through.
    const path = values
      .map((value, i) => (value === null ? null : `${i > 0 && values[i - 1] !== null ? 'L' : 'M'}${x(i).toFixed(1)},${y(value).toFixed(1)}`))
      .filter(Boolean)
      .join(' ');
    if (path) chart.append(svg('path', { d: path, class: `line ${className}` }));
    values.forEach((value, i) => {
      if (value === null) return;
      const point = svg('circle', { cx: x(i), cy: y(value), r: 4, class: `point ${className}` });
      point.append(svg('title', {}, `${labels[i]}: ${name} ${value.toFixed(3)}`));
      chart.append(point);
    });
    // The legend in one row on a wide chart, one entry under another on a narrow one.
    const [legendX, legendY] = width >= 560 ? [margin.left + s * 180, 10] : [margin.left, 4 + s * 15];
    chart.append(svg('rect', { x: legendX, y: legendY, width: 14, height: 4, class: `swatch ${className}` }));
    chart.append(svg('text', { x: legendX + 20, y: legendY + 6, class: 'legend' }, name));
  });
  return chart;
}
