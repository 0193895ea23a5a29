// Who may call what. Roles: client keys (API_KEYS) predict and reward, reader keys (READ_KEYS) read the registry
// listing, the weights and /metrics, the admin token (ADMIN_TOKEN) administers and may read. Secrets are compared in
// constant time; requests are attributed to an id derived from the key, never the key itself.
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from './app_env';
import { ApiError, errorBody } from './errors';
import type { Settings } from './env';

export type Role = 'client' | 'reader' | 'admin';

/** The key id of requests without a key, where ALLOW_ANONYMOUS=true lets them in. */
export const ANONYMOUS_KEY_ID = 'anonymous';

const encoder = new TextEncoder();

/** SHA-256 of some bytes, at once or later. */
export type Sha256 = (bytes: Uint8Array) => Uint8Array | Promise<Uint8Array>;

export const webCryptoSha256: Sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));

const digest = async (text: string, sha256: Sha256 = webCryptoSha256) => sha256(encoder.encode(text));

/** Compares digests, so the time taken says nothing about the secret's content or length. */
function digestsEqual(given: Uint8Array, expected: Uint8Array): boolean {
  let difference = 0;
  for (let i = 0; i < given.length; i++) difference |= given[i] ^ expected[i];
  return difference === 0;
}

/** The id a key's events and rewards are recorded under: a hash, so the log never holds the key. */
export async function keyIdOf(key: string, sha256: Sha256 = webCryptoSha256): Promise<string> {
  const hash = await digest(`seed-key-id:${key}`, sha256);
  return `k_${Array.from(hash.subarray(0, 8), (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match ? match[1] : null;
}

/** A configured secret: its role, its digest (what a token is compared with) and the key id its requests get. */
interface KnownSecret {
  role: Role;
  digest: Uint8Array;
  keyId: string;
}

// The configured secrets' digests and key ids, hashed once per settings (settings are parsed once per environment),
// not on every request: each digest is a round trip through Node's thread pool.
const knownSecrets = new WeakMap<Settings, Promise<KnownSecret[]>>();

function secretsOf(settings: Settings, sha256: Sha256): Promise<KnownSecret[]> {
  let secrets = knownSecrets.get(settings);
  if (!secrets) {
    const { apiKeys, readKeys, adminToken } = settings;
    const configured: [Role, string][] = [
      ...apiKeys.map((key) => ['client', key] as [Role, string]),
      ...readKeys.map((key) => ['reader', key] as [Role, string]),
      ...(adminToken ? [['admin', adminToken] as [Role, string]] : []),
    ];
    secrets = Promise.all(configured.map(async ([role, secret]) => ({ role, digest: await digest(secret, sha256), keyId: await keyIdOf(secret, sha256) })));
    knownSecrets.set(settings, secrets);
  }
  return secrets;
}

/** Every role the token holds, and its key id; every configured secret is compared, whatever matches first. */
async function rolesOf(token: string, settings: Settings, sha256: Sha256): Promise<{ roles: Set<Role>; keyId: string | null }> {
  const [given, secrets] = await Promise.all([digest(token, sha256), secretsOf(settings, sha256)]);
  const roles = new Set<Role>();
  let keyId: string | null = null;
  for (const secret of secrets) {
    if (digestsEqual(given, secret.digest)) {
      roles.add(secret.role);
      keyId = secret.keyId;
    }
  }
  return { roles, keyId };
}

const NEEDS: Record<Role, string> = { client: 'a client key (API_KEYS)', reader: 'a reader key (READ_KEYS) or the admin token', admin: 'the admin token' };

/** Requests a key may make per minute: a fixed window per key. */
export interface RateLimiter {
  /** null when the request may go ahead, else the seconds to wait before trying again. */
  take(keyId: string, perMinute: number, now: number): Promise<number | null>;
}

/** One process's memory: the Node entry's limiter. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  async take(keyId: string, perMinute: number, now: number): Promise<number | null> {
    let window = this.windows.get(keyId);
    if (!window || now - window.start >= 60_000) {
      // Expired windows go, so the map holds at most the keys seen in the last minute.
      for (const [id, old] of this.windows) if (now - old.start >= 60_000) this.windows.delete(id);
      window = { start: now, count: 0 };
      this.windows.set(keyId, window);
    }
    if (window.count >= perMinute) return Math.max(1, Math.ceil((window.start + 60_000 - now) / 1000));
    window.count++;
    return null;
  }
}

/** The Workers Rate Limiting binding (`[[ratelimits]]` in wrangler.toml): its limit and 60 s period are set there. */
export interface RateLimitBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

export const bindingRateLimiter = (binding: RateLimitBinding): RateLimiter => ({
  take: async (keyId) => ((await binding.limit({ key: keyId })).success ? null : 60),
});

/**
 * Limiters that must all let a request through, asked in order; the first refusal answers (so a request the first one
 * refuses is not counted by the others). On Workers: the binding (its own limit from wrangler.toml, across isolates),
 * then RATE_LIMIT_PER_MINUTE in the isolate's memory, since a binding's limit cannot be set at run time.
 */
export const allRateLimiters = (...limiters: RateLimiter[]): RateLimiter => ({
  take: async (keyId, perMinute, now) => {
    for (const limiter of limiters) {
      const retryAfter = await limiter.take(keyId, perMinute, now);
      if (retryAfter !== null) return retryAfter;
    }
    return null;
  },
});

/**
 * Lets the request through when its bearer token holds the role (the admin token may also read), and puts its key id
 * in context; a client key over RATE_LIMIT_PER_MINUTE gets 429 with Retry-After.
 */
export const requireRole = (role: Role) =>
  createMiddleware<AppEnv>(async (c, next) => {
    // c.get, not c.var: Hono builds a fresh object of every variable on each read of c.var.
    const settings = c.get('settings');
    if (role === 'admin' && !settings.adminToken) throw new ApiError(403, 'admin_disabled', 'admin routes are off: set ADMIN_TOKEN to turn them on');
    const header = c.req.header('Authorization');
    const token = bearerToken(header);
    let keyId: string;
    if (!token) {
      if (!(role === 'client' && settings.allowAnonymous && header === undefined)) throw new ApiError(401, 'unauthorized', `send Authorization: Bearer <${NEEDS[role]}>`);
      keyId = ANONYMOUS_KEY_ID;
    } else {
      const { roles, keyId: matched } = await rolesOf(token, settings, c.get('sha256'));
      if (roles.size === 0 || matched === null) throw new ApiError(401, 'unauthorized', 'unknown key');
      if (!roles.has(role) && !(role === 'reader' && roles.has('admin'))) throw new ApiError(403, 'forbidden', `this route needs ${NEEDS[role]}`);
      keyId = matched;
    }
    if (role !== 'admin' && settings.rateLimitPerMinute > 0) {
      const retryAfter = await c.get('rateLimiter').take(keyId, settings.rateLimitPerMinute, c.get('now')());
      if (retryAfter !== null) {
        return c.json(errorBody('rate_limited', `over ${settings.rateLimitPerMinute} requests a minute for this key: try again in ${retryAfter} s`), 429, {
          'Retry-After': String(retryAfter),
        });
      }
    }
    c.set('keyId', keyId);
    await next();
  });
