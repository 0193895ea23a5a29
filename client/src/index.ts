// The typed client of the edge API: paths, bodies and answers typed from the app's routes and zod schemas (hono/client),
// every refusal or failure one ApiError. Used by `pnpm simulate`, `pnpm evolve`, `pnpm start` and the page.
import type { App } from '@seed/edge';
import { hc, type ClientResponse, type InferResponseType } from 'hono/client';

/** A refused or failed call: the API's own status, code and message, or status 0 when the API cannot be reached. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Routes = ReturnType<typeof hc<App>>;
export type Health = InferResponseType<Routes['health']['$get'], 200>;
export type Prediction = Exclude<InferResponseType<Routes['v1']['predict']['$post'], 200>, { predictions: unknown }>;
export type ActiveModel = InferResponseType<Routes['v1']['model']['$get'], 200>;
export type ModelListing = InferResponseType<Routes['v1']['models']['$get'], 200>;
export type ModelSummary = ModelListing['models'][number];
export type StoredModel = InferResponseType<Routes['v1']['models'][':version']['$put'], 201>;
export type ExportedEvent = Extract<ExportLine, { type: 'event' }>;
export type Challenger = InferResponseType<Routes['v1']['challenger']['$get'], 200>['challenger'];
type ExportLine = import('@seed/edge').ExportLine;

export interface ClientKeys {
  /** Sent on predict and reward: a key from API_KEYS. */
  apiKey?: string | null;
  /** Sent on the read routes (the registry listing, weights): a key from READ_KEYS; without it, the admin token. */
  readKey?: string | null;
  /** Sent on admin routes (upload, promote, rollback, the challenger, the event export). */
  adminToken?: string | null;
}

/** Unreachable, 502 and 503 (a restarting worker, a busy database) are worth another try; the rest are answers. */
const isTransient = (error: unknown) => error instanceof ApiError && (error.status === 0 || error.status === 502 || error.status === 503);

/** Runs an idempotent request up to `attempts` times, waiting 0.25 s, 0.5 s, ... between tries. */
async function retryTransient<T>(request: () => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** (attempt - 1)));
    }
  }
}

/** The answer when it is a 2xx; otherwise the API's error as an ApiError (its text when it is not the JSON error shape). */
/** The 2xx answers among a route's typed responses; a plain Response for a route whose answer is a stream or bytes. */
type Succeeded<R> = [Extract<R, { ok: true }>] extends [never] ? Response : Extract<R, { ok: true }>;

async function succeeded<R extends ClientResponse<unknown, number, string>>(request: string, answer: Promise<R>): Promise<Succeeded<R>> {
  let response: R;
  try {
    response = await answer;
  } catch (error) {
    throw new ApiError(0, 'unreachable', `${request}: cannot reach the API (${(error as Error).message})`);
  }
  if (response.ok) return response as unknown as Succeeded<R>;
  const text = await response.text();
  let error: { code?: unknown; message?: unknown } | undefined;
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error;
  } catch {
    // Not JSON (a proxy's page, say): the text says what happened.
  }
  const code = typeof error?.code === 'string' ? error.code : 'http_error';
  const message = typeof error?.message === 'string' ? error.message : `${request}: ${response.status} ${response.statusText} ${text.slice(0, 200)}`.trim();
  throw new ApiError(response.status, code, message);
}

export class ApiClient {
  private readonly routes: Routes;

