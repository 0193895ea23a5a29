// `node --import tsx src/node/build_web.ts`: builds the page into web/dist (wrangler's [build] command).
import { buildWebAssets, WEB_ASSETS_DIR } from './web_assets';

const started = performance.now();
const files = await buildWebAssets();
console.log(`web assets: ${files.join(', ')} in ${WEB_ASSETS_DIR} (${Math.round(performance.now() - started)} ms)`);
