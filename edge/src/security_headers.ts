// The headers on every answer of both entries: the API's through the app's middleware (app.ts), the page's through the
// `_headers` file the web build writes for wrangler's static assets (node/web_assets.ts). One list for both.

/** Same-origin scripts, styles and calls only; never framed, never sniffed into another type, no referrer sent out. */
export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** Wrangler's `_headers` file: the same headers on every static asset. */
export const assetHeadersFile = (): string => `/*\n${Object.entries(SECURITY_HEADERS).map(([name, value]) => `  ${name}: ${value}\n`).join('')}`;
