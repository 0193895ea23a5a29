// API keys for predict and reward, the admin token for admin routes; compared in constant time.
import { createMiddleware } from 'hono/factory';
import { ApiError } from './errors';
import type { AppEnv } from './app_env';

const encoder = new TextEncoder();

/** Compares digests, so the time taken says nothing about the secret's content or length. */
async function secretEquals(given: string, secret: string): Promise<boolean> {
  const [a, b] = await Promise.all([given, secret].map(async (text) => new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)))));
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match ? match[1] : null;
}

/** Admin routes need the admin token; client routes need an API key or the admin token when keys are configured. */
export const requireRole = (role: 'client' | 'admin') =>
  createMiddleware<AppEnv>(async (c, next) => {
    const { apiKeys, adminToken } = c.var.settings;
    if (role === 'admin' && !adminToken) throw new ApiError(403, 'admin_disabled', 'admin routes are off: set ADMIN_TOKEN to turn them on');
    if (role === 'client' && apiKeys.length === 0) return next();
    const token = bearerToken(c.req.header('Authorization'));
    if (!token) throw new ApiError(401, 'unauthorized', `send Authorization: Bearer <${role === 'admin' ? 'admin token' : 'API key'}>`);
    const [isAdmin, ...keyMatches] = await Promise.all([adminToken ? secretEquals(token, adminToken) : false, ...apiKeys.map((key) => secretEquals(token, key))]);
    const isClient = keyMatches.includes(true);
    if (!isAdmin && !isClient) throw new ApiError(401, 'unauthorized', 'unknown key');
    if (role === 'admin' && !isAdmin) throw new ApiError(403, 'forbidden', 'this route needs the admin token, not an API key');
    await next();
  });
