// Request checks shared by the routes: size limits before parsing, zod validation with one clear error line, and the
// OpenAPI pieces every route declares (the error shape, JSON content).
import { z } from '@hono/zod-openapi';
import { zValidator } from '@hono/zod-validator';
import type { Context, ValidationTargets } from 'hono';
import { createMiddleware } from 'hono/factory';
import { ApiError, errorBodySchema } from './errors';
import { IMAGE_PIXELS } from '@seed/runtime/engine';

export const KiB = 1024;
export const MiB = 1024 * KiB;

const describeSize = (bytes: number) => (bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes / KiB} KiB`);

export const tooLarge = (what: string, maxBytes: number) => new ApiError(413, 'too_large', `${what} is over the limit of ${describeSize(maxBytes)}`);

/**
 * Past a limit, up to this many more bytes are read and dropped before the 413: the answer then follows the whole
 * request, so the connection stays usable (the Node entry would otherwise drop it while the client is still sending).
 * A larger body gets its 413 at once, with the connection closed.
 */
const MAX_DISCARDED_BYTES = 64 * MiB;

const textDecoder = new TextDecoder();

/**
 * A body of unknown length (chunked) or declared over the limit, read chunk by chunk: past `maxBytes` the bytes are
 * counted and dropped, past MAX_DISCARDED_BYTES more the request is refused with the connection closed.
 */
async function readWithin(body: ReadableStream<Uint8Array>, maxBytes: number, refuse: (closeConnection: boolean) => ApiError): Promise<Uint8Array<ArrayBuffer>> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    size += read.value.length;
    if (size <= maxBytes) chunks.push(read.value);
    else if (size > maxBytes + MAX_DISCARDED_BYTES) throw refuse(true);
  }
  if (size > maxBytes) throw refuse(false);
  const bytes = new Uint8Array(size);
  chunks.reduce((offset, chunk) => (bytes.set(chunk, offset), offset + chunk.length), 0);
  return bytes;
}

/** Refuses a body over `maxBytes` before anything parses it, and records its size for finer limits. */
/** Whether the request's Content-Type is JSON (`application/json`, or a `+json` type), parameters allowed. */
const sentAsJson = (c: Context): boolean => /^application\/([\w.-]+\+)?json\s*(;|$)/i.test(c.req.header('Content-Type') ?? '');

export const limitBody = (maxBytes: number) =>
  createMiddleware<{ Variables: { bodyBytes: number } }>(async (c, next) => {
    const refuse = (closeConnection: boolean) => {
      if (closeConnection) c.header('Connection', 'close');
      return tooLarge('the body', maxBytes);
    };
    const declared = c.req.header('Transfer-Encoding') ? Number.NaN : Number(c.req.header('Content-Length'));
    if (declared > maxBytes + MAX_DISCARDED_BYTES) throw refuse(true);
    let bytes: Uint8Array<ArrayBuffer>;
    if (declared <= maxBytes) {
      // A declared length within the limit: the HTTP parser delivers exactly that many bytes, so the body is read at
      // once. On the Node entry this reads the socket directly instead of through the web stream @hono/node-server
      // builds for `body` (a Request, an AbortSignal and a ReadableStream per request: ~100 µs of a predict).
      bytes = new Uint8Array(await c.req.raw.arrayBuffer());
    } else {
      const body = c.req.raw.body;
      if (!body) {
        c.set('bodyBytes', 0);
        return next();
      }
      bytes = await readWithin(body, maxBytes, refuse);
    }
    const size = bytes.length;
    if (size > maxBytes) throw refuse(false);
    // The routes read the body through Hono's cache (c.req.json(), .text(), .arrayBuffer()): it is put there, not into
    // a new Request (a copy of the request and a second stream to read). A JSON route's text is decoded at once.
    // (Hono keeps promises there; its type says otherwise.)
    const cache = c.req.bodyCache as Record<string, Promise<unknown>>;
    cache.arrayBuffer = Promise.resolve(bytes.buffer);
    if (sentAsJson(c)) cache.text = Promise.resolve(textDecoder.decode(bytes));
    c.set('bodyBytes', size);
    await next();
  });

/** `instances[3].pixels[17]` */
const pathText = (path: PropertyKey[]) => path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i ? '.' : ''}${String(part)}`)).join('');

