// Calls to the edge API from the page (same origin): JSON in and out, every failure as an ApiError with a readable message.

/** A refused or failed call: the API's own code and message, or a network failure (status 0). */
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

export interface CallOptions {
  method?: 'GET' | 'POST';
  json?: unknown;
  /** Sent as `Authorization: Bearer …`: an API key or the admin token. */
  token?: string | null;
}

/** The answer's JSON (null for 204). */
export async function callApi<T>(path: string, { method = 'GET', json, token }: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  } catch (error) {
    throw new ApiError(0, 'network', `cannot reach the API (${(error as Error).message})`);
  }
  if (response.status === 204) return null as T;
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(response.status, 'bad_response', `the API answered ${response.status} ${response.statusText} without JSON`);
  }
  if (!response.ok) {
    const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
    const message = typeof error?.message === 'string' ? error.message : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, typeof error?.code === 'string' ? error.code : 'http_error', message);
  }
  return body as T;
}
