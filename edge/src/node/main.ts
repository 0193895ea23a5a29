// `pnpm --filter @seed/edge serve:node [--port P] [--host H] [--data DIR]`: the API and the page (built first, as
// `wrangler dev` does); settings come from the environment.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startNodeServer } from './server';
import { buildWebAssets, WEB_ASSETS_DIR } from './web_assets';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8788' },
    host: { type: 'string', default: '127.0.0.1' },
    data: { type: 'string', default: '.data/edge' },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a port number, not ${values.port}`);
  process.exit(2);
}
// pnpm runs the script in edge/: a relative --data is taken from where the command was typed.
const dataDir = resolve(process.env.INIT_CWD ?? process.cwd(), values.data);
await buildWebAssets();
const server = await startNodeServer({ port, host: values.host, dataDir, webAssetsDir: WEB_ASSETS_DIR });
console.log(`edge API on ${server.url} (data in ${dataDir})`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
