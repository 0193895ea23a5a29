// Servers started as child processes on loopback (tests, the load run): a free port, a process group, a readiness poll.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** wrangler without network: no telemetry, no error reports, no request.cf download. */
export const WRANGLER_OFFLINE_ENV = {
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
};

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface DetachedProcess {
  output(): string;
  /** The exit code, or null when a signal ended it. */
  exited: Promise<number | null>;
  /** Signals the whole process group and waits for its leader to exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A command in its own process group, so stopping it stops everything it started; its output is kept. */
export function startDetached(command: string, args: string[], options: { cwd: string; env?: Record<string, string> }): DetachedProcess {
  const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    output: () => output,
    exited,
    async stop(signal = 'SIGTERM') {
      try {
        // Also when the leader is gone: what it started may still run in its group.
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // The group is already gone.
      }
      return exited;
    },
  };
}

/** Polls a URL until it answers 2xx; fails early when the process exits, or at the deadline. */
export async function waitForHttp(url: string, server: DetachedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void server.exited.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(2000) })).ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms${exited ? ' (the server exited)' : ''}:\n${server.output().slice(-3000)}`);
}
