// The Node entry serves the built page as wrangler serves `[assets]`: names without .html, redirects from them, the API
// left alone.
import { buildWebAssets, webAssetServer } from '@seed/edge/node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { temporaryDir } from './support';

let dir: Awaited<ReturnType<typeof temporaryDir>>;
let asset: Awaited<ReturnType<typeof webAssetServer>>;

beforeAll(async () => {
  dir = await temporaryDir('web-assets');
  await buildWebAssets(dir.path);
  asset = await webAssetServer(dir.path);
});
afterAll(() => dir?.remove());

const get = (path: string, method = 'GET') => asset(new Request(`http://127.0.0.1${path}`, { method }));

it('serves / and each page by its name without .html, and the bundles with their types', async () => {
  for (const [path, title] of [['/', 'draw a digit'], ['/models', 'model registry'], ['/docs', 'API reference']]) {
    const page = get(path) as Response;
    expect(page.headers.get('Content-Type'), path).toBe('text/html; charset=utf-8');
    expect(await page.text(), path).toContain(`<title>seed · ${title}</title>`);
  }
  expect(get('/docs.js')?.headers.get('Content-Type')).toBe('text/javascript; charset=utf-8');
  expect(get('/docs.css')?.headers.get('Content-Type')).toBe('text/css; charset=utf-8');
  const head = get('/style.css', 'HEAD') as Response;
  expect([head.status, head.body, Number(head.headers.get('Content-Length'))]).toEqual([200, null, expect.any(Number)]);
});

it('redirects a .html name or a trailing slash to the short name, keeping the query', () => {
  for (const [from, to] of [['/models.html?x=1', '/models?x=1'], ['/index.html', '/'], ['/models/', '/models']]) {
    const answer = get(from) as Response;
    expect([answer.status, answer.headers.get('Location')], from).toEqual([307, to]);
  }
});

it('leaves the API, unknown paths and other methods to the app', () => {
  expect(get('/openapi.json')).toBeNull();
  expect(get('/v1/models')).toBeNull();
  expect(get('/nothing-here')).toBeNull();
  expect(get('/models', 'POST')).toBeNull();
});