  /** `base`: the API's origin, e.g. http://127.0.0.1:8787 (the page passes its own). */
  constructor(
    readonly base: string,
    private readonly keys: ClientKeys = {},
  ) {
    // Each call gets its own time limit.
    this.routes = hc<App>(base, { fetch: (input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, signal: AbortSignal.timeout(60_000) }) });
  }

  private auth(role: keyof ClientKeys): { headers: Record<string, string> } {
    // The admin token may read too.
    const token = role === 'readKey' ? (this.keys.readKey ?? this.keys.adminToken) : this.keys[role];
    return { headers: token ? { Authorization: `Bearer ${token}` } : {} };
  }

  async health(): Promise<Health> {
    return (await succeeded('GET /health', this.routes.health.$get())).json();
  }

  /**
   * Predict carries an event id (a fresh one unless given), which makes it idempotent: a request lost to a restart
   * or a dropped connection is sent again and cannot log the event twice.
   */
  async predict(pixels: ArrayLike<number>, options: { eventId?: string; explore?: boolean } = {}): Promise<Prediction> {
    const json = { pixels: Array.from(pixels), ...options, eventId: options.eventId ?? crypto.randomUUID() };
    const response = await retryTransient(() => succeeded('POST /v1/predict', this.routes.v1.predict.$post({ json }, this.auth('apiKey'))));
    return (await response.json()) as Prediction;
  }

  /** The same reward sent twice is accepted twice and stored once, so it is retried like predict. */
  async reward(eventId: string, value: number): Promise<void> {
    const param = { eventId: encodeURIComponent(eventId) };
    await retryTransient(() => succeeded('POST /v1/events/{eventId}/reward', this.routes.v1.events[':eventId'].reward.$post({ param, json: { value } }, this.auth('apiKey'))));
  }

  /** One page of the event export after `cursor`; `complete` is false when the stream was cut short. */
  async events(cursor: string, limit = 1000): Promise<{ events: ExportedEvent[]; nextCursor: string; complete: boolean }> {
    const response = await succeeded('GET /v1/events', this.routes.v1.events.$get({ query: { after: cursor, limit: String(limit) } }, this.auth('adminToken')));
    const events: ExportedEvent[] = [];
    let end: Extract<ExportLine, { type: 'end' }> | undefined;
    for (const line of (await response.text()).split('\n')) {
      if (!line.trim()) continue;
      const value = JSON.parse(line) as ExportLine;
      if (value.type === 'end') end = value;
      else events.push(value);
    }
    const nextCursor = end?.nextCursor ?? events.at(-1)?.cursor ?? cursor;
    return { events, nextCursor, complete: !!end };
  }

  /** The active model, or null when none is. */
  async activeModel(): Promise<ActiveModel | null> {
    try {
      return await retryTransient(async () => (await succeeded('GET /v1/model', this.routes.v1.model.$get())).json());
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }

  async models(): Promise<ModelListing> {
    return retryTransient(async () => (await succeeded('GET /v1/models', this.routes.v1.models.$get({}, this.auth('readKey')))).json());
  }

  async weights(version: string): Promise<Uint8Array> {
    const param = { version: encodeURIComponent(version) };
    // Retried as a whole: a read cut off mid-body is as transient as one never answered.
    return retryTransient(async () => {
      const response = await succeeded('GET /v1/models/{version}/weights', this.routes.v1.models[':version'].weights.$get({ param }, this.auth('readKey')));
      try {
        return new Uint8Array(await response.arrayBuffer());
      } catch (error) {
        throw new ApiError(0, 'unreachable', `GET /v1/models/{version}/weights: the body was cut off (${(error as Error).message})`);
      }
    });
  }

  async upload(version: string, file: Uint8Array): Promise<StoredModel> {
    const { headers } = this.auth('adminToken');
    const init = { body: file as Uint8Array<ArrayBuffer>, headers: { ...headers, 'Content-Type': 'application/octet-stream' } };
    const request = this.routes.v1.models[':version'].$put({ param: { version: encodeURIComponent(version) } }, { init });
    return (await succeeded('PUT /v1/models/{version}', request)).json();
  }

  async promote(version: string): Promise<ActiveModel> {
    const param = { version: encodeURIComponent(version) };
    return (await succeeded('POST /v1/models/{version}/promote', this.routes.v1.models[':version'].promote.$post({ param }, this.auth('adminToken')))).json();
  }

  async rollback(): Promise<ActiveModel> {
    return (await succeeded('POST /v1/rollback', this.routes.v1.rollback.$post({}, this.auth('adminToken')))).json();
  }

  async challenger(): Promise<Challenger> {
    return retryTransient(async () => (await (await succeeded('GET /v1/challenger', this.routes.v1.challenger.$get({}, this.auth('adminToken')))).json()).challenger);
  }

  /** Serves `version` beside the active model on `share` of the traffic where the two disagree. */
  async setChallenger(version: string, share?: number): Promise<NonNullable<Challenger>> {
    const response = await succeeded('PUT /v1/challenger', this.routes.v1.challenger.$put({ json: { version, share } }, this.auth('adminToken')));
    return (await response.json()).challenger as NonNullable<Challenger>;
  }

  async clearChallenger(): Promise<void> {
    await succeeded('DELETE /v1/challenger', this.routes.v1.challenger.$delete({}, this.auth('adminToken')));
  }
}
