// End to end in a browser, on both entries: `pnpm dev` (wrangler dev) and `pnpm --filter @seed/edge serve:node`, each of
// which builds the page, driven by Debian's headless Chromium through playwright-core. Screenshots of each page go to
// test-artifacts/web/ENTRY/.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, startDetached, waitForHttp, WRANGLER_OFFLINE_ENV } from '@seed/edge/node';
import { toModelInput, inkFromRgba } from '@seed/edge/web/preprocess';
import { buildNetwork, initialParameters, SEED_ARCHITECTURE, writeModel } from '@seed/runtime/engine';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, json, modelFile, readExport } from './fixtures';
import { ROOT_DIR } from '@seed/scripts/lib/paths';
import { temporaryDir } from './support';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_HINT = `no Chromium at ${CHROMIUM}: run scripts/setup.sh (apt-get install chromium) or set CHROMIUM_PATH`;
const API_KEY = 'page-test-key';
/** How each entry is started on a port, over a state folder, with the admin token and one API key. */
const ENTRIES = {
  wrangler: async (port: number, stateDir: string) =>
    startDetached(
      'pnpm',
      ['dev', '--port', String(port), '--inspector-port', String(await freePort()), '--persist-to', stateDir, '--var', `ADMIN_TOKEN:${ADMIN_TOKEN}`, '--var', `API_KEYS:${API_KEY}`],
      { cwd: ROOT_DIR, env: WRANGLER_OFFLINE_ENV },
    ),
  node: async (port: number, stateDir: string) =>
    startDetached('pnpm', ['--filter', '@seed/edge', 'serve:node', '--port', String(port), '--data', stateDir], { cwd: ROOT_DIR, env: { ADMIN_TOKEN, API_KEYS: API_KEY } }),
};

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (process.env.CI) throw new Error(`CI needs Chromium for the page test: ${CHROMIUM_HINT}`);
  console.warn(`skipping the page test: ${CHROMIUM_HINT}`);
}

/** Strokes through points given as fractions of the pad, drawn with the mouse. */
async function drawStrokes(page: Page, strokes: [number, number][][]): Promise<void> {
  const box = await page.locator('#pad').boundingBox();
  if (!box) throw new Error('the pad is not visible');
  for (const stroke of strokes) {
    const [first, ...rest] = stroke.map(([x, y]) => [box.x + x * box.width, box.y + y * box.height] as const);
    await page.mouse.move(...first);
    await page.mouse.down();
    for (const point of rest) await page.mouse.move(...point, { steps: 8 });
    await page.mouse.up();
  }
}

/** The few browser types used by code that runs in the page (this test is compiled without the DOM library). */
interface CanvasInPage {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, width: number, height: number): { data: ArrayLike<number> } };
}

/** A canvas's RGBA pixels, read in the page. */
function canvasPixels(page: Page, selector: string): Promise<{ width: number; height: number; data: number[] }> {
  return page.locator(selector).evaluate((canvas: CanvasInPage) => ({
    width: canvas.width,
    height: canvas.height,
    data: Array.from(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data),
  }));
}

