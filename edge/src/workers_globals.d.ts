// The Workers types that the generated Env (worker-configuration.d.ts) names as globals, taken from the module form of
// @cloudflare/workers-types: its global form would clash with Node's types, which the Node entry compiles against.
type D1Database = import('@cloudflare/workers-types').D1Database;
type R2Bucket = import('@cloudflare/workers-types').R2Bucket;
