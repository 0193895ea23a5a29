// The Node entry: the same app on @hono/node-server, with SQLite and a weights folder under one data directory.
import { getRequestListener } from '@hono/node-server';
import { createHash } from 'node:crypto';
import { createServer, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createApp } from '../app';
import type { Sha256 } from '../auth';
import { settingsFrom, type Env } from '../env';
import { errorBody } from '../errors';
import { simdEngineModule } from './simd_module';
import { openNodeStorage } from './storage';
import { pruneExpired, PRUNE_INTERVAL_MS } from '../retention';
import { webAssetServer } from './web_assets';

const SETTING_NAMES = [
  'EXPLORATION', 'REWARD_WAIT_SECONDS', 'DEFAULT_REWARD', 'API_KEYS', 'READ_KEYS', 'ADMIN_TOKEN', 'ALLOW_ANONYMOUS', 'RATE_LIMIT_PER_MINUTE', 'RETENTION_DAYS', 'EXPLORATION_SEED',
] as const;

/** SHA-256 from node:crypto: the same digest as Web Crypto's, without a round trip through the thread pool. */
export const nodeSha256: Sha256 = (bytes) => createHash('sha256').update(bytes).digest();

/** The settings among environment variables (process.env by default). */
export function envFrom(variables: Record<string, string | undefined>): Env {
  return Object.fromEntries(SETTING_NAMES.flatMap((name) => (variables[name] === undefined ? [] : [[name, variables[name]]])));
}

export interface NodeServerOptions {
  port: number;
  host?: string;
  dataDir: string;
  env?: Env;
  /** A built page (web/dist) to serve before the API, as wrangler serves its assets; none when unset. */
  webAssetsDir?: string;
  /** How often retention prunes on its own (RETENTION_DAYS; nothing when it is unset); hourly by default. */
  pruneEveryMs?: number;
  /** The clock of the app and of the pruning (ms since the epoch): Date.now unless a test moves it. */
  now?: () => number;
}

export interface NodeServer {
  url: string;
  close(): Promise<void>;
}

/** A raw HTTP answer in the documented error shape, for requests that never reach the app. */
function rawErrorAnswer(status: number, code: string, message: string): string {
  const body = JSON.stringify(errorBody(code, message));
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** Node answers a request it cannot parse with an empty 400 or 431: the JSON error instead. */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  if (error.code === 'HPE_HEADER_OVERFLOW') socket.end(rawErrorAnswer(431, 'headers_too_large', 'the request headers are over the limit'));
  else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') socket.end(rawErrorAnswer(408, 'request_timeout', 'the request did not arrive in time'));
  else socket.end(rawErrorAnswer(400, 'bad_request', 'the request is not valid HTTP/1.1'));
}

export async function startNodeServer({ port, host = '127.0.0.1', dataDir, env = envFrom(process.env), webAssetsDir, pruneEveryMs = PRUNE_INTERVAL_MS, now = Date.now }: NodeServerOptions): Promise<NodeServer> {
  // Read at start: a bad setting stops the server here, and ALLOW_ANONYMOUS=true is logged before the first request.
  const settings = settingsFrom(env);
  const storage = await openNodeStorage(dataDir);
  // Retention without exports: the Workers entry's cron trigger, as a timer that never keeps the process alive.
  const pruning = settings.retentionMs > 0 ? setInterval(() => {
    pruneExpired(storage, settings, now()).catch((error: unknown) => console.error('retention: prune failed:', error));
  }, pruneEveryMs).unref() : null;
  const app = createApp<Env>({ storage: () => storage, simdEngine: await simdEngineModule(), now, sha256: nodeSha256 });
  const asset = webAssetsDir ? await webAssetServer(webAssetsDir) : () => null;
  // A request no URL can be built from (a bad Host header) never reaches the app: it gets the JSON error too.
  const listener = getRequestListener((request) => asset(request) ?? app.fetch(request, env), {
    hostname: host,
    errorHandler: () => Response.json(errorBody('bad_request', 'the request URL or Host header is malformed'), { status: 400 }),
  });
  const server = createServer(listener).on('clientError', answerClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) =>
        server.close((error) => {
          if (pruning) clearInterval(pruning);
          storage.close().then(() => (error ? reject(error) : resolve()), reject);
        }),
      ),
  };
}
