// The page's assets: web/static copied as they are, each web/src/*_page.ts bundled by esbuild and the security headers
// as wrangler's `_headers` file, into web/dist, which
// wrangler serves as static assets. wrangler runs this before `wrangler dev` and `wrangler deploy` ([build] in wrangler.toml).
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { assetHeadersFile } from '../security_headers';

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
