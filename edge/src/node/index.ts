// Node-only parts of the edge (better-sqlite3, the file system, child processes): never imported by the Workers entry.
export { freePort, startDetached, waitForHttp, WRANGLER_OFFLINE_ENV, type DetachedProcess } from './local_server';
export { envFrom, nodeSha256, startNodeServer, type NodeServer, type NodeServerOptions } from './server';
export { fileBlobs, openNodeStorage, openSqlite, readMigrations, sqliteSql, type NodeStorage, type SqliteConnection, type SqliteSql } from './storage';
export { buildWebAssets, webAssetServer, WEB_ASSETS_DIR, WEB_DIR } from './web_assets';
export { SIMD_ENGINE_WASM_PATH, simdEngineModule } from './simd_module';
