// The page at /models: the registry's versions with their lineage and metrics, a chart per generation (the listing
// needs a reader key or the admin token), and with the admin token, promotion and rollback.
import { ApiClient, type ActiveModel, type ModelListing, type ModelSummary } from '@seed/client';
import { generationChart } from './charts';
import { element, make, showStatus, whileBusy } from './dom';

/** A reader key or the admin token, kept for this tab only. */
const TOKEN_ITEM = 'seed.adminToken';

const table = element('#models tbody', HTMLTableSectionElement);
const adminForm = element('#admin-form', HTMLFormElement);
const tokenInput = element('#admin-token', HTMLInputElement);
const adminActions = element('#admin-actions', HTMLElement);
const rollbackButton = element('#rollback', HTMLButtonElement);
const refreshButton = element('#refresh', HTMLButtonElement);

const adminToken = () => sessionStorage.getItem(TOKEN_ITEM);

/** A number inside the metrics JSON, or null when the path does not lead to one. */
function metric(metrics: Record<string, unknown>, ...path: string[]): number | null {
  let value: unknown = metrics;
  for (const key of path) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

const percent = (value: number | null) => (value === null ? '–' : `${(value * 100).toFixed(1)}%`);

function offPolicyText(model: ModelSummary): string {
  const [value, lower, upper] = ['value', 'lower', 'upper'].map((key) => metric(model.metrics, 'offPolicy', 'snips', key));
  if (value === null) return '–';
  return lower === null || upper === null ? value.toFixed(3) : `${value.toFixed(3)} [${lower.toFixed(3)}, ${upper.toFixed(3)}]`;
}

function onlineText({ online }: ModelSummary): string {
  if (online.predictions === 0) return 'not served';
  const mean = online.rewardMean === null ? 'no settled reward yet' : `mean ${online.rewardMean.toFixed(3)}`;
  return `${mean} (${online.predictions} predictions, ${online.rewards} rewarded)`;
}

function cell(label: string, content: string | Node): HTMLTableCellElement {
  const created = make('td', undefined, { 'data-label': label });
  created.append(content);
  return created;
}

function row(model: ModelSummary, canAdminister: boolean): HTMLTableRowElement {
  const created = new Date(model.created);
  const time = make('time', Number.isNaN(created.getTime()) ? model.created : created.toLocaleString(), { datetime: model.created });
  const status = make('span');
  if (model.active) status.append(make('strong', 'active', { class: 'badge' }));
  else if (canAdminister) {
    const promote = make('button', `Promote ${model.version}`, { type: 'button' });
    promote.addEventListener('click', () => whileBusy(promote, () => administer((client) => client.promote(model.version))));
    status.append(promote);
  }
  const tr = make('tr', undefined, model.active ? { class: 'active' } : {});
  tr.append(
    make('th', model.version, { scope: 'row' }),
    cell('Parent', model.parent || '–'),
    cell('Created', time),
    cell('Test accuracy', percent(metric(model.metrics, 'testAccuracy'))),
    cell('Off-policy estimate', offPolicyText(model)),
    cell('Online reward', onlineText(model)),
    cell('Status', status),
  );
  return tr;
}

let shownListing: ModelListing | null = null;

function drawChart(): void {
  const chart = element('#chart', HTMLElement);
  const models = shownListing?.models ?? [];
  if (models.length === 0) return chart.replaceChildren();
  chart.replaceChildren(
    generationChart(
      models.map((model) => model.version),
      [
        { name: 'test accuracy', className: 'accuracy', values: models.map((model) => metric(model.metrics, 'testAccuracy')) },
        { name: 'online reward (mean)', className: 'reward', values: models.map((model) => model.online.rewardMean) },
        { name: 'off-policy estimate', className: 'estimate', values: models.map((model) => metric(model.metrics, 'offPolicy', 'snips', 'value')) },
      ],
      'Test accuracy, mean online reward and off-policy estimate per generation',
      Math.max(300, Math.min(chart.clientWidth, 960)),
    ),
  );
}

async function load(): Promise<void> {
  if (adminToken() === null) {
    adminActions.hidden = true;
    return showStatus('The registry needs a reader key or the admin token: enter one below.', 'error');
  }
  const listing = await new ApiClient(location.origin, { readKey: adminToken() }).models();
  const canAdminister = adminToken() !== null;
  table.replaceChildren(...listing.models.map((model) => row(model, canAdminister)));
  element('#empty', HTMLElement).hidden = listing.models.length > 0;
  shownListing = listing;
  drawChart();
  adminActions.hidden = !canAdminister;
  rollbackButton.disabled = !listing.active;
  const active = listing.active ? `${listing.active} is active` : 'no model is active';
  showStatus(`${listing.models.length} ${listing.models.length === 1 ? 'version' : 'versions'} in the registry; ${active}.`);
}

/** An admin call (promote, roll back), then the registry again. */
async function administer(call: (client: ApiClient) => Promise<ActiveModel>): Promise<void> {
  const active = await call(new ApiClient(location.origin, { adminToken: adminToken() }));
  await load();
  showStatus(`${active.version} is now the active model.`);
}

adminForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = tokenInput.value.trim();
  if (!token) return showStatus('enter the admin token first', 'error');
  sessionStorage.setItem(TOKEN_ITEM, token);
  tokenInput.value = '';
  void whileBusy(refreshButton, async () => {
    await load();
    showStatus('Token kept for this tab; with the admin token, promote a version or roll back.');
  });
});
element('#forget-token', HTMLButtonElement).addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_ITEM);
  void whileBusy(refreshButton, load);
});
rollbackButton.addEventListener('click', () => whileBusy(rollbackButton, () => administer((client) => client.rollback())));
refreshButton.addEventListener('click', () => whileBusy(refreshButton, load));
let chartWidth = 0;
new ResizeObserver(([entry]) => {
  // Redrawn when the page's width changes, not when the chart's own new height does.
  if (Math.round(entry.contentRect.width) === chartWidth) return;
  chartWidth = Math.round(entry.contentRect.width);
  drawChart();
}).observe(element('#chart', HTMLElement));

void whileBusy(refreshButton, load);
