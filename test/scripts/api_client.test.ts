import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, ApiError } from '@seed/scripts/lib/api_client';

// A server that answers each event id's first predict with 503 (a restarting worker) and later ones with 200.
let server: Server;
let base: string;
const seen: { eventId: string; status: number }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      const { eventId, pixels } = JSON.parse(body) as { eventId: string; pixels: number[] };
      const status = pixels.length !== 784 ? 400 : seen.some((s) => s.eventId === eventId) ? 200 : 503;
      seen.push({ eventId, status });
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(status === 200
        ? { eventId, modelVersion: 'v1', action: 3, probabilities: new Array(10).fill(0.1), propensity: 0.1, explored: true }
        : { error: { code: status === 400 ? 'invalid_request' : 'restarting', message: 'try again' } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('ApiClient', () => {
  it('sends predict again with the same event id after a 503, and returns the answer', async () => {
    seen.length = 0;
    const prediction = await new ApiClient(base).predict(new Float32Array(784));
    expect(seen.map((s) => s.status)).toEqual([503, 200]);
    expect(seen[0].eventId).toBe(seen[1].eventId);
    expect(prediction.eventId).toBe(seen[0].eventId);
  });

  it('does not retry an answer such as 400', async () => {
    seen.length = 0;
    await expect(new ApiClient(base).predict(new Float32Array(783))).rejects.toSatisfy((e) => e instanceof ApiError && e.status === 400);
    expect(seen).toHaveLength(1);
  });
});