/** The first issue as one line, with a count of the rest. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const [first] = issues;
  const where = first.path.length ? `${pathText(first.path)}: ` : '';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more ${issues.length === 2 ? 'problem' : 'problems'})` : '';
  return `${where}${first.message}${more}`;
}

/** A body the routes take only as JSON. */
export const unsupportedMediaType = () => new ApiError(415, 'unsupported_media_type', 'send the body as JSON with Content-Type: application/json');

type ValidationResult = { target: keyof ValidationTargets } & ({ success: true } | { success: false; error: { issues: readonly z.core.$ZodIssue[] } });

/** What every route's zod validation ends in: a 400 `invalid_<target>`, or a 415 for a JSON body without the JSON type. */
export const validationHook = (result: ValidationResult, c: Context): undefined => {
  if (result.target === 'json' && !sentAsJson(c)) throw unsupportedMediaType();
  if (!result.success) throw new ApiError(400, `invalid_${result.target === 'json' ? 'body' : result.target}`, describeIssues(result.error.issues));
};

/** zod validation as route middleware, for a part that must be checked before a later middleware (a body limit). */
export const validate = <Target extends keyof ValidationTargets, Schema extends z.ZodType>(target: Target, schema: Schema) => zValidator(target, schema, validationHook);

/** A JSON request or response body in a route's declaration. */
export const jsonContent = <Schema extends z.ZodType>(schema: Schema, description: string) => ({ description, content: { 'application/json': { schema } } });

/** A request body the route parses as JSON: required, so a body of another type reaches the validation hook (415). */
export const jsonBody = <Schema extends z.ZodType>(schema: Schema) => ({ required: true, content: { 'application/json': { schema } } });

const ERROR_DESCRIPTIONS = {
  400: 'invalid request: `error.message` says which field and why',
  401: 'no key, or an unknown one',
  403: 'the key may not use this route, or admin routes are off',
  404: 'not found',
  409: 'conflicts with what is stored',
  413: 'the body is over its size limit',
  415: 'the body is not JSON',
  429: 'over RATE_LIMIT_PER_MINUTE for this key: wait the seconds in Retry-After',
  500: 'a server fault or a misconfigured setting',
  503: 'storage unavailable or no active model: try again later',
} as const;

/** The error responses a route can give, each in the shape `{"error":{"code","message"}}`. */
export function errorResponses<Status extends keyof typeof ERROR_DESCRIPTIONS>(...statuses: Status[]) {
  return Object.fromEntries([...statuses, 500, 503].map((status) => [status, jsonContent(errorBodySchema, ERROR_DESCRIPTIONS[status as Status])])) as Record<
    Status | 500 | 503,
    ReturnType<typeof jsonContent<typeof errorBodySchema>>
  >;
}

/** The bearer-token scheme the document names for routes that need a key or the admin token. */
export const BEARER_AUTH = 'bearer';
export const bearerSecurity = [{ [BEARER_AUTH]: [] }];

/**
 * 784 numbers in [0, 1], checked in one plain loop: a schema per element cost more than the inference (250 µs against
 * 75). The issues are zod's own would be: each bad element at its index, then a wrong length.
 */
export const pixelsSchema = z.custom<number[]>().superRefine((value, ctx) => {
  if (!Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: `must be an array of ${IMAGE_PIXELS} numbers in [0, 1]` });
    return;
  }
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i];
    if (typeof v === 'number' && v >= 0 && v <= 1) continue;
    ctx.addIssue({ code: 'custom', message: typeof v === 'number' ? 'must be in [0, 1]' : 'must be a number in [0, 1]', path: [i] });
  }
  if (value.length !== IMAGE_PIXELS) ctx.addIssue({ code: 'custom', message: `must hold exactly ${IMAGE_PIXELS} values, not ${value.length}` });
}).openapi({
  type: 'array',
  items: { type: 'number', minimum: 0, maximum: 1 },
  minItems: IMAGE_PIXELS,
  maxItems: IMAGE_PIXELS,
  description: `a 28×28 image, row by row`,
});

export const eventIdSchema = z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be 1 to 64 characters of A-Z a-z 0-9 _ -' });

export const versionSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'must be 1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit' });
