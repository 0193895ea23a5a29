// docs/benchmarks.md is generated from docs/bench.json: its tables and chart must be what that JSON renders to.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BENCH_DOCS, renderBenchDocs } from '@seed/scripts/bench/docs';
import { charts, type BenchReport } from '@seed/scripts/bench/report';

describe('the benchmark page', () => {
  const report = JSON.parse(readFileSync(BENCH_DOCS.json, 'utf8')) as BenchReport;
  const doc = readFileSync(BENCH_DOCS.doc, 'utf8');

  it('holds exactly the tables docs/bench.json renders to (run `pnpm bench:docs` after a bench run)', () => {
    expect(doc).toBe(renderBenchDocs(doc, report));
  });

  it('shows the chart of that run', () => {
    expect(readFileSync(BENCH_DOCS.plot, 'utf8')).toBe(charts(report));
  });

  it('refuses a page without its markers rather than writing the tables somewhere', () => {
    expect(() => renderBenchDocs('# Benchmarks\n', report)).toThrow(/no generated part/);
  });

  it('rewrites a stale generated part', () => {
    const stale = doc.replace(/```text\n[\s\S]*?```/, '```text\nold figures\n```');
    expect(stale).not.toBe(doc);
    expect(renderBenchDocs(stale, report)).toBe(doc);
  });
});
