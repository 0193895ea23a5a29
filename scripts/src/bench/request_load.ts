// The load side of bench:requests, in a child process (its CPU time is not the server's): on each message
// { url, route, count, connections, first }, sends `count` requests of that route with autocannon and answers
// { statuses } once every response has arrived. Predictions carry event ids cost-<first + i>; rewards reward them.
import autocannon from 'autocannon';

export type LoadRoute = 'live' | 'predict' | 'reward';

export interface LoadOrder {
  url: string;
  route: LoadRoute;
  count: number;
  connections: number;
  /** The number of the first event id this turn predicts or rewards. */
  first: number;
  /** Request bodies' pixels, as JSON arrays; predictions take them in turn. */
  images: string[];
  apiKey: string;
}

export interface LoadDone {
  statuses: Record<string, number>;
}

async function run({ url, route, count, connections, first, images, apiKey }: LoadOrder): Promise<LoadDone> {
  const client = { 'Content-Type': 'application/json', Authorization: `Bearer ${apiKey}` };
  let n = first;
  const requests: Record<LoadRoute, autocannon.Request> = {
    live: { method: 'GET', path: '/health/live' },
    predict: {
      method: 'POST', path: '/v1/predict', headers: client,
      setupRequest: (request) => {
        const i = n++;
        return { ...request, body: `{"eventId":"cost-${i}","pixels":${images[i % images.length]}}` };
      },
    },
    reward: {
      method: 'POST', headers: client, body: '{"value":1}',
      setupRequest: (request) => ({ ...request, path: `/v1/events/cost-${n++}/reward` }),
    },
  };
  const result = await new Promise<autocannon.Result>((resolve, reject) =>
    autocannon({ url, connections, amount: count, timeout: 30, requests: [requests[route]] }, (error, done) => (error ? reject(error) : resolve(done))),
  );
  const statuses: Record<string, number> = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, stats]) => [code, stats?.count ?? 0]));
  if (result.errors) statuses.errors = result.errors;
  if (result.timeouts) statuses.timeouts = result.timeouts;
  return { statuses };
}

process.on('message', (order: LoadOrder) => {
  run(order).then(
    (done) => process.send?.(done),
    (error: unknown) => process.send?.({ statuses: { [`error: ${error instanceof Error ? error.message : String(error)}`]: 1 } }),
  );
});
