// A typed client of the edge API (docs/design.md): what simulated clients and `pnpm evolve` use, over HTTP only.
import { randomUUID } from 'node:crypto';
import type { Prediction } from '@seed/edge';

export type { Prediction };
export interface ExportedEvent extends Prediction {
  type: 'event';
  cursor: string;
  time: string;
  pixels: number[];
  reward: number;
  rewardSource: 'client' | 'default';
  exploration: string | null;
  loggingProbabilities: number[] | null;
  challengerVersion: string | null;
  challengerShare: number;
}

export interface ChallengerInfo {
  version: string;
  share: number;
  setAt: string;
}

export interface ModelInfo {
  version: string;
  parent: string;
  created: string;
  sha256: string;
  metrics: Record<string, unknown>;
  active: boolean;
}

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** Unreachable, 502 and 503 (a restarting worker, a busy database) are worth another try; the rest are answers. */
const isTransient = (error: unknown) => error instanceof ApiError && (error.status === 0 || error.status === 502 || error.status === 503);

/** Runs an idempotent request up to `attempts` times, waiting 0.25 s, 0.5 s, ... between tries. */
export async function retryTransient<T>(request: () => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      await new Promise((r) => setTimeout(r, 250 * 2 ** (attempt - 1)));
    }
  }
}

export class ApiClient {
  constructor(readonly base: string, private readonly keys: { apiKey?: string; adminToken?: string } = {}) {}

  private async request(path: string, init: RequestInit & { role?: 'client' | 'admin' } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const token = init.role === 'admin' ? this.keys.adminToken : this.keys.apiKey;
    if (token) headers.set('Authorization', `Bearer ${token}`);
    let response: Response;
    try {
      response = await fetch(new URL(path, this.base), { ...init, headers, signal: init.signal ?? AbortSignal.timeout(60_000) });
    } catch (error) {
      throw new ApiError(0, 'unreachable', `${init.method ?? 'GET'} ${path}: ${(error as Error).message}`);
    }
    if (!response.ok) {
      const text = await response.text();
      let code = 'http_error';
      let message = text.slice(0, 200);
      try {
        const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
        code = body.error?.code ?? code;
        message = body.error?.message ?? message;
      } catch {
        // not the JSON error shape: keep the text
      }
      throw new ApiError(response.status, code, `${init.method ?? 'GET'} ${path}: ${response.status} ${code}: ${message}`);
    }
    return response;
  }

  private async fetchJson<T>(path: string, init: RequestInit & { role?: 'client' | 'admin' } = {}): Promise<T> {
    return (await (await this.request(path, init)).json()) as T;
  }

  private json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

  async health(): Promise<{ status: string; model: { version: string; sha256: string } | null }> {
    return this.fetchJson('/health');
  }

  /**
   * Predict carries an event id (a fresh one unless given), which makes it idempotent: a request lost to a restart
   * or a dropped connection is sent again and cannot log the event twice.
   */
  async predict(pixels: ArrayLike<number>, options: { eventId?: string; explore?: boolean } = {}): Promise<Prediction> {
    const body = { pixels: Array.from(pixels), ...options, eventId: options.eventId ?? randomUUID() };
    return retryTransient(() => this.fetchJson('/v1/predict', this.json(body)));
  }

  /** The same reward sent twice is accepted twice and stored once, so it is retried like predict. */
  async reward(eventId: string, value: number): Promise<void> {
    await retryTransient(() => this.request(`/v1/events/${encodeURIComponent(eventId)}/reward`, this.json({ value })));
  }

  /** One page of the event export after `cursor`; `complete` is false when the stream was cut short. */
  async events(cursor: string, limit = 1000): Promise<{ events: ExportedEvent[]; nextCursor: string; complete: boolean }> {
    const response = await this.request(`/v1/events?after=${encodeURIComponent(cursor)}&limit=${limit}`, { role: 'admin' });
    const events: ExportedEvent[] = [];
    let end: { nextCursor: string } | undefined;
    for (const line of (await response.text()).split('\n')) {
      if (!line.trim()) continue;
      const value = JSON.parse(line);
      if (value.type === 'end') end = value;
      else events.push(value);
    }
    const nextCursor = end?.nextCursor ?? events.at(-1)?.cursor ?? cursor;
    return { events, nextCursor, complete: !!end };
  }

  async activeModel(): Promise<ModelInfo | null> {
    try {
      return await this.fetchJson<ModelInfo>('/v1/model');
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }

  async models(): Promise<{ active: string | null; models: ModelInfo[] }> {
    return this.fetchJson('/v1/models');
  }

  async weights(version: string): Promise<Uint8Array> {
    return new Uint8Array(await (await this.request(`/v1/models/${encodeURIComponent(version)}/weights`)).arrayBuffer());
  }

  async upload(version: string, file: Uint8Array): Promise<ModelInfo> {
    return this.fetchJson(`/v1/models/${encodeURIComponent(version)}`, { method: 'PUT', role: 'admin', headers: { 'Content-Type': 'application/octet-stream' }, body: file });
  }

  async promote(version: string): Promise<ModelInfo> {
    return this.fetchJson(`/v1/models/${encodeURIComponent(version)}/promote`, { method: 'POST', role: 'admin' });
  }

  async rollback(): Promise<ModelInfo> {
    return this.fetchJson('/v1/rollback', { method: 'POST', role: 'admin' });
  }

  async challenger(): Promise<ChallengerInfo | null> {
    return (await this.fetchJson<{ challenger: ChallengerInfo | null }>('/v1/challenger', { role: 'admin' })).challenger;
  }

  /** Serves `version` beside the active model on `share` of the traffic where the two disagree. */
  async setChallenger(version: string, share?: number): Promise<ChallengerInfo> {
    return (await this.fetchJson<{ challenger: ChallengerInfo }>('/v1/challenger', { ...this.json({ version, share }), method: 'PUT', role: 'admin' })).challenger;
  }

  async clearChallenger(): Promise<void> {
    await this.request('/v1/challenger', { method: 'DELETE', role: 'admin' });
  }
}
