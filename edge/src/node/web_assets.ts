// The page's assets: web/static copied as they are, each web/src/*_page.ts bundled by esbuild and the security headers
// as wrangler's `_headers` file, into web/dist, which wrangler serves as static assets. wrangler runs this before
// `wrangler dev` and `wrangler deploy` ([build] in wrangler.toml); the Node entry's command runs it at start and serves
// the folder the same way.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { assetHeadersFile, SECURITY_HEADERS } from '../security_headers';

export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
export const WEB_ASSETS_DIR = join(WEB_DIR, 'dist');

/** Builds the assets into `outDir`; returns the written paths, relative to it. */
export async function buildWebAssets(outDir = WEB_ASSETS_DIR): Promise<string[]> {
  const sources = join(WEB_DIR, 'src');
  const pages = (await readdir(sources)).filter((name) => name.endsWith('_page.ts'));
  const bundles = await build({
    entryPoints: Object.fromEntries(pages.map((name) => [name.replace(/_page\.ts$/, ''), join(sources, name)])),
    outdir: outDir,
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
  });
  const staticDir = join(WEB_DIR, 'static');
  const statics = await Promise.all((await readdir(staticDir)).map(async (name) => ({ path: join(outDir, name), contents: await readFile(join(staticDir, name)) })));
  const headers = { path: join(outDir, '_headers'), contents: new TextEncoder().encode(assetHeadersFile()) };
  const files = [...bundles.outputFiles.map(({ path, contents }) => ({ path, contents })), ...statics, headers];
  await mkdir(outDir, { recursive: true });
  // Each file is written whole under a temporary name beside the folder and renamed into it: a server reading the folder,
  // or a second build running at the same time (two test files start wrangler), never sees half a file.
  await Promise.all(
    files.map(async ({ path, contents }) => {
      await mkdir(dirname(path), { recursive: true });
      const temporary = join(dirname(outDir), `.${basename(path)}.${randomUUID()}.partial`);
      await writeFile(temporary, contents);
      await rename(temporary, path);
    }),
  );
  return files.map(({ path }) => relative(outDir, path)).sort();
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/**
 * Answers a request from the built assets as wrangler's `[assets]` does with its default html_handling
 * ("auto-trailing-slash"): a file by its name, `/NAME` from NAME.html, `/` from index.html, and `/NAME.html` or `/NAME/`
 * redirected to `/NAME`; null for anything else (the API's), and for methods other than GET and HEAD.
 */
export async function webAssetServer(dir = WEB_ASSETS_DIR): Promise<(request: Request) => Response | null> {
  // `_headers` is wrangler's instructions, not a page: its headers go on every answer here instead.
  const names = (await readdir(dir)).filter((name) => name !== '_headers');
  const files = new Map<string, Buffer>(await Promise.all(names.map(async (name) => [`/${name}`, await readFile(join(dir, name))] as const)));
  return (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return null;
    const url = new URL(request.url);
    const path = url.pathname;
    const redirect = (to: string) => new Response(null, { status: 307, headers: { ...SECURITY_HEADERS, Location: `${to}${url.search}` } });
    if (path.endsWith('.html') && files.has(path)) return redirect(path === '/index.html' ? '/' : path.slice(0, -'.html'.length));
    if (path.length > 1 && path.endsWith('/') && files.has(`${path.slice(0, -1)}.html`)) return redirect(path.slice(0, -1));
    const name = path === '/' ? '/index.html' : files.has(path) ? path : `${path}.html`;
    const contents = files.get(name);
    if (!contents) return null;
    const headers = { ...SECURITY_HEADERS, 'Content-Type': CONTENT_TYPES[extname(name)] ?? 'application/octet-stream', 'Content-Length': String(contents.length) };
    return new Response(request.method === 'HEAD' ? null : new Uint8Array(contents), { headers });
  };
}
