// Prometheus text: request counts and latency by route and status (this isolate or process), and per model version
// predictions and rewards (from the event log, so every isolate reports the same).
import type { ModelStats } from './storage/types';

const LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface RequestSeries {
  labels: string;
  count: number;
  sumSeconds: number;
  /** Count per bucket, not cumulative: rendering adds them up. */
  buckets: number[];
}

const label = (value: string) => JSON.stringify(value).slice(1, -1);
const labels = (pairs: Record<string, string>) =>
  Object.entries(pairs)
    .map(([name, value]) => `${name}="${label(value)}"`)
    .join(',');

export class RequestMetrics {
  private readonly series = new Map<string, RequestSeries>();

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = labels({ method, route, status: String(status) });
    let series = this.series.get(key);
    if (!series) this.series.set(key, (series = { labels: key, count: 0, sumSeconds: 0, buckets: LATENCY_BUCKETS_SECONDS.map(() => 0) }));
    series.count++;
    series.sumSeconds += seconds;
    const bucket = LATENCY_BUCKETS_SECONDS.findIndex((bound) => seconds <= bound);
    if (bucket >= 0) series.buckets[bucket]++;
  }

  render(): string[] {
    const all = [...this.series.values()];
    const lines = [
      '# HELP seed_http_requests_total HTTP requests by route and status.',
      '# TYPE seed_http_requests_total counter',
      ...all.map((s) => `seed_http_requests_total{${s.labels}} ${s.count}`),
      '# HELP seed_http_request_duration_seconds HTTP request latency by route and status.',
      '# TYPE seed_http_request_duration_seconds histogram',
    ];
    for (const s of all) {
      let cumulative = 0;
      LATENCY_BUCKETS_SECONDS.forEach((bound, i) => {
        cumulative += s.buckets[i];
        lines.push(`seed_http_request_duration_seconds_bucket{${s.labels},le="${bound}"} ${cumulative}`);
      });
      lines.push(`seed_http_request_duration_seconds_bucket{${s.labels},le="+Inf"} ${s.count}`);
      lines.push(`seed_http_request_duration_seconds_sum{${s.labels}} ${s.sumSeconds}`);
      lines.push(`seed_http_request_duration_seconds_count{${s.labels}} ${s.count}`);
    }
    return lines;
  }
}

export function renderModelStats(stats: ModelStats[]): string[] {
  const byVersion = (s: ModelStats) => labels({ model_version: s.modelVersion });
  return [
    '# HELP seed_predictions_total Logged predictions by model version.',
    '# TYPE seed_predictions_total counter',
    ...stats.map((s) => `seed_predictions_total{${byVersion(s)}} ${s.predictions}`),
    '# HELP seed_rewards_total Client rewards by model version.',
    '# TYPE seed_rewards_total counter',
    ...stats.map((s) => `seed_rewards_total{${byVersion(s)}} ${s.rewards}`),
    '# HELP seed_reward_mean Mean reward by model version: client rewards, and the default reward for events past the wait.',
    '# TYPE seed_reward_mean gauge',
    ...stats.filter((s) => s.rewardMean !== null).map((s) => `seed_reward_mean{${byVersion(s)}} ${s.rewardMean}`),
  ];
}
