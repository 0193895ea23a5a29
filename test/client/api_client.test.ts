import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, ApiError } from '@seed/client';

// A server that answers each event id's first predict with 503 (a restarting worker) and later ones with 200, and the
// registry listing with a proxy's HTML error page; a model's weights with 503 on the first read.
let server: Server;
let base: string;
const seen: { eventId: string; status: number }[] = [];
let listings = 0;
let weightReads = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      if (req.url === '/v1/models/v9/weights') {
        weightReads++;
        res.writeHead(weightReads === 1 ? 503 : 200, { 'Content-Type': 'application/octet-stream' });
        res.end(weightReads === 1 ? '' : Buffer.from([1, 2, 3]));
        return;
      }
      if (req.url === '/v1/models') {
        listings++;
        res.writeHead(502, { 'Content-Type': 'text/html' });
        res.end('<html>bad gateway</html>');
        return;
      }
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

  it('carries the API\'s code and message in its one error class', async () => {
    const refused = await new ApiClient(base).predict(new Float32Array(783)).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 400, code: 'invalid_request', message: 'try again' });
  });

  it('says what came back when the answer is not the JSON error shape, after trying the read 4 times', async () => {
    listings = 0;
    await expect(new ApiClient(base).models()).rejects.toMatchObject({ status: 502, code: 'http_error', message: 'GET /v1/models: 502 Bad Gateway <html>bad gateway</html>' });
    expect(listings).toBe(4);
  });

  it('reads the weights again after a 503', async () => {
    weightReads = 0;
    expect([...await new ApiClient(base).weights('v9')]).toEqual([1, 2, 3]);
    expect(weightReads).toBe(2);
  });

  it('reports an API it cannot reach as status 0', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    await expect(new ApiClient(`http://127.0.0.1:${port}`).health()).rejects.toMatchObject({ status: 0, code: 'unreachable' });
  });
});
