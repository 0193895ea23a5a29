// The Node entry: the same app on @hono/node-server, with SQLite and a weights folder under one data directory.
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createApp } from '../app';
import type { Env } from '../env';
import { openNodeStorage } from './storage';

const SETTING_NAMES = ['EXPLORATION', 'REWARD_WAIT_SECONDS', 'DEFAULT_REWARD', 'API_KEYS', 'ADMIN_TOKEN'] as const;

/** The settings among environment variables (process.env by default). */
export function envFrom(variables: Record<string, string | undefined>): Env {
  return Object.fromEntries(SETTING_NAMES.flatMap((name) => (variables[name] === undefined ? [] : [[name, variables[name]]])));
}

export interface NodeServerOptions {
  port: number;
  host?: string;
  dataDir: string;
  env?: Env;
}

export interface NodeServer {
  url: string;
  close(): Promise<void>;
}

export async function startNodeServer({ port, host = '127.0.0.1', dataDir, env = envFrom(process.env) }: NodeServerOptions): Promise<NodeServer> {
  const storage = await openNodeStorage(dataDir);
  const app = createApp<Env>({ storage: () => storage });
  const server = await new Promise<ServerType>((resolve, reject) => {
    const listening: ServerType = serve({ fetch: (request) => app.fetch(request, env), port, hostname: host }, () => resolve(listening));
    listening.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) =>
        server.close((error) => {
          storage.close();
          if (error) reject(error);
          else resolve();
        }),
      ),
  };
}