describe.skipIf(!haveChromium).each(Object.keys(ENTRIES) as (keyof typeof ENTRIES)[])('the page in Chromium on %s', (entry) => {
  const ARTIFACTS = join(ROOT_DIR, 'test-artifacts/web', entry);
  let state: Awaited<ReturnType<typeof temporaryDir>>;
  let profile: Awaited<ReturnType<typeof temporaryDir>>;
  let server: ReturnType<typeof startDetached>;
  let browser: BrowserContext;
  let url: string;
  /** Every URL the pages asked for, and every uncaught error or Content-Security-Policy refusal in them. */
  const requested: string[] = [];
  const pageErrors: string[] = [];

  const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };

  async function exportedEvents() {
    return (await readExport(await fetch(`${url}/v1/events`, { headers: admin }))).events;
  }

  async function openPage(path: string): Promise<Page> {
    const page = await browser.newPage();
    page.on('request', (request) => requested.push(request.url()));
    page.on('pageerror', (error) => pageErrors.push(`${path}: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && message.text().includes('Content Security Policy')) pageErrors.push(`${path}: ${message.text()}`);
    });
    await page.goto(`${url}${path}`);
    return page;
  }

  beforeAll(async () => {
    [state, profile] = await Promise.all([temporaryDir('web-state'), temporaryDir('chromium-profile')]);
    const port = await freePort();
    server = await ENTRIES[entry](port, state.path);
    url = `http://127.0.0.1:${port}`;
    const [, context] = await Promise.all([
      waitForHttp(`${url}/health`, server, 90_000),
      // An empty profile, and nothing that reaches out: no component updates, sync or background requests.
      chromium.launchPersistentContext(profile.path, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
        viewport: { width: 1100, height: 1000 },
      }),
      mkdir(ARTIFACTS, { recursive: true }),
    ]);
    browser = context;
    // v2 carries the metrics evolve writes: the registry page shows them.
    const network = buildNetwork(SEED_ARCHITECTURE);
    const v2 = await writeModel(network, initialParameters(network, 2), {
      version: 'v2', parent: 'v1', created: '2026-04-02T00:00:00.000Z', metrics: { testAccuracy: 0.915, offPolicy: { snips: { value: 0.7, lower: 0.65, upper: 0.75 } } },
    });
    for (const [version, file] of [['v1', await modelFile('v1')], ['v2', v2]] as const) {
      expect((await fetch(`${url}/v1/models/${version}`, { method: 'PUT', headers: admin, body: file })).status).toBe(201);
    }
    expect((await fetch(`${url}/v1/models/v1/promote`, { method: 'POST', headers: admin })).status).toBe(200);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop('SIGTERM');
    await Promise.all([state?.remove(), profile?.remove()]);
  });

  it('/: draw, predict with the API key asked for once, reward right, refuse a second different reward; the export has it all', async () => {
    const page = await openPage('/');
    expect(await page.title()).toBe('seed · draw a digit');
    await page.click('#predict');
    await expect.poll(() => page.locator('#error').textContent()).toBe('the drawing is empty: draw a digit first');

    // A 7: the top bar, then the diagonal.
    await drawStrokes(page, [[[0.25, 0.2], [0.75, 0.2], [0.45, 0.85]]]);
    const preview = await canvasPixels(page, '#preview');
    expect(preview.data.some((value, i) => i % 4 === 0 && value > 0)).toBe(true);
    const expectedInput = toModelInput(inkFromRgba(await canvasPixels(page, '#pad')));

    // The API wants a key: the page asks for it, keeps it, and goes on.
    await page.click('#predict');
    await page.locator('#key-form').waitFor({ state: 'visible' });
    await expect.poll(() => page.locator('#key-reason').textContent()).toContain('This API needs a key');
    await page.fill('#key', API_KEY);
    await page.press('#key', 'Enter');
    await page.locator('#result').waitFor({ state: 'visible' });
    // Kept for this tab only: nothing in local storage, where it would outlive the tab.
    expect(await page.evaluate("sessionStorage.getItem('seed.apiKey')")).toBe(API_KEY);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    const shown = {
      action: Number(await page.locator('#action').textContent()),
      version: await page.locator('#model-version').textContent(),
      eventId: (await page.locator('#event-id').textContent()) as string,
    };
    expect(shown.version).toBe('v1');
    expect(await page.locator('#chart .bar').count()).toBe(10);
    expect(await page.locator('#chart .bar.chosen .digit').textContent()).toBe(String(shown.action));

    await page.click('#right');
    await expect.poll(() => page.locator('#status').textContent()).toContain('reward 1 (right) recorded');
    await page.click('#wrong');
    await expect.poll(() => page.locator('#error').textContent()).toBe(`event ${shown.eventId} already has a different reward`);
    await page.screenshot({ path: join(ARTIFACTS, 'draw.png'), fullPage: true });

    const [event] = await exportedEvents();
    expect(event).toMatchObject({ eventId: shown.eventId, modelVersion: 'v1', action: shown.action, reward: 1, rewardSource: 'client' });
    // What was logged is the page's preprocessed drawing (quantised to bytes by the API).
    expect(event.pixels).toEqual(Array.from(expectedInput, (value) => Math.round(value * 255) / 255));

    // On the next visit the key is not asked for again; the keyboard draws as well as the mouse.
    await page.reload();
    await page.focus('#pad');
    await page.keyboard.press('Space');
    for (let i = 0; i < 12; i++) await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Space');
    await page.keyboard.press('Enter');
    await page.locator('#result').waitFor({ state: 'visible' });
    expect(await page.locator('#key-form').isHidden()).toBe(true);
    const secondId = await page.locator('#event-id').textContent();
    expect(secondId).not.toBe(shown.eventId);
    await page.click('#wrong');
    await expect.poll(() => page.locator('#status').textContent()).toContain('reward 0 (wrong) recorded');
    expect((await exportedEvents()).map((e) => [e.eventId, e.reward])).toEqual([[shown.eventId, 1], [secondId, 0]]);

    // Phone width: everything fits, nothing scrolls sideways.
    await page.setViewportSize({ width: 375, height: 800 });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    await page.screenshot({ path: join(ARTIFACTS, 'draw-phone.png'), fullPage: true });
    await page.close();
  });

  it('/models: asks for a token; versions with parent, metrics and online reward, a chart; promote and roll back with the admin token', async () => {
    const page = await openPage('/models');
    await expect.poll(() => page.locator('#error').textContent()).toBe('The registry needs a reader key or the admin token: enter one below.');
    expect(await page.locator('#admin-actions').isHidden()).toBe(true);
    await page.fill('#admin-token', ADMIN_TOKEN);
    await page.click('#admin-form button[type="submit"]');
    const rows = page.locator('#models tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(2);
    const [v1, v2] = [rows.nth(0), rows.nth(1)];
    expect(await v1.locator('th').textContent()).toBe('v1');
    expect(await v1.locator('.badge').textContent()).toBe('active');
    expect(await v1.locator('td[data-label="Online reward"]').textContent()).toBe('mean 0.500 (2 predictions, 2 rewarded)');
    expect(await v2.locator('td[data-label="Parent"]').textContent()).toBe('v1');
    expect(await v2.locator('td[data-label="Online reward"]').textContent()).toBe('not served');
    expect(await v2.locator('td[data-label="Test accuracy"]').textContent()).toBe('91.5%');
    expect(await v2.locator('td[data-label="Off-policy estimate"]').textContent()).toBe('0.700 [0.650, 0.750]');
    // Points: v1's online reward, v2's accuracy and off-policy estimate.
    expect(await page.locator('#chart svg circle').count()).toBe(3);
    await page.screenshot({ path: join(ARTIFACTS, 'models.png'), fullPage: true });

    await page.click('text=Promote v2');
    await expect.poll(() => page.locator('#status').textContent()).toBe('v2 is now the active model.');
    expect((await json(await fetch(`${url}/v1/model`))).version).toBe('v2');
    await expect.poll(() => v2.locator('.badge').textContent()).toBe('active');
    await page.click('#rollback');
    await expect.poll(() => page.locator('#status').textContent()).toBe('v1 is now the active model.');
    expect((await json(await fetch(`${url}/v1/model`))).version).toBe('v1');
    await page.click('#rollback');
    await expect.poll(() => page.locator('#error').textContent()).toBe('there is no earlier promoted model to roll back to');

    await page.setViewportSize({ width: 375, height: 800 });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    await page.screenshot({ path: join(ARTIFACTS, 'models-phone.png'), fullPage: true });
    await page.close();
  });

  it('/docs: the API reference from /openapi.json, every route listed, under the page\'s CSP', async () => {
    const page = await openPage('/docs');
    expect(await page.title()).toBe('seed · API reference');
    const document = await json(await fetch(`${url}/openapi.json`));
    const operations = Object.values(document.paths as Record<string, object>).flatMap((methods) => Object.keys(methods));
    await expect.poll(() => page.locator('.opblock').count()).toBe(operations.length);
    expect(await page.locator('.opblock-summary-path', { hasText: '/v1/predict' }).count()).toBe(1);
    expect(await page.locator('.info .title').textContent()).toContain(document.info.title);
    await page.screenshot({ path: join(ARTIFACTS, 'docs.png'), fullPage: true });
    await page.close();
  });

  it('loads nothing from anywhere else, and no page threw', () => {
    expect(requested.length).toBeGreaterThan(0);
    expect(requested.filter((address) => !address.startsWith(`${url}/`))).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
